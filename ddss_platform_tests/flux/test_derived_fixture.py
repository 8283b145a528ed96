"""Each derived metric (a Flux task in production, SQL embedded) gives the numbers an independent pandas
computation gives on a small fixture; runs on every configured time-series adapter."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import pytest

from ddss_platform.stores.timeseries import (
    CITIZEN_ACTIVITY_HOURLY,
    CITIZEN_EVENT,
    CITIZEN_SUMMARY_DAILY,
    DERIVED_METRICS,
    MEASUREMENTS,
    RAW_EVENTS,
    SCORE_CHANGE_HISTORY,
    SYSTEM_AGGREGATES_DAILY,
    SYSTEM_AGGREGATES_MONTHLY,
    Point,
)

MIN = 60 * 10**9
HOUR = 60 * MIN
DAY = 24 * HOUR

# Three days ending two days ago (inside raw_events' 30-day retention, which every adapter applies on write).
# (day, hour, minute, citizen, score_impact or None)
EVENTS = [
    (0, 1, 0, "A", 5.0),
    (0, 1, 10, "A", -2.0),
    (0, 1, 20, "A", 1.0),
    (0, 1, 30, "B", 0.0),
    (0, 2, 0, "B", 10.0),
    (0, 2, 5, "B", 3.0),
    (0, 2, 40, "C", None),
    (1, 0, 0, "A", 4.0),
    (1, 5, 0, "D", -8.0),
    (1, 5, 1, "D", -1.0),
    (2, 23, 59, "B", 7.0),
]
# (day, hour, minute, citizen, rule, old, new, tier)
CHANGES = [
    (0, 1, 0, "A", "R1", 500.0, 505.0, "Standard"),
    (0, 1, 10, "A", "R2", 505.0, 503.0, "Standard"),
    (0, 1, 20, "A", "R1", 503.0, 504.0, "Standard"),
    (0, 2, 0, "B", "R3", 500.0, 510.0, "Standard"),
    (0, 2, 5, "B", "R3", 510.0, 513.0, "Exemplary"),
    (0, 3, 0, "D", "R4", 500.0, 480.0, "Caution"),
    (1, 0, 0, "A", "R1", 504.0, 508.0, "Standard"),
    (1, 5, 0, "D", "R4", 480.0, 472.0, "Caution"),
    (1, 5, 1, "D", "R5", 472.0, 471.0, "HighRisk"),
    (2, 9, 0, "B", "R3", 513.0, 520.0, "Exemplary"),
    (2, 10, 0, "A", "R2", 508.0, 500.0, "Standard"),
]


@pytest.fixture
def fixture(timeseries):
    """Writes the fixture (twice, like a replayed run) and returns (day0_ns, citizen id prefix)."""
    day0 = (time.time_ns() // DAY - 3) * DAY
    prefix = f"fx-{uuid.uuid4().hex[:8]}-"
    events = [
        Point(
            CITIZEN_EVENT,
            {"citizenID": prefix + c, "eventType": "financial", "region": "north"},
            {"eventID": f"{prefix}e{i}"} | ({} if impact is None else {"score_impact": impact}),
            day0 + d * DAY + h * HOUR + m * MIN,
        )
        for i, (d, h, m, c, impact) in enumerate(EVENTS)
    ]
    changes = [
        Point(
            SCORE_CHANGE_HISTORY,
            {"citizenID": prefix + c, "reasonCategory": "EVENT_IMPACT", "triggeringRuleID": rule},
            {"oldScore": old, "newScore": new, "changeAmount": new - old, "tier": tier},
            day0 + d * DAY + h * HOUR + m * MIN,
        )
        for d, h, m, c, rule, old, new, tier in CHANGES
    ]
    for batch in ("run-1", "run-1", "run-2"):
        timeseries.write(RAW_EVENTS, events, batch)
        timeseries.write(DERIVED_METRICS, changes, batch)
    return day0, prefix


def frames(day0: int, prefix: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    ev = pd.DataFrame(EVENTS, columns=["day", "hour", "minute", "citizen", "impact"])
    ch = pd.DataFrame(CHANGES, columns=["day", "hour", "minute", "citizen", "rule", "old", "new", "tier"])
    for df in (ev, ch):
        df["t"] = day0 + df["day"] * DAY + df["hour"] * HOUR + df["minute"] * MIN
        df["citizenID"] = prefix + df["citizen"]
        df["day_ns"] = day0 + df["day"] * DAY
    ev["hour_ns"] = ev["day_ns"] + ev["hour"] * HOUR
    return ev, ch


def expected_hourly(ev):
    g = ev.groupby(["hour_ns", "citizenID"])
    return pd.DataFrame({"eventCount": g.size(), "netScoreImpact": g["impact"].sum(min_count=1)}).reset_index()


def expected_summary(ev, ch):
    counts = ev.groupby(["day_ns", "citizenID"]).size().rename("eventsTodayCount")
    last = ch.sort_values("t").groupby(["day_ns", "citizenID"])
    changes = pd.DataFrame(
        {
            "netScoreChangeToday": last.apply(lambda g: (g["new"] - g["old"]).sum()),
            "dayEndScore": last["new"].last(),
            "currentTier": last["tier"].last(),
        }
    )
    return pd.concat([counts, changes], axis=1).reset_index()


def expected_system_daily(ch):
    last = ch.sort_values("t").groupby(["day_ns", "citizenID"]).last().reset_index()
    rows = []
    for day, g in last.groupby("day_ns"):
        tiers = g["tier"].value_counts()
        rows.append(
            {
                "day_ns": day,
                "averageScore": g["new"].mean(),
                "medianScore": g["new"].median(),
                "minScoreObserved": g["new"].min(),
                "maxScoreObserved": g["new"].max(),
                "activeCitizensCount": len(g),
                **{
                    f"tier_{t.lower()}_count": int(tiers.get(t, 0))
                    for t in ("Exemplary", "Standard", "Caution", "HighRisk")
                },
            }
        )
    return pd.DataFrame(rows)


def expected_monthly(daily):
    month = pd.to_datetime(daily["day_ns"], utc=True).dt.tz_localize(None).dt.to_period("M").dt.start_time
    g = daily.assign(month_ns=month.astype("datetime64[ns]").astype("int64")).groupby("month_ns")
    return pd.DataFrame(
        {
            "averageScore": g["averageScore"].mean(),
            "minScoreObserved": g["minScoreObserved"].min(),
            "maxScoreObserved": g["maxScoreObserved"].max(),
            "activeCitizenDays": g["activeCitizensCount"].sum(),
            "daysReported": g.size(),
        }
    ).reset_index()


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str], metric: str):
    fields = list(MEASUREMENTS[metric].fields)
    actual = actual.sort_values(keys, ignore_index=True)[keys + fields]
    expected = expected.sort_values(keys, ignore_index=True)[keys + fields].astype(actual.dtypes.to_dict())
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False, rtol=1e-9)


def test_citizen_activity_hourly(timeseries, fixture):
    day0, prefix = fixture
    ev, _ = frames(day0, prefix)
    got = timeseries.compute_derived(CITIZEN_ACTIVITY_HOURLY, day0, day0 + 3 * DAY)
    got = got[got["citizenID"].str.startswith(prefix)]
    assert_same(
        got,
        expected_hourly(ev).rename(columns={"hour_ns": "time_ns"}),
        ["time_ns", "citizenID"],
        CITIZEN_ACTIVITY_HOURLY,
    )
    # C's only event has no score_impact: a count but no sum, as the task writes no netScoreImpact for it
    assert got.loc[got["citizenID"] == prefix + "C", "netScoreImpact"].isna().all()
    # stored in derived_metrics like the task's to()
    stored = timeseries.query(
        DERIVED_METRICS, CITIZEN_ACTIVITY_HOURLY, day0, day0 + 3 * DAY, {"citizenID": prefix + "A"}
    )
    assert stored["eventCount"].tolist() == [3, 1]


def test_citizen_summary_daily(timeseries, fixture):
    day0, prefix = fixture
    ev, ch = frames(day0, prefix)
    got = timeseries.compute_derived(CITIZEN_SUMMARY_DAILY, day0, day0 + 3 * DAY)
    got = got[got["citizenID"].str.startswith(prefix)]
    expected = expected_summary(ev, ch).rename(columns={"day_ns": "time_ns"})
    assert_same(got, expected, ["time_ns", "citizenID"], CITIZEN_SUMMARY_DAILY)


def test_system_aggregates_daily_and_monthly(timeseries, fixture):
    day0, prefix = fixture
    _, ch = frames(day0, prefix)
    daily = expected_system_daily(ch)
    got = timeseries.compute_derived(SYSTEM_AGGREGATES_DAILY, day0, day0 + 3 * DAY)
    assert set(got["region"]) == {"ALL"}
    assert_same(
        got, daily.rename(columns={"day_ns": "time_ns"}).assign(region="ALL"), ["time_ns"], SYSTEM_AGGREGATES_DAILY
    )
    monthly = timeseries.compute_derived(SYSTEM_AGGREGATES_MONTHLY, day0, day0 + 3 * DAY)
    expected = expected_monthly(daily).rename(columns={"month_ns": "time_ns"}).assign(region="ALL")
    assert_same(monthly, expected, ["time_ns"], SYSTEM_AGGREGATES_MONTHLY)


def test_recomputing_a_metric_replaces_it(timeseries, fixture):
    day0, prefix = fixture
    first = timeseries.compute_derived(CITIZEN_ACTIVITY_HOURLY, day0, day0 + DAY)
    again = timeseries.compute_derived(CITIZEN_ACTIVITY_HOURLY, day0, day0 + DAY)
    pd.testing.assert_frame_equal(first, again)
