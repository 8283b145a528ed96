"""Late events reach the derived metrics: the partitions computed before the events arrived are recomputed."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ddss_platform.defs.asset_keys import RAW_EVENTS_ASSET
from ddss_platform.defs.metrics.late_data import late_data_requests, late_data_sensor
from ddss_platform.defs.partitions import EVENT_HOURS, hour_keys
from ddss_platform.stores.timeseries import (
    CITIZEN_ACTIVITY_HOURLY,
    CITIZEN_SUMMARY_DAILY,
    SYSTEM_AGGREGATES_DAILY,
    SYSTEM_AGGREGATES_MONTHLY,
)


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def computed(instance, asset: str, *partitions: str) -> None:
    for partition in partitions:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=partition))


def scored(instance, *hours: str) -> None:
    """A scoring run's raw_events materialization, as score_events reports it."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=RAW_EVENTS_ASSET, metadata={EVENT_HOURS: list(hours)})
    )


def requested(requests) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for request in requests:
        (key,) = request.asset_selection
        found.setdefault(key.to_user_string(), []).append(
            (request.tags[ASSET_PARTITION_RANGE_START_TAG], request.tags[ASSET_PARTITION_RANGE_END_TAG])
        )
    return found


def test_hour_keys_are_the_hourly_partitions_of_event_times():
    assert hour_keys([1_764_633_600_000 + 59 * 60_000, 1_764_633_600_000, 1_764_637_200_000]) == [
        "2025-12-02-00:00",
        "2025-12-02-01:00",
    ]


def test_late_events_recompute_only_the_partitions_computed_before_they_arrived(instance):
    computed(instance, CITIZEN_ACTIVITY_HOURLY, "2026-11-30-10:00", "2026-11-30-11:00", "2026-11-30-13:00")
    computed(instance, SYSTEM_AGGREGATES_DAILY, "2026-11-30")
    # late events in hours 10, 11 and 13 of a computed day, and in hour 15, which is not computed yet
    scored(instance, "2026-11-30-10:00", "2026-11-30-11:00", "2026-11-30-13:00", "2026-11-30-15:00")
    requests, cursor = late_data_requests(instance, {})
    assert requested(requests) == {
        CITIZEN_ACTIVITY_HOURLY: [("2026-11-30-10:00", "2026-11-30-11:00"), ("2026-11-30-13:00", "2026-11-30-13:00")],
        SYSTEM_AGGREGATES_DAILY: [("2026-11-30", "2026-11-30")],  # citizen_summary_daily was never computed
    }
    assert late_data_requests(instance, cursor)[0] == []  # each arrival is acted on once


def test_a_partition_recomputed_after_the_events_arrived_is_not_stale(instance):
    computed(instance, CITIZEN_ACTIVITY_HOURLY, "2026-11-30-10:00")
    scored(instance, "2026-11-30-10:00")
    computed(instance, CITIZEN_ACTIVITY_HOURLY, "2026-11-30-10:00")  # e.g. the schedule caught up
    assert late_data_requests(instance, {})[0] == []


def test_on_time_events_request_nothing(instance):
    computed(instance, CITIZEN_ACTIVITY_HOURLY, "2026-11-30-09:00")
    computed(instance, CITIZEN_SUMMARY_DAILY, "2026-11-29")
    scored(instance, "2026-11-30-10:00")  # the current hour and day: not computed yet
    assert late_data_requests(instance, {})[0] == []


def test_the_monthly_downsample_follows_a_recomputed_day(instance):
    computed(instance, SYSTEM_AGGREGATES_MONTHLY, "2026-11-01")
    computed(instance, SYSTEM_AGGREGATES_DAILY, "2026-11-30")  # the late data's daily recomputation
    assert requested(late_data_requests(instance, {})[0]) == {SYSTEM_AGGREGATES_MONTHLY: [("2026-11-01", "2026-11-01")]}


def test_the_sensor_requests_runs_of_the_definitions_assets(instance):
    from ddss_platform.definitions import defs

    computed(instance, CITIZEN_SUMMARY_DAILY, "2026-11-30")
    scored(instance, "2026-11-30-10:00")
    context = dg.build_sensor_context(instance=instance, definitions=defs)
    result = late_data_sensor(context)
    (request,) = result.run_requests
    assert request.asset_selection == [dg.AssetKey(CITIZEN_SUMMARY_DAILY)]
    assert result.cursor
