"""No event's age can stop a partition: events older than every bucket's retention are scored and archived, their
time-series points are skipped and counted, and the range commits. On the embedded stores and on the real ones
(InfluxDB refuses such points with HTTP 422, which used to fail the run and have the sensor relaunch it forever)."""

from __future__ import annotations

import time

import pytest

from ddss_platform.cli.store_commands import SEED_DIR, initialise
from ddss_platform.events.simulator import simulate_records
from ddss_platform.events.topics import CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import OffsetRange, process_range
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores

CITIZENS, EVENTS = 60, 400
TWO_YEARS_AGO_MS = time.time_ns() // 1_000_000 - 2 * 366 * 86_400_000


def _score_old_events(settings: Settings):
    initialise(settings, CITIZENS, 3, SEED_DIR / "system_configuration.json", SEED_DIR / "scoring_rules.json")
    with open_stores(settings) as stores:
        stores.bus.produce(
            CITIZEN_EVENTS, list(simulate_records(stores.codec, CITIZENS, EVENTS, seed=3, start_ms=TWO_YEARS_AGO_MS))
        )
        result = process_range(stores, OffsetRange(CITIZEN_EVENTS, 0, 0, stores.bus.end_offsets(CITIZEN_EVENTS)[0]))
        return (
            result,
            stores.bus.committed(SCORING_GROUP, CITIZEN_EVENTS)[0],
            sum(stores.archive.count_by_day().values()),
        )


def _check(result, committed, archived):
    assert committed == result.range.end == result.records > 0
    assert archived == result.events  # scored and archived, whatever their age
    assert result.sink_rows["raw_events"] == 0 and result.beyond_retention["raw_events"] == result.events
    assert result.score_changes > 0 and result.beyond_retention["score_change_history"] == result.score_changes


def test_events_older_than_every_retention_commit_on_the_embedded_stores(tmp_path):
    _check(*_score_old_events(Settings.from_env({"DDSS_HOME": str(tmp_path), "DDSS_PARTITIONS": "1"})))


@pytest.mark.live
def test_events_older_than_every_retention_commit_on_the_real_servers(tmp_path, production_env):
    _check(
        *_score_old_events(Settings.from_env({**production_env, "DDSS_HOME": str(tmp_path), "DDSS_PARTITIONS": "1"}))
    )
