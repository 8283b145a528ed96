"""The time-series port's contract: the same assertions on every configured adapter (see conftest.py)."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import pyarrow as pa
import pytest

from ddss_platform.stores.timeseries import (
    BUCKET_RETENTION_S,
    CITIZEN_EVENT,
    DAY_S,
    DERIVED_METRICS,
    RAW_EVENTS,
    SCORE_CHANGE_HISTORY,
    Point,
    event_time_ns,
)
from ddss_platform.stores.timeseries.embedded import EmbeddedTimeSeries

HOUR_NS = 3_600 * 10**9
SECOND_NS = 10**9


@pytest.fixture
def base_ns() -> int:
    """An hour start two days ago: inside every bucket's retention, so a server accepts the points."""
    return (time.time_ns() - 48 * HOUR_NS) // HOUR_NS * HOUR_NS


@pytest.fixture
def citizen() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def event(citizen: str, t_ns: int, event_id: str, impact: float = 1.0, **tags: str) -> Point:
    return Point(
        CITIZEN_EVENT,
        {
            "citizenID": citizen,
            "eventType": "financial",
            "eventSubtype": "payment_completed",
            "region": "north",
            **tags,
        },
        {
            "eventID": event_id,
            "severity": 0.5,
            "confidence": 1,
            "score_impact": impact,
            "payload_full_json": '{"a": "b c"}',
        },
        t_ns,
    )


def test_influxdb_buckets_carry_the_retention_rules(timeseries):
    """InfluxDB expires points by each bucket's retention rule (the embedded store enforces it itself, below)."""
    if isinstance(timeseries, EmbeddedTimeSeries):
        assert timeseries.ensure_schema() == []
        return
    buckets = {name: timeseries._bucket(name) for name in BUCKET_RETENTION_S}
    assert {name: [r.every_seconds for r in b.retention_rules] for name, b in buckets.items()} == {
        name: [seconds] for name, seconds in BUCKET_RETENTION_S.items()
    }


def test_ensure_schema_twice_reports_nothing_to_do(timeseries):
    assert timeseries.ensure_schema() == []


def test_write_then_query_returns_points_in_range_oldest_first(timeseries, base_ns, citizen):
    points = [event(citizen, base_ns + i * SECOND_NS, f"e{i}", impact=i) for i in range(5)]
    assert timeseries.write(RAW_EVENTS, points, "batch-a") == 5
    df = timeseries.query(
        RAW_EVENTS, CITIZEN_EVENT, base_ns + SECOND_NS, base_ns + 4 * SECOND_NS, {"citizenID": citizen}
    )
    assert df["eventID"].tolist() == ["e1", "e2", "e3"]  # start inclusive, stop exclusive
    assert df["time_ns"].tolist() == [base_ns + i * SECOND_NS for i in (1, 2, 3)]
    assert df["score_impact"].tolist() == [1.0, 2.0, 3.0]
    assert df["confidence"].dtype == "float64" and df["confidence"].tolist() == [1.0] * 3  # int coerced to float
    assert df["payload_full_json"].tolist() == ['{"a": "b c"}'] * 3
    assert set(df["region"]) == {"north"} and df["city"].isna().all()
    assert list(df.columns[:7]) == [
        "time_ns",
        "citizenID",
        "eventType",
        "eventSubtype",
        "sourceSystem",
        "region",
        "city",
    ]


def test_writing_the_same_points_twice_leaves_one_copy(timeseries, base_ns, citizen):
    points = [event(citizen, base_ns + i * SECOND_NS, f"e{i}") for i in range(3)]
    timeseries.write(RAW_EVENTS, points, "batch-a")
    timeseries.write(RAW_EVENTS, points, "batch-a")  # a replayed run
    timeseries.write(RAW_EVENTS, points, "batch-b")  # an overlapping range
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + HOUR_NS, {"citizenID": citizen})
    assert df["eventID"].tolist() == ["e0", "e1", "e2"]


def test_same_tags_and_time_keep_the_newest_values_other_tags_are_another_point(timeseries, base_ns, citizen):
    timeseries.write(RAW_EVENTS, [event(citizen, base_ns, "e0", impact=1)], "first")
    timeseries.write(RAW_EVENTS, [event(citizen, base_ns, "e0", impact=7)], "second")
    timeseries.write(RAW_EVENTS, [event(citizen, base_ns, "e1", impact=3, city="Oslo")], "third")
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + SECOND_NS, {"citizenID": citizen})
    assert sorted(zip(df["eventID"], df["score_impact"])) == [("e0", 7.0), ("e1", 3.0)]


def test_tag_filter_and_limit(timeseries, base_ns, citizen):
    other = citizen + "-other"
    points = [event(c, base_ns + i * SECOND_NS, f"{c}-{i}") for i in range(4) for c in (citizen, other)]
    timeseries.write(RAW_EVENTS, points, "batch")
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + HOUR_NS, {"citizenID": other}, limit=2)
    assert df["eventID"].tolist() == [f"{other}-0", f"{other}-1"]
    quoted = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + HOUR_NS, {"citizenID": '" or true or "'})
    assert quoted.empty  # a value is data, never query text


