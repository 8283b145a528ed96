"""The Flux tasks of `flux/` as DuckDB SQL, for the embedded profile, and the periods both paths share.

Each query reads CTEs named after its source measurements (already deduplicated by tags + time and cut to
[$start, $stop)) and yields one row per period and series: ``time_ns`` (the period start, like the tasks'
``_time: start``), the tag columns, the field columns. NULL fields are not written, as a Flux task writes no
row for an aggregate it did not compute. Keep each query in step with its .flux file; the fixture tests in
``ddss_platform_tests/flux`` check the numbers against an independent pandas computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ddss_platform.stores.timeseries import (
    CITIZEN_ACTIVITY_HOURLY,
    CITIZEN_EVENT,
    CITIZEN_SUMMARY_DAILY,
    SCORE_CHANGE_HISTORY,
    SYSTEM_AGGREGATES_DAILY,
    SYSTEM_AGGREGATES_MONTHLY,
)

HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS

# The period start of a point time, per period kind (UTC, as Flux's date.truncate).
_PERIOD_START = {
    "hour": f"(time_ns // {HOUR_NS}) * {HOUR_NS}",
    "day": f"(time_ns // {DAY_NS}) * {DAY_NS}",
    "month": "epoch_us(date_trunc('month', make_timestamp(time_ns // 1000))) * 1000",
}


@dataclass(frozen=True)
class DerivedMetric:
    name: str
    period: str  # "hour" | "day" | "month"
    sources: tuple[str, ...]  # measurements the query reads (CTE names)
    sql: str


def _metric(name: str, period: str, sources: tuple[str, ...], sql: str) -> DerivedMetric:
    return DerivedMetric(name, period, sources, sql.replace("{period_start}", _PERIOD_START[period]))


_TIER_COUNTS = ",\n".join(
    f"        count(*) FILTER (WHERE tier = '{tier}') AS tier_{tier.lower()}_count"
    for tier in ("Exemplary", "Standard", "Caution", "HighRisk")
)

DERIVED: dict[str, DerivedMetric] = {
    m.name: m
    for m in (
        _metric(
            CITIZEN_ACTIVITY_HOURLY,
            "hour",
            (CITIZEN_EVENT,),
            """
            SELECT {period_start} AS time_ns, "citizenID",
                   count("eventID") AS "eventCount", sum(score_impact) AS "netScoreImpact"
            FROM citizen_event
            GROUP BY ALL
            """,
        ),
        _metric(
            CITIZEN_SUMMARY_DAILY,
            "day",
            (CITIZEN_EVENT, SCORE_CHANGE_HISTORY),
            """
            WITH events AS (
                SELECT {period_start} AS day, "citizenID", count("eventID") AS "eventsTodayCount"
                FROM citizen_event GROUP BY ALL
            ), changes AS (
                -- arg_max skips NULL values, as the task's filter on _field does
                SELECT {period_start} AS day, "citizenID",
                       sum("changeAmount") AS "netScoreChangeToday",
                       arg_max("newScore", time_ns) AS "dayEndScore",
                       arg_max(tier, time_ns) AS "currentTier"
                FROM score_change_history GROUP BY ALL
            )
            SELECT day AS time_ns, "citizenID",
                   "eventsTodayCount", "netScoreChangeToday", "dayEndScore", "currentTier"
            FROM events FULL OUTER JOIN changes USING (day, "citizenID")
            """,
        ),
        _metric(
            SYSTEM_AGGREGATES_DAILY,
            "day",
            (SCORE_CHANGE_HISTORY,),
            f"""
            WITH last_score AS (
                SELECT {{period_start}} AS day, "citizenID", arg_max("newScore", time_ns) AS score
                FROM score_change_history WHERE "newScore" IS NOT NULL GROUP BY ALL
            ), last_tier AS (
                SELECT {{period_start}} AS day, "citizenID", arg_max(tier, time_ns) AS tier
                FROM score_change_history WHERE tier IS NOT NULL GROUP BY ALL
            ), scores AS (
                SELECT day, avg(score) AS "averageScore", median(score) AS "medianScore",
                       min(score) AS "minScoreObserved", max(score) AS "maxScoreObserved",
                       count(*) AS "activeCitizensCount"
                FROM last_score GROUP BY day
            ), tiers AS (
                SELECT day,
{_TIER_COUNTS}
                FROM last_tier GROUP BY day
            )
            SELECT day AS time_ns, 'ALL' AS region, * EXCLUDE (day)
            FROM scores FULL OUTER JOIN tiers USING (day)
            """,
        ),
        _metric(
            SYSTEM_AGGREGATES_MONTHLY,
            "month",
            (SYSTEM_AGGREGATES_DAILY,),
            """
            SELECT {period_start} AS time_ns, region,
                   avg("averageScore") AS "averageScore",
                   min("minScoreObserved") AS "minScoreObserved",
                   max("maxScoreObserved") AS "maxScoreObserved",
                   sum("activeCitizensCount") AS "activeCitizenDays",
                   count("averageScore") AS "daysReported"
            FROM system_aggregates_daily
            GROUP BY ALL
            """,
        ),
    )
}


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 10**9, tz=UTC)


def _month_floor(ns: int) -> int:
    d = _utc(ns)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp()) * 10**9


def _next_month(ns: int) -> int:
    d = _utc(ns)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 10**9


def periods(period: str, start_ns: int, stop_ns: int) -> list[tuple[int, int]]:
    """The whole periods (UTC hours, days or calendar months) that touch [start_ns, stop_ns)."""
    if stop_ns <= start_ns:
        return []
    if period == "month":
        out, lo = [], _month_floor(start_ns)
        while lo < stop_ns:
            hi = _next_month(lo)
            out.append((lo, hi))
            lo = hi
        return out
    step = {"hour": HOUR_NS, "day": DAY_NS}[period]
    first = start_ns // step * step
    return [(lo, lo + step) for lo in range(first, stop_ns, step)]
