"""``ddss stream`` reports every range it commits to the data directory's Dagster instance, as runless
materializations of the scoring outputs: the catalog, the lineage of an aggregate and late_data_sensor then follow
continuous mode as they follow the sensor's runs."""

from __future__ import annotations

import dagster as dg
import pytest
from typer.testing import CliRunner

from ddss_platform.cli.app import app
from ddss_platform.defs.asset_keys import (
    CITIZEN_EVENTS_ASSET,
    EVENTS_ARCHIVE_ASSET,
    RAW_EVENTS_ASSET,
    SCORE_CHANGE_HISTORY_ASSET,
    SCORE_SNAPSHOTS_ASSET,
)
from ddss_platform.defs.dagster_instance import open_instance
from ddss_platform.defs.lineage import format_lineage, materializations, writing_runs
from ddss_platform.defs.metrics.late_data import late_data_requests
from ddss_platform.defs.partitions import EVENT_HOURS, hour_keys
from ddss_platform.defs.streaming.checks import CHECK_NAME
from ddss_platform.defs.streaming.reports import BackgroundReports
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import OffsetRange, RangeResult
from ddss_platform.stores import open_stores
from ddss_platform.stores.timeseries import CITIZEN_ACTIVITY_HOURLY
from ddss_platform_tests.recent import START_MS
from ddss_platform_tests.streaming.support import produce, seed_stores

CITIZENS, EVENTS, BATCH = 300, 4_000, 600
OUTPUTS = {
    CITIZEN_EVENTS: (EVENTS_ARCHIVE_ASSET, RAW_EVENTS_ASSET, SCORE_SNAPSHOTS_ASSET, SCORE_CHANGE_HISTORY_ASSET),
    CITIZEN_EFFECTS: (SCORE_SNAPSHOTS_ASSET, SCORE_CHANGE_HISTORY_ASSET),
}


def _ranges(instance, asset: str, topic: str) -> dict[int, list[tuple[int, int]]]:
    """partition -> the [start, end) ranges of the asset's materializations for the topic, in report order."""
    found: dict[int, list[tuple[int, int]]] = {}
    for record in materializations(instance, asset):
        meta = {key: value.value for key, value in record.asset_materialization.metadata.items()}
        assert record.run_id == "", "ddss stream reports runless events"
        if meta["topic"] == topic:
            found.setdefault(int(meta["partition"]), []).append((int(meta["start"]), int(meta["end"])))
    return found


def _tiles(ranges: list[tuple[int, int]], end: int) -> bool:
    """Whether the ranges, in order, cover [0, end) once each."""
    expected_start = 0
    for start, stop in ranges:
        if start != expected_start or stop <= start:
            return False
        expected_start = stop
    return expected_start == end


