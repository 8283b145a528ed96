"""Checks on what the scoring runs wrote: snapshot scores and tiers against the active configuration, and the
archive's events per day against the counts the runs reported."""

from collections import Counter
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from ddss_platform.defs.asset_keys import EVENTS_ARCHIVE_ASSET, SCORE_SNAPSHOTS_ASSET
from ddss_platform.defs.lineage import materializations
from ddss_platform.defs.metadata import preview_table
from ddss_platform.defs.resources import StoresResource
from ddss_platform.scoring import ScoringConfig, load_configuration

# the events_archive materialization metadata a score_events run writes (ddss_platform.defs.streaming.job)
RUN_RECORDS, RUN_DEAD_LETTERED, RUN_EVENTS_BY_DAY = "records", "dead_lettered", "events_by_day"


def _configuration_and_snapshots(stores: StoresResource) -> tuple[ScoringConfig, pd.DataFrame]:
    with stores.documents() as documents:
        config = load_configuration(documents.load_active_configuration())
        snapshots = documents.all_snapshots()
    return config, snapshots


@dg.asset_check(
    asset=SCORE_SNAPSHOTS_ASSET,
    description="Every citizen's current score lies within the active configuration's bounds.",
    blocking=False,
)
def scores_within_bounds(stores: StoresResource) -> dg.AssetCheckResult:
    config, snapshots = _configuration_and_snapshots(stores)
    score = snapshots["score"].astype(float)
    bad = snapshots[~score.between(config.min_score, config.max_score)]
    bounds = f"[{config.min_score:g}, {config.max_score:g}]"
    message = (
        f"all {len(snapshots)} scores lie within {bounds}"
        if bad.empty
        else f"{len(bad)} of {len(snapshots)} scores lie outside {bounds}, e.g. {bad.iloc[0]['nationalID']} "
        f"at {bad.iloc[0]['score']}"
    )
    return dg.AssetCheckResult(
        passed=bad.empty,
        description=message,
        metadata={
            "citizens": len(snapshots),
            "out_of_bounds": len(bad),
            "lowest": float(score.min()) if len(score) else None,
            "highest": float(score.max()) if len(score) else None,
            **({"examples": preview_table(bad[["nationalID", "score", "tier"]])} if not bad.empty else {}),
        },
    )


@dg.asset_check(
    asset=SCORE_SNAPSHOTS_ASSET,
    description="Every citizen's tier is the one the active configuration's tier definitions give its score.",
    blocking=False,
)
def tier_matches_score(stores: StoresResource) -> dg.AssetCheckResult:
    config, snapshots = _configuration_and_snapshots(stores)
    expected = snapshots["score"].astype(float).map(config.tier_for)
    bad = snapshots.assign(expected_tier=expected)[snapshots["tier"] != expected]
    message = (
        f"all {len(snapshots)} tiers match their scores"
        if bad.empty
        else f"{len(bad)} of {len(snapshots)} tiers do not match their scores, e.g. {bad.iloc[0]['nationalID']}: "
        f"score {bad.iloc[0]['score']} is {bad.iloc[0]['expected_tier']}, stored {bad.iloc[0]['tier']}"
    )
    return dg.AssetCheckResult(
        passed=bad.empty,
        description=message,
        metadata={
            "citizens": len(snapshots),
            "mismatched": len(bad),
            "per_tier": {str(k): int(v) for k, v in snapshots["tier"].value_counts().items()},
            **(
                {"examples": preview_table(bad[["nationalID", "score", "tier", "expected_tier"]])}
                if not bad.empty
                else {}
            ),
        },
    )


def _scoring_run_materializations(instance: dg.DagsterInstance) -> Iterator[dict]:
    """The metadata of every events_archive materialization (one per score_events run that wrote)."""
    for record in materializations(instance, EVENTS_ARCHIVE_ASSET):
        yield {k: v.value for k, v in record.asset_materialization.metadata.items()}


def reported_events(instance: dg.DagsterInstance) -> tuple[int, int, Counter | None]:
    """(runs, events the runs decoded — scored + no rule + unknown citizen —, the same per event day when every
    run reports it, else None)."""
    runs, total, by_day, per_day_complete = 0, 0, Counter(), True
    for metadata in _scoring_run_materializations(instance):
        runs += 1
        total += int(metadata.get(RUN_RECORDS, 0)) - int(metadata.get(RUN_DEAD_LETTERED, 0))
        if RUN_EVENTS_BY_DAY in metadata:
            by_day.update({day: int(n) for day, n in metadata[RUN_EVENTS_BY_DAY].items()})
        else:
            per_day_complete = False
    return runs, total, by_day if per_day_complete else None


@dg.asset_check(
    asset=EVENTS_ARCHIVE_ASSET,
    description="The archive's distinct events per day equal the scored + no-rule + unknown-citizen events the "
    "score_events runs reported (per event day when the runs report days, otherwise in total).",
    blocking=False,
)
def archive_matches_scoring_runs(context: dg.AssetCheckExecutionContext, stores: StoresResource) -> dg.AssetCheckResult:
    with stores.archive() as archive:
        archived = archive.count_by_day()
    runs, reported, reported_by_day = reported_events(context.instance)
    archived_total = sum(archived.values())
    per_day = pd.DataFrame({"archived": pd.Series(archived, dtype="int64")})
    if reported_by_day is not None:
        per_day["reported"] = pd.Series(reported_by_day, dtype="int64")
        per_day = per_day.fillna(0).astype("int64")
        wrong = per_day[per_day["archived"] != per_day["reported"]]
        passed = wrong.empty and archived_total == reported
        message = (
            f"{archived_total} archived events over {len(per_day)} days match the {runs} runs' reports day by day"
            if passed
            else f"{len(wrong)} days differ, e.g. {wrong.index[0]}: {wrong.iloc[0]['archived']} archived, "
            f"{wrong.iloc[0]['reported']} reported by the runs"
        )
    else:
        passed = archived_total == reported
        message = (
            f"{archived_total} archived events over {len(per_day)} days"
            + (" match" if passed else f" but {reported}")
            + f" scored + no-rule + unknown-citizen events reported by {runs} runs (the runs report no per-day "
            "counts, so totals are compared)"
        )
    return dg.AssetCheckResult(
        passed=passed,
        description=message,
        metadata={
            "archived_events": archived_total,
            "reported_events": reported,
            "scoring_runs": runs,
            "per_day": preview_table(per_day.rename_axis("day").reset_index(), rows=60),
        },
    )


SCORING_OUTPUT_CHECKS = [scores_within_bounds, tier_matches_score, archive_matches_scoring_runs]
