"""The dead-letter-rate check on citizen_events: fails when too many records of the last runs were dead-lettered.

Each scoring run records ``records`` and ``dead_lettered`` on its events_archive materialization (a run over
citizen-effects, on its score_snapshots materialization); the check sums the last ``dead_letter_window`` of
them. Every scoring run evaluates it after writing (so it follows the stream without a schedule), and it can
be run from the UI as any asset check.
"""

import dagster as dg

from ddss_platform.defs.asset_keys import CITIZEN_EVENTS_ASSET, EVENTS_ARCHIVE_ASSET, SCORE_SNAPSHOTS_ASSET
from ddss_platform.defs.streaming.resources import ScoringTuning

CHECK_NAME = "dead_letter_rate"


def _recent_counts(instance: dg.DagsterInstance, window: int, skip_run: str | None) -> tuple[int, int, int]:
    """(runs, records, dead-lettered) over the last ``window`` scoring-run materializations."""
    found = [
        record
        for key in (EVENTS_ARCHIVE_ASSET, SCORE_SNAPSHOTS_ASSET)
        for record in instance.fetch_materializations(dg.AssetKey(key), limit=window + 1).records
    ]
    runs = records = dead = 0
    for record in sorted(found, key=lambda r: -r.storage_id):  # newest first, over both assets
        if record.run_id == skip_run or runs == window:
            continue
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        if "records" not in metadata or "dead_lettered" not in metadata:
            continue  # a materialization from somewhere else (e.g. a backfill), not a scoring run
        runs += 1
        records += metadata["records"].value
        dead += metadata["dead_lettered"].value
    return runs, records, dead


def dead_letter_evaluation(
    instance: dg.DagsterInstance, tuning: ScoringTuning, latest=None, run_id: str | None = None
) -> dg.AssetCheckEvaluation:
    """The check's result now. ``latest`` (a RangeResult) is the run ``run_id`` being finished, counted
    from the result whether or not its materialization is in storage yet."""
    runs, records, dead = _recent_counts(instance, tuning.dead_letter_window - (latest is not None), run_id)
    if latest is not None:
        runs, records, dead = runs + 1, records + latest.records, dead + latest.dead_lettered
    rate = dead / records if records else 0.0
    passed = rate <= tuning.dead_letter_threshold
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(CITIZEN_EVENTS_ASSET),
        check_name=CHECK_NAME,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{dead} of {records} records ({rate:.2%}) dead-lettered in the last {runs} runs; "
            f"threshold {tuning.dead_letter_threshold:.0%}"
        ),
        metadata={
            "runs": runs,
            "records": records,
            "dead_lettered": dead,
            "rate": rate,
            "threshold": tuning.dead_letter_threshold,
        },
    )


@dg.asset_check(
    asset=CITIZEN_EVENTS_ASSET,
    name=CHECK_NAME,
    description="Fails when the share of dead-lettered records in the last scoring runs passes a threshold.",
)
def dead_letter_rate(context: dg.AssetCheckExecutionContext, scoring: ScoringTuning) -> dg.AssetCheckResult:
    evaluation = dead_letter_evaluation(context.instance, scoring)
    return dg.AssetCheckResult(
        passed=evaluation.passed,
        severity=evaluation.severity,
        description=evaluation.description,
        metadata=evaluation.metadata,
    )