def test_event_time_ns_separates_events_of_the_same_millisecond(timeseries, base_ns, citizen):
    ms = base_ns // 1_000_000
    points = [event(citizen, event_time_ns(ms, f"evt-{i}"), f"evt-{i}") for i in range(20)]
    timeseries.write(RAW_EVENTS, points, "same-ms")
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, ms * 1_000_000, (ms + 1) * 1_000_000, {"citizenID": citizen})
    assert sorted(df["eventID"]) == sorted(f"evt-{i}" for i in range(20))
    assert event_time_ns(ms, "evt-3") == event_time_ns(ms, "evt-3")


def test_int_fields_and_other_measurements(timeseries, base_ns, citizen):
    change = Point(
        SCORE_CHANGE_HISTORY,
        {"citizenID": citizen, "reasonCategory": "EVENT_IMPACT", "triggeringRuleID": "R-1"},
        {"oldScore": 500, "newScore": 512.5, "changeAmount": 12.5, "relatedEventID": "e1", "tier": "Standard"},
        base_ns,
    )
    timeseries.write(DERIVED_METRICS, [change], "changes")
    df = timeseries.query(DERIVED_METRICS, SCORE_CHANGE_HISTORY, base_ns, base_ns + 1, {"citizenID": citizen})
    row = df.iloc[0]
    assert (row["oldScore"], row["newScore"], row["tier"], row["triggeringRuleID"]) == (500.0, 512.5, "Standard", "R-1")
    decay = Point(
        SCORE_CHANGE_HISTORY,
        {"citizenID": citizen, "reasonCategory": "DECAY_ADJUSTMENT", "triggeringRuleID": ""},
        {"newScore": 511.5},
        base_ns + 5,
    )
    timeseries.write(DERIVED_METRICS, [decay], "decay")
    df = timeseries.query(DERIVED_METRICS, SCORE_CHANGE_HISTORY, base_ns + 5, base_ns + 6, {"citizenID": citizen})
    assert df["triggeringRuleID"].isna().all() and df["newScore"].tolist() == [511.5]  # an empty tag is no tag


@pytest.mark.parametrize(
    "bucket, point, message",
    [
        (RAW_EVENTS, Point("nope", {}, {"x": 1}, 1), "unknown measurement 'nope'"),
        (DERIVED_METRICS, Point(CITIZEN_EVENT, {}, {"eventID": "e"}, 1), "belongs to bucket 'raw_events'"),
        (RAW_EVENTS, Point(CITIZEN_EVENT, {"citizenId": "c"}, {}, 1), "unknown tag(s) ['citizenId']"),
        (RAW_EVENTS, Point(CITIZEN_EVENT, {}, {"scoreImpact": 1.0}, 1), "unknown field(s) ['scoreImpact']"),
    ],
)
def test_points_outside_the_schema_are_refused_naming_what_is_wrong(timeseries, bucket, point, message):
    with pytest.raises(ValueError) as err:
        timeseries.write(bucket, [point], "bad")
    assert message in str(err.value)


def test_query_on_an_undeclared_tag_is_refused(timeseries, base_ns):
    with pytest.raises(ValueError, match="unknown tag"):
        timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + 1, {"eventID": "x"})


def test_embedded_retention_removes_expired_points_only(embedded_timeseries, base_ns, citizen):
    timeseries = embedded_timeseries
    raw_ns = BUCKET_RETENTION_S[RAW_EVENTS] * SECOND_NS
    timeseries.write(RAW_EVENTS, [event(citizen, base_ns + i * SECOND_NS, f"e{i}") for i in range(4)], "mixed")
    timeseries.write(RAW_EVENTS, [event(citizen, base_ns - HOUR_NS, "old")], "old")
    now = base_ns + 2 * SECOND_NS + raw_ns  # e0 and e1 (and "old") are past the 30 days
    assert timeseries.enforce_retention(now) == 3
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, 0, now, {"citizenID": citizen})
    assert df["eventID"].tolist() == ["e2", "e3"]
    assert timeseries.enforce_retention(now) == 0


def test_query_of_an_empty_range_has_the_declared_columns(timeseries, base_ns):
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns - HOUR_NS, base_ns - HOUR_NS + 1, {"citizenID": "nobody"})
    assert df.empty and "score_impact" in df.columns and isinstance(df, pd.DataFrame)


def test_a_reader_lists_again_when_a_file_vanishes_under_it(embedded_timeseries, base_ns, citizen, monkeypatch):
    timeseries = embedded_timeseries
    timeseries.write(RAW_EVENTS, [event(citizen, base_ns, "e0")], "kept")
    listings = []
    real_files = timeseries._files

    def files_with_a_vanished_one(spec):
        listings.append(spec.name)
        found = real_files(spec)
        return found + [found[0] + ".removed-by-retention.parquet"] if len(listings) == 1 else found

    monkeypatch.setattr(timeseries, "_files", files_with_a_vanished_one)
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + 1, {"citizenID": citizen})
    assert df["eventID"].tolist() == ["e0"] and len(listings) == 2


