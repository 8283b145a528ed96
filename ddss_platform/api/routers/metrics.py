"""GET /metrics/system (the Flux-derived system metrics) and GET /overview (what the dashboard's overview shows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends

from ddss_platform.api import bus_state, views
from ddss_platform.api.deps import stores
from ddss_platform.api.models import Histogram, MinuteCount, Overview, SystemMetric, SystemMetrics
from ddss_platform.api.params import RANGE_REFUSED, TierName, TimeRange, time_range
from ddss_platform.stores import Stores
from ddss_platform.stores.documents import NoActiveConfiguration
from ddss_platform.stores.timeseries import (
    CITIZEN_EVENT,
    DERIVED_METRICS,
    MEASUREMENTS,
    RAW_EVENTS,
    SYSTEM_AGGREGATES_DAILY,
    SYSTEM_AGGREGATES_MONTHLY,
)

router = APIRouter(tags=["metrics"])

HISTOGRAM_BINS = 20
EVENTS_WINDOW = timedelta(hours=1)


def _system_metrics(frame: pd.DataFrame, measurement: str) -> list[SystemMetric]:
    fields = list(MEASUREMENTS[measurement].fields)
    rows = []
    for row in views.records(frame):
        day = datetime.fromtimestamp(row["time_ns"] / 1e9, UTC).date().isoformat()
        values = {f: None if pd.isna(row[f]) else row[f] for f in fields}
        rows.append(SystemMetric(date=day, region=row.get("region"), values=values))
    return rows


@router.get(
    "/metrics/system",
    response_model=SystemMetrics,
    summary="Daily and monthly system aggregates (time series)",
    responses=RANGE_REFUSED,
)
def system_metrics(
    window: Annotated[TimeRange, Depends(time_range(timedelta(days=30)))], ports: Annotated[Stores, Depends(stores)]
) -> SystemMetrics:
    """Points of `system_aggregates_daily` and `system_aggregates_monthly` (InfluxDB tasks in production,
    the same definitions in SQL on the embedded profile) with `from` ≤ time < `to`."""
    start_ns, stop_ns = window.start_ms * 1_000_000, window.end_ms * 1_000_000
    return SystemMetrics(
        start_ms=window.start_ms,
        end_ms=window.end_ms,
        daily=_system_metrics(
            ports.timeseries.query(DERIVED_METRICS, SYSTEM_AGGREGATES_DAILY, start_ns, stop_ns), SYSTEM_AGGREGATES_DAILY
        ),
        monthly=_system_metrics(
            ports.timeseries.query(DERIVED_METRICS, SYSTEM_AGGREGATES_MONTHLY, start_ns, stop_ns),
            SYSTEM_AGGREGATES_MONTHLY,
        ),
    )


def _score_histogram(ports: Stores) -> Histogram:
    try:
        config = ports.documents.load_active_configuration()
        low, high = float(config["minScore"]), float(config["maxScore"])
    except NoActiveConfiguration:
        low, high = 0.0, 1000.0
    scores = ports.documents.all_snapshots()["score"].dropna().to_numpy(dtype=float)
    counts, edges = np.histogram(scores, bins=HISTOGRAM_BINS, range=(low, high))
    return Histogram(edges=edges.tolist(), counts=counts.tolist())


def _events_per_minute(ports: Stores) -> list[MinuteCount]:
    """Raw events per minute in the hour up to the newest scored event (event time, not wall time:
    simulated events carry their own clock)."""
    end_ms = bus_state.newest_scored_ms(ports.bus, ports.codec)
    if end_ms is None:
        return []
    end_ns = (end_ms + 1) * 1_000_000
    start_ns = end_ns - int(EVENTS_WINDOW.total_seconds() * 1e9)
    times = ports.timeseries.query(RAW_EVENTS, CITIZEN_EVENT, start_ns, end_ns)["time_ns"]
    counts = pd.to_datetime(times, unit="ns", utc=True).dt.floor("min").value_counts()
    minutes = pd.date_range(
        pd.Timestamp(start_ns, unit="ns", tz="UTC").ceil("min"),
        pd.Timestamp(end_ms, unit="ms", tz="UTC").floor("min"),
        freq="min",
    )
    counts = counts.reindex(minutes, fill_value=0)  # a quiet minute is a zero, not a gap in the chart
    return [MinuteCount(minute=minute.isoformat(), events=int(count)) for minute, count in counts.items()]


@router.get("/overview", response_model=Overview, summary="The dashboard's system overview in one call")
def overview(ports: Annotated[Stores, Depends(stores)]) -> Overview:
    """Citizens per tier, the score distribution, raw events per minute, the dead-letter count and the
    scoring group's lag."""
    by_tier = ports.documents.count_by_tier()
    lag = bus_state.lag_by_partition(ports.bus)
    return Overview(
        citizens=ports.documents.citizen_count(),
        tiers={tier.value: int(by_tier.get(tier.value, 0)) for tier in TierName},
        score_histogram=_score_histogram(ports),
        events_per_minute=_events_per_minute(ports),
        dlq_count=bus_state.dead_letters(ports.bus),
        bus_lag=None if lag is None else sum(lag.values()),
    )
