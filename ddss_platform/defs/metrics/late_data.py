"""Late data reaches the derived metrics: recompute the computed partitions that new data landed in.

The Flux tasks (and the schedules on the embedded profile) compute each window once, shortly after it
ends, so events that arrive later (lag, a replay, a backfill of the bus) would never reach them. Each
scoring run reports, on its raw_events materialization, the event hours it wrote (``event_hours``); this
sensor follows those materializations and requests a recomputation of every partition of a derived metric
that was already computed before the data arrived. Windows not computed yet are left to their schedule.
The monthly downsample follows its daily source the same way. Late data is bounded by the raw_events
bucket's retention: older points are not stored (the run counts them as beyond retention).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ddss_platform.defs.asset_keys import RAW_EVENTS_ASSET
from ddss_platform.defs.partitions import DAILY, EVENT_HOURS, HOURLY, MONTHLY
from ddss_platform.stores.timeseries import (
    CITIZEN_ACTIVITY_HOURLY,
    CITIZEN_SUMMARY_DAILY,
    SYSTEM_AGGREGATES_DAILY,
    SYSTEM_AGGREGATES_MONTHLY,
)

_PAGE = 200


def _days(hours: Iterable[str]) -> set[str]:
    return {h[:10] for h in hours}


def _months(days: Iterable[str]) -> set[str]:
    return {f"{d[:7]}-01" for d in days}


# target metric -> (source asset, the target's partition definition, the target keys one source event touches)
_FOLLOWS: dict[str, tuple[str, dg.TimeWindowPartitionsDefinition, Callable[[dg.EventLogRecord], set[str]]]] = {
    CITIZEN_ACTIVITY_HOURLY: (RAW_EVENTS_ASSET, HOURLY, lambda r: set(_event_hours(r))),
    CITIZEN_SUMMARY_DAILY: (RAW_EVENTS_ASSET, DAILY, lambda r: _days(_event_hours(r))),
    SYSTEM_AGGREGATES_DAILY: (RAW_EVENTS_ASSET, DAILY, lambda r: _days(_event_hours(r))),
    SYSTEM_AGGREGATES_MONTHLY: (SYSTEM_AGGREGATES_DAILY, MONTHLY, lambda r: _months([r.partition_key or ""])),
}


def _event_hours(record: dg.EventLogRecord) -> list[str]:
    materialization = record.asset_materialization
    value = materialization.metadata.get(EVENT_HOURS) if materialization else None
    return list(value.value) if value is not None else []


def _new_records(instance: dg.DagsterInstance, source: str, after: int) -> list[dg.EventLogRecord]:
    records, cursor = [], None
    records_filter = dg.AssetRecordsFilter(asset_key=dg.AssetKey(source), after_storage_id=after)
    while True:
        page = instance.fetch_materializations(records_filter, limit=_PAGE, cursor=cursor, ascending=True)
        records.extend(page.records)
        if not page.has_more:
            return records
        cursor = page.cursor


def stale_partitions(instance: dg.DagsterInstance, target: str, records: list[dg.EventLogRecord]) -> list[str]:
    """The target's computed partitions that a source record touched after their latest computation."""
    _source, _partitions_def, touched_by = _FOLLOWS[target]
    first_touch: dict[str, int] = {}
    for record in records:
        for key in touched_by(record):
            first_touch.setdefault(key, record.storage_id)
    computed = instance.get_materialized_partitions(dg.AssetKey(target)) & first_touch.keys()
    if not computed:
        return []
    recomputed = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(target), asset_partitions=sorted(computed), after_storage_id=min(first_touch.values())
        ),
        limit=10_000,
    ).records
    fresh = {r.partition_key for r in recomputed if r.storage_id > first_touch[r.partition_key or ""]}
    return sorted(computed - fresh)


def _ranges(keys: list[str], partitions_def: dg.TimeWindowPartitionsDefinition) -> list[tuple[str, str]]:
    """Consecutive partition keys as [first, last] ranges: one run each (the assets backfill in one run)."""
    ranges: list[tuple[str, str]] = []
    for key in keys:
        if ranges and partitions_def.get_next_partition_key(ranges[-1][1]) == key:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


def late_data_requests(instance: dg.DagsterInstance, cursor: dict[str, int]) -> tuple[list[dg.RunRequest], dict]:
    """Run requests recomputing every stale partition, and the cursor after the records read."""
    requests, new_cursor = [], dict(cursor)
    by_source: dict[str, list[dg.EventLogRecord]] = {}
    for source in {source for source, _, _ in _FOLLOWS.values()}:
        by_source[source] = _new_records(instance, source, cursor.get(source, 0))
        if by_source[source]:
            new_cursor[source] = by_source[source][-1].storage_id
    for target, (source, partitions_def, _touched) in _FOLLOWS.items():
        for first, last in _ranges(stale_partitions(instance, target, by_source[source]), partitions_def):
            tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last, "ddss/late_data": "1"}
            requests.append(
                dg.RunRequest(
                    run_key=f"late-{target}-{first}-{last}-{new_cursor[source]}",
                    asset_selection=[dg.AssetKey(target)],
                    tags=tags,
                )
            )
    return requests, new_cursor


@dg.sensor(
    name="late_data_sensor",
    description="Recomputes the derived metrics' computed partitions that late events landed in "
    "(from the event hours each scoring run reports on raw_events).",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=list(_FOLLOWS),
)
def late_data_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    requests, new_cursor = late_data_requests(context.instance, cursor)
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(new_cursor, sort_keys=True))
