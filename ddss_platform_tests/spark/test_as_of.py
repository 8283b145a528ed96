"""Past-day credit score aggregates are computed as of the end of their day: materializing a day twice, with later
days scored in between, gives the same rows."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd
import pytest

from ddss_platform.cli.store_commands import SEED_DIR
from ddss_platform.defs.aggregates.assets import spark_daily_aggregates
from ddss_platform.defs.resources import StoresResource
from ddss_platform.events.simulator import CitizenEventSimulator
from ddss_platform.events.topics import CITIZEN_EVENTS
from ddss_platform.processing import process_backlog
from ddss_platform.scoring import load_configuration
from ddss_platform.spark.aggregation import run_day
from ddss_platform.spark.as_of import scores_at_day_end
from ddss_platform.spark.session import spark_session
from ddss_platform.stores import open_stores
from ddss_platform.stores.archive import CREDIT_SCORE_AGGREGATES, DAY_MS, EVENTS_SUMMARY, day_start_ms
from ddss_platform_tests.recent import recent_days
from ddss_platform_tests.streaming.support import seed_stores, settings_for

CITIZENS = 300
HOUR_MS = 3_600_000
(DAY,) = recent_days(1)
DAY_END_MS = day_start_ms(DAY) + DAY_MS


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", "ddss-test-as-of")
    yield session
    session.stop()


def test_scores_at_the_day_end_take_back_the_later_changes_and_leave_out_later_citizens():
    # tiers of the seed configuration: Caution [300, 450), Standard [450, 600), Exemplary [600, 1000]
    config = load_configuration(json.loads((SEED_DIR / "system_configuration.json").read_text()))
    current = pd.DataFrame(
        {
            "national_id": ["A", "B", "C"],
            "region": ["North", "South", "North"],
            "score": [460.1, 440.0, 500.0],
            "tier": ["Standard", "Caution", "Standard"],
        }
    )
    later = pd.Series({"A": 20.2, "B": -30.0})  # A moved up since the day, B down: A was Caution, B Standard
    frame = scores_at_day_end(current, later, ["C"], config)
    assert frame.to_dict("records") == [
        {"national_id": "A", "region": "North", "score": 439.9, "tier": "Caution"},
        {"national_id": "B", "region": "South", "score": 470.0, "tier": "Standard"},
    ]


def produce_until(settings, simulator: CitizenEventSimulator, until_ms: int) -> list[dict]:
    """The simulator's next events up to ``until_ms``, produced to citizen-events; the events."""
    events = []
    while not events or events[-1]["timestamp"] < until_ms:
        events.append(simulator.next_event())
    with open_stores(settings) as stores:
        stores.bus.produce(CITIZEN_EVENTS, [(e["citizenId"], stores.codec.encode(e)) for e in events])
        process_backlog(stores)
    return events


def day_rows(settings) -> dict[str, pd.DataFrame]:
    with open_stores(settings) as stores:
        return {
            table: stores.archive.read_aggregates(table, start_day=DAY, end_day=DAY).drop(columns=["last_updated"])
            for table in (CREDIT_SCORE_AGGREGATES, EVENTS_SUMMARY)
        }


def snapshot_scores(settings) -> dict[str, float]:
    with open_stores(settings) as stores:
        frame = stores.documents.all_snapshots()
    return dict(zip(frame["nationalID"], frame["score"]))


@pytest.mark.slow  # a Spark session
def test_a_past_day_materialized_again_after_later_days_were_scored_gives_the_same_rows(tmp_path, spark):
    settings = settings_for(tmp_path / "ddss", partitions=2)
    seed_stores(settings, CITIZENS)
    simulator = CitizenEventSimulator(CITIZENS, seed=3, start_ms=day_start_ms(DAY) + 18 * HOUR_MS)
    first = produce_until(settings, simulator, DAY_END_MS + 4 * HOUR_MS)  # the day, and a little of the next
    registered_by_day_end = sum(1 for e in first if e["eventType"] == "new_citizen" and e["timestamp"] < DAY_END_MS)

    first_run = run_day(settings, DAY, spark)
    rows = day_rows(settings)
    scores = snapshot_scores(settings)
    assert first_run.citizens_at_day_end == CITIZENS + registered_by_day_end
    assert first_run.registered_after > 0  # citizens registered in the first hours of the next day are left out

    later = produce_until(settings, simulator, DAY_END_MS + 12 * HOUR_MS)  # later days scored in between
    assert any(e["eventType"] == "new_citizen" for e in later)
    moved = {c for c, score in snapshot_scores(settings).items() if c in scores and scores[c] != score}
    assert len(moved) > 50  # the snapshots the first run joined have moved since

    second_run = run_day(settings, DAY, spark)
    assert second_run.citizens_at_day_end == first_run.citizens_at_day_end
    assert second_run.registered_after > first_run.registered_after
    for table, frame in day_rows(settings).items():
        pd.testing.assert_frame_equal(frame, rows[table], obj=table)


def materialize_day(settings, instance: dg.DagsterInstance) -> dict:
    """The Spark aggregates asset materialized for DAY through Dagster, as the UI or a backfill does; the blocking
    citizen-count check's metadata."""
    result = dg.materialize(
        [spark_daily_aggregates],
        partition_key=DAY,
        instance=instance,
        resources={
            "stores": StoresResource.from_settings(settings),
            "pipes_subprocess_client": dg.PipesSubprocessClient(),
        },
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.passed, check.description
    return {key: value.value for key, value in check.metadata.items()}


@pytest.mark.slow  # two Spark jobs
def test_a_past_day_materialized_twice_through_dagster_gives_the_same_rows(tmp_path):
    settings = settings_for(tmp_path / "ddss", partitions=2)
    seed_stores(settings, CITIZENS)
    simulator = CitizenEventSimulator(CITIZENS, seed=4, start_ms=day_start_ms(DAY) + 20 * HOUR_MS)
    produce_until(settings, simulator, DAY_END_MS + 2 * HOUR_MS)
    with dg.instance_for_test() as instance:
        first = materialize_day(settings, instance)
        rows = day_rows(settings)
        produce_until(settings, simulator, DAY_END_MS + 8 * HOUR_MS)
        second = materialize_day(settings, instance)
    assert second["aggregated_citizens"] == first["aggregated_citizens"]
    assert second["registered_after_the_day"] > first["registered_after_the_day"] > 0
    for table, frame in day_rows(settings).items():
        pd.testing.assert_frame_equal(frame, rows[table], obj=table)