def test_a_columnar_batch_is_written_like_the_same_points(timeseries, base_ns, citizen):
    """write_table: absent columns and nulls are absent fields, an empty tag is no tag, a replay keeps one copy."""
    table = pa.table(
        {
            "time_ns": [base_ns, base_ns + SECOND_NS],
            "citizenID": [citizen, citizen],
            "eventType": ["financial", "social"],
            "city": ["", None],
            "eventID": ["t0", "t1"],
            "confidence": [1, 0.5],
            "payload_amount": [12.5, None],
        }
    )
    assert timeseries.write_table(RAW_EVENTS, CITIZEN_EVENT, table, "columns") == 2
    assert timeseries.write_table(RAW_EVENTS, CITIZEN_EVENT, table, "columns") == 2
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + 2 * SECOND_NS, {"citizenID": citizen})
    assert df["eventID"].tolist() == ["t0", "t1"]
    assert df["confidence"].tolist() == [1.0, 0.5]
    assert df["payload_amount"].tolist()[0] == 12.5 and pd.isna(df["payload_amount"].tolist()[1])
    assert df["city"].isna().all() and df["severity"].isna().all()
    assert timeseries.write_table(RAW_EVENTS, CITIZEN_EVENT, table.slice(0, 0), "columns") == 0  # a rerun with nothing
    assert (
        len(timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + 2 * SECOND_NS, {"citizenID": citizen})) == 2
    )


def test_a_columnar_batch_with_an_undeclared_column_is_refused(timeseries, base_ns, citizen):
    table = pa.table({"time_ns": [base_ns], "citizenID": [citizen], "colour": ["red"]})
    with pytest.raises(ValueError, match="colour"):
        timeseries.write_table(RAW_EVENTS, CITIZEN_EVENT, table, "bad")
    with pytest.raises(ValueError, match="belongs to bucket"):
        timeseries.write_table(DERIVED_METRICS, CITIZEN_EVENT, table, "bad")


def test_points_older_than_the_bucket_retention_are_skipped_not_refused(timeseries, base_ns, citizen):
    """InfluxDB refuses points beyond a bucket's retention (HTTP 422); every adapter skips them instead, and the
    count a write returns leaves them out, so no event's age can fail a run."""
    too_old = base_ns - (BUCKET_RETENTION_S[RAW_EVENTS] + DAY_S) * SECOND_NS
    points = [event(citizen, too_old, "old"), event(citizen, base_ns, "fresh")]
    assert timeseries.write(RAW_EVENTS, points, "mixed-ages") == 1
    table = pa.table(
        {"time_ns": [too_old, base_ns + SECOND_NS], "citizenID": [citizen] * 2, "eventID": ["old2", "new2"]}
    )
    assert timeseries.write_table(RAW_EVENTS, CITIZEN_EVENT, table, "mixed-ages-columns") == 1
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, too_old - SECOND_NS, base_ns + HOUR_NS, {"citizenID": citizen})
    assert df["eventID"].tolist() == ["fresh", "new2"]
    assert timeseries.write(RAW_EVENTS, points[:1], "only-old") == 0


def test_point_times_come_back_to_the_nanosecond(timeseries, base_ns, citizen):
    t = base_ns + 123_456_789
    timeseries.write(RAW_EVENTS, [event(citizen, t, "ns")], "ns")
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + SECOND_NS, {"citizenID": citizen})
    assert df["time_ns"].tolist() == [t]


def test_tag_values_with_separators_quotes_and_backslashes_inside_round_trip(timeseries, base_ns, citizen):
    odd = f'{citizen} a,b=c "q" back\\slash ünï'
    timeseries.write(RAW_EVENTS, [event(odd, base_ns, "odd", city="São Paulo, SP")], "odd")
    df = timeseries.query(RAW_EVENTS, CITIZEN_EVENT, base_ns, base_ns + 1, {"citizenID": odd})
    assert (df["citizenID"].tolist(), df["city"].tolist()) == ([odd], ["São Paulo, SP"])


@pytest.mark.parametrize("value", ["ends-with\\", "line\nbreak"])
def test_tag_values_line_protocol_cannot_carry_are_refused(timeseries, base_ns, value):
    with pytest.raises(ValueError, match="citizenID"):
        timeseries.write(RAW_EVENTS, [event(value, base_ns, "bad")], "bad-tag")
    table = pa.table({"time_ns": [base_ns], "citizenID": [value], "eventID": ["bad"]})
    with pytest.raises(ValueError, match="citizenID"):
        timeseries.write_table(RAW_EVENTS, CITIZEN_EVENT, table, "bad-tag")
