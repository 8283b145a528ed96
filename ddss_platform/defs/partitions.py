"""The time partitions of the platform's assets (UTC) and their windows in the stores' units."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg

# The first day partitions exist for (the platform keeps no older data: the archive's and buckets' retention)
FIRST_DAY = "2025-01-01"

HOURLY = dg.HourlyPartitionsDefinition(start_date=f"{FIRST_DAY}-00:00")
DAILY = dg.DailyPartitionsDefinition(start_date=FIRST_DAY)
MONTHLY = dg.MonthlyPartitionsDefinition(start_date=FIRST_DAY)


def window_ns(context: dg.AssetExecutionContext) -> tuple[int, int]:
    """[start, stop) in nanoseconds of the run's partition or partition range."""
    window = context.partition_time_window
    return int(window.start.timestamp()) * 10**9, int(window.end.timestamp()) * 10**9


def window_ms(context: dg.AssetExecutionContext) -> tuple[int, int]:
    start_ns, stop_ns = window_ns(context)
    return start_ns // 10**6, stop_ns // 10**6


EVENT_HOURS = "event_hours"
"""The metadata key of a raw_events materialization: the hourly partition keys of the events written."""


def hour_keys(event_times_ms: Iterable[int]) -> list[str]:
    """The hourly partition keys of event times (ms since the epoch), sorted."""
    hours = {t // 3_600_000 for t in event_times_ms}
    return [datetime.fromtimestamp(h * 3600, UTC).strftime(HOURLY.fmt) for h in sorted(hours)]
