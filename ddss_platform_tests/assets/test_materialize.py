"""End to end on the embedded profile: every asset of the world's days materialized from the Dagster CLI, every
check passes, the Spark aggregates equal an independent pandas computation, and the lineage reads back."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd
import pyarrow.dataset as ds
import pytest

from ddss_platform.defs.dagster_instance import open_instance
from ddss_platform.events.topics import CITIZEN_EFFECTS, SCORED_TOPICS
from ddss_platform.scoring import load_configuration
from ddss_platform.stores import open_stores
from ddss_platform.stores.archive import CREDIT_SCORE_AGGREGATES, DAY_MS, EVENTS_SUMMARY, day_start_ms, open_archive
from ddss_platform.stores.documents import open_documents
from ddss_platform_tests.assets.conftest import CODE, dagster, ddss
from ddss_platform_tests.spark.pandas_reference import (
    assert_same,
    citizens_at_day_end,
    expected_credit_scores,
    expected_events_summary,
)

pytestmark = pytest.mark.slow

DAILY_ASSETS = [
    CREDIT_SCORE_AGGREGATES,
    EVENTS_SUMMARY,
    "citizen_summary_daily",
    "system_aggregates_daily",
    "graph_derived_metrics",
]
EXPECTED_CHECKS = {
    "scores_within_bounds",
    "tier_matches_score",
    "archive_matches_scoring_runs",
    "citizen_counts_match_snapshots",
    "dead_letter_rate",
}


@pytest.fixture(scope="module")
def materialized(world):
    dagster(world, "asset", "materialize", "-m", CODE, "--select", "flux_tasks,social_graph")
    for day in world.days:
        dagster(world, "asset", "materialize", "-m", CODE, "--select", ",".join(DAILY_ASSETS), "--partition", day)
    hours = f"{world.days[0]}-00:00...{world.days[-1]}-23:00"
    dagster(
        world, "asset", "materialize", "-m", CODE, "--select", "citizen_activity_hourly", "--partition-range", hours
    )
    dagster(
        world,
        "asset",
        "materialize",
        "-m",
        CODE,
        "--select",
        "system_aggregates_monthly",
        "--partition",
        world.days[0][:8] + "01",
    )
    dagster(world, "job", "execute", "-m", CODE, "-j", "scoring_output_checks")
    return world


def check_evaluations(instance: dg.DagsterInstance) -> list:
    evaluations = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluations.append(entry.dagster_event.event_specific_data)
    return evaluations


def test_every_asset_of_the_days_is_materialized(materialized):
    instance = open_instance(materialized.settings)
    try:
        for key in DAILY_ASSETS:
            assert set(materialized.days) <= instance.get_materialized_partitions(dg.AssetKey(key)), key
        hours = instance.get_materialized_partitions(dg.AssetKey("citizen_activity_hourly"))
        assert len(hours) == 24 * len(materialized.days)
        for key in ("flux_tasks", "social_graph", "system_aggregates_monthly"):
            assert instance.get_latest_materialization_event(dg.AssetKey(key)) is not None, key
    finally:
        instance.dispose()


def test_every_check_passes(materialized):
    instance = open_instance(materialized.settings)
    try:
        evaluations = check_evaluations(instance)
    finally:
        instance.dispose()
    assert EXPECTED_CHECKS <= {e.check_name for e in evaluations}
    failed = [(e.asset_key.to_user_string(), e.check_name, e.description) for e in evaluations if not e.passed]
    assert not failed, failed
    per_day = [e for e in evaluations if e.check_name == "citizen_counts_match_snapshots"]
    assert len(per_day) == len(materialized.days)


def parquet_dataset(settings, name: str) -> pd.DataFrame:
    """A whole Parquet dataset of the embedded archive, read straight from its files."""
    return ds.dataset(str(settings.home / "archive" / name), format="parquet").to_table().to_pandas()


def archive_day(settings, day: str) -> pd.DataFrame:
    """Every archived row of the day, replays included, read straight from the Parquet files."""
    folder = settings.home / "archive" / "events_archive" / f"event_date={day}"
    return ds.dataset(str(folder), format="parquet").to_table().to_pandas()


def test_aggregates_equal_an_independent_pandas_computation(materialized):
    documents = open_documents(materialized.settings)
    try:
        snapshots = documents.all_snapshots()
        config = load_configuration(documents.load_active_configuration())
    finally:
        documents.close()
    citizens = snapshots.rename(columns={"nationalID": "national_id"})[["national_id", "region", "score", "tier"]]
    history = parquet_dataset(materialized.settings, "citizen_score_history")
    every_event = parquet_dataset(materialized.settings, "events_archive")
    archive = open_archive(materialized.settings)
    try:
        for day in materialized.days:
            events = archive_day(materialized.settings, day)
            assert len(events) > 0
            credit = archive.read_aggregates(CREDIT_SCORE_AGGREGATES, start_day=day, end_day=day)
            summary = archive.read_aggregates(EVENTS_SUMMARY, start_day=day, end_day=day)
            then = citizens_at_day_end(citizens, history, every_event, day_start_ms(day) + DAY_MS, config.tier_for)
            assert_same(credit, expected_credit_scores(events, then))
            assert_same(summary, expected_events_summary(events))
    finally:
        archive.close()


def test_lineage_reads_back_to_the_topic_offsets(materialized):
    day = materialized.days[1]
    result = ddss(materialized, "lineage", CREDIT_SCORE_AGGREGATES, day, "--json")
    assert result.returncode == 0, result.stderr
    lineage = json.loads(result.stdout)
    assert lineage["partition"] == day
    assert [i["asset"] for i in lineage["inputs"]] == ["events_archive", "score_snapshots"]
    assert all(i["data_version"] for i in lineage["inputs"])
    rows = archive_day(materialized.settings, day)
    assert lineage["archive"]["rows"] == len(rows)
    offsets = {
        (o["topic"], o["partition"]): (o["first_offset"], o["last_offset"]) for o in lineage["archive"]["offsets"]
    }
    expected = rows.groupby(["topic", "partition"])["offset"].agg(["min", "max"])
    assert offsets == {k: (int(v["min"]), int(v["max"])) for k, v in expected.iterrows()}
    for (topic, partition), (first, last) in offsets.items():  # every offset range is covered by the runs found
        runs = [r for r in lineage["scoring_runs"] if (r["topic"], r["partition"]) == (topic, partition)]
        assert runs and min(r["start"] for r in runs) <= first and max(r["end"] for r in runs) > last
    assert lineage["spark"]["app_id"] and lineage["code_version"]
    # the snapshots it joined held every range of both scored topics, the association effects included
    with open_stores(materialized.settings) as ports:
        applied = {(topic, p): end for topic in SCORED_TOPICS for p, end in ports.bus.end_offsets(topic).items()}
    assert {(o["topic"], o["partition"]): o["committed"] for o in lineage["snapshot_offsets"]} == applied
    assert any(end > 0 for (topic, _p), end in applied.items() if topic == CITIZEN_EFFECTS)

    text = ddss(materialized, "lineage", CREDIT_SCORE_AGGREGATES, day)
    assert (
        "<- inputs" in text.stdout
        and "citizen-events/0 offsets" in text.stdout
        and "written by score_events run" in text.stdout
        and "<- citizen-effects/0 up to offset" in text.stdout
    )


def test_lineage_of_an_unmaterialized_partition_is_a_clear_error(materialized):
    result = ddss(materialized, "lineage", CREDIT_SCORE_AGGREGATES, "2030-01-01")
    assert result.returncode == 1
    assert "has not been materialized" in result.stderr