@pytest.fixture
def streamed(embedded_settings, monkeypatch):
    """A backlog scored by `ddss stream --exit-when-idle 0` in ranges of at most BATCH records, with one hour of
    citizen_activity_hourly computed before it ran."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the data directory's instance
    seed_stores(embedded_settings, CITIZENS)
    produce(embedded_settings, CITIZENS, EVENTS, seed=7, bad_fraction=0.02)
    first_hour = hour_keys([START_MS])[0]
    with open_instance(embedded_settings) as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(CITIZEN_ACTIVITY_HOURLY, partition=first_hour))
    result = CliRunner().invoke(app, ["stream", "--exit-when-idle", "0", "--batch-size", str(BATCH)])
    assert result.exit_code == 0, result.output
    return first_hour


def test_every_range_ddss_stream_commits_is_materialized_in_the_instance(embedded_settings, streamed):
    with open_stores(embedded_settings) as stores:
        committed = {topic: stores.bus.committed(SCORING_GROUP, topic) for topic in OUTPUTS}
        ends = {topic: stores.bus.end_offsets(topic) for topic in OUTPUTS}
        archive = stores.archive.read_events()
    assert committed == ends and sum(ends[CITIZEN_EFFECTS].values()) > 0  # both topics scored to their ends
    with open_instance(embedded_settings) as instance:
        for topic, assets in OUTPUTS.items():
            for asset in assets:
                ranges = _ranges(instance, asset, topic)
                for partition, offset in committed[topic].items():
                    assert _tiles(ranges.get(partition, []), offset), (asset, topic, partition, ranges)
            # several ranges per partition: each committed range is reported, not one per command
            assert max(len(r) for r in _ranges(instance, assets[0], topic).values()) > 1
        reported = list(materializations(instance, RAW_EVENTS_ASSET))
        hours = {hour for record in reported for hour in record.asset_materialization.metadata[EVENT_HOURS].value}
        assert hours == set(hour_keys(archive["event_time"]))
        archived_rows = sum(
            record.asset_materialization.metadata["rows"].value
            for record in materializations(instance, EVENTS_ARCHIVE_ASSET)
        )
        assert archived_rows == len(archive)
        check = dg.AssetCheckKey(dg.AssetKey(CITIZEN_EVENTS_ASSET), CHECK_NAME)
        assert instance.event_log_storage.get_asset_check_execution_history(check, limit=1)  # the check followed


def test_late_data_sensor_and_lineage_follow_continuous_mode(embedded_settings, streamed):
    with open_stores(embedded_settings) as stores:
        archive = stores.archive.read_events()
    with open_instance(embedded_settings) as instance:
        requests, _cursor = late_data_requests(instance, {})
        late = [r for r in requests if r.asset_selection == [dg.AssetKey(CITIZEN_ACTIVITY_HOURLY)]]
        assert [(r.tags["dagster/asset_partition_range_start"]) for r in late] == [streamed]

        # the archive rows of a day per topic partition, as the Spark job's lineage records them
        day = archive["event_time"].min() // 86_400_000
        rows = archive[archive["event_time"] // 86_400_000 == day]
        offsets = [
            {"topic": topic, "partition": int(partition), "first_offset": int(o.min()), "last_offset": int(o.max())}
            for (topic, partition), o in rows.groupby(["topic", "partition"])["offset"]
        ]
        runs = writing_runs(instance, EVENTS_ARCHIVE_ASSET, offsets)
    for span in offsets:
        covering = [r for r in runs if (r["topic"], r["partition"]) == (span["topic"], span["partition"])]
        assert covering[0]["start"] <= span["first_offset"] and span["last_offset"] < covering[-1]["end"]
    lineage = {
        "asset": "credit_score_aggregates_by_region_date",
        "partition": "day",
        "materialized_at": "now",
        "run_id": "r",
        "code_version": "1",
        "duration_s": 1.0,
        "spark": {"app_id": "a", "master": "local[*]", "version": "3.5", "duration_s": 1.0},
        "outputs": {},
        "inputs": [{"asset": EVENTS_ARCHIVE_ASSET, "data_version": "v", "materialized_at": "then", "run_id": ""}],
        "archive": {"rows": len(rows), "distinct_events": len(rows), "offsets": [{**o, "rows": 1} for o in offsets]},
        "scoring_runs": runs,
    }
    text = format_lineage(lineage)
    assert "written by ddss stream (continuous mode) over [0, " in text
    assert "events_archive: data version v (materialized then by ddss stream (continuous mode))" in text


def _committed(partition: int, start: int, end: int) -> RangeResult:
    return RangeResult(OffsetRange(CITIZEN_EVENTS, partition, start, end), records=end - start)


def test_background_reports_keep_commit_order_and_close_reports_what_is_left():
    with dg.DagsterInstance.ephemeral() as instance:
        reports = BackgroundReports(instance, ScoringTuning(), backlog=2)
        for start in range(0, 100, 10):  # more than the backlog: submit waits for the thread
            reports.submit(_committed(start // 10 % 2, start, start + 10))
        reports.close()
        ranges = _ranges(instance, EVENTS_ARCHIVE_ASSET, CITIZEN_EVENTS)
    assert ranges == {0: [(s, s + 10) for s in range(0, 100, 20)], 1: [(s, s + 10) for s in range(10, 100, 20)]}


class _RefusingInstance:
    def report_runless_asset_event(self, _event):
        raise OSError("disk full")


def test_a_failed_report_stops_the_stream_once():
    reports = BackgroundReports(_RefusingInstance(), ScoringTuning())
    reports.submit(_committed(0, 0, 10))
    with pytest.raises(RuntimeError, match="reporting a committed range to Dagster failed"):
        while True:  # the next submit after the thread failed raises it
            reports.submit(_committed(0, 10, 20))
    reports.close()  # already raised: the stream's cleanup goes on
