"""The archive port's contract: the same assertions on every configured adapter (see conftest.py)."""

from __future__ import annotations

import sqlite3
import time

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from ddss_platform.stores.archive import (
    CREDIT_SCORE_AGGREGATES,
    DAY_MS,
    EVENTS_ARCHIVE,
    EVENTS_SUMMARY,
    EVENTS_TTL_MS,
    SCORE_HISTORY_COLUMNS,
    CooldownRow,
    ScoreHistoryRow,
    day_start_ms,
    lookup_index,
)
from ddss_platform.stores.archive.embedded import EmbeddedArchive

DAY1 = day_start_ms("2024-05-01")


def row(i: int, day: int = 0, citizen: str | None = None, **changes) -> dict:
    return {
        "event_id": f"e{i}",
        "citizen_id": citizen or f"c{i % 3}",
        "event_time": DAY1 + day * DAY_MS + i * 1000,
        "event_type": "financial",
        "event_subtype": "payment_completed",
        "source_system": "bank",
        "region": "north",
        "city": "Oslo",
        "severity": 0.5,
        "confidence": 0.9,
        "payload": '{"amount": 12.5}',
        "score_impact": float(i),
        "status": "scored",
        "topic": "citizen-events",
        "partition": 1,
        "offset": 100 + i,
    } | changes


def aggregate_rows(regions: list[str], citizens: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "region": r,
                "citizens": citizens,
                "avg_score": 500.5,
                "median_score": 501.0,
                "min_score": 400.0,
                "max_score": 600.0,
                "tier_exemplary_count": 1,
                "tier_standard_count": 1,
                "tier_caution_count": 1,
                "tier_highrisk_count": 0,
                "improvements": 2,
                "deteriorations": 1,
                "last_updated": DAY1 + 5,
            }
            for r in regions
        ]
    )


def test_ensure_schema_twice_reports_nothing_to_do(archive):
    assert archive.ensure_schema() == []


def test_events_round_trip_newest_first_with_every_column(archive):
    rows = [row(i, day=i % 2) for i in range(6)]
    assert archive.write_events(rows, "citizen-events-1-100-106") == 6
    df = archive.read_events()
    assert list(df.columns) == EVENTS_ARCHIVE.names
    assert df["event_id"].tolist() == ["e5", "e3", "e1", "e4", "e2", "e0"]  # event_time DESC
    first = df.iloc[0].to_dict()
    assert first == row(5, day=1)
    assert str(df["partition"].dtype) == "int32" and str(df["offset"].dtype) == "int64"


def test_filters_by_day_citizen_event_time_range_and_limit(archive):
    archive.write_events([row(i, day=i % 2) for i in range(9)], "b")
    assert set(archive.read_events(day="2024-05-02")["event_id"]) == {"e1", "e3", "e5", "e7"}
    assert archive.read_events(citizen_id="c1")["event_id"].tolist() == ["e7", "e1", "e4"]
    assert archive.read_events(citizen_id="c1", limit=2)["event_id"].tolist() == ["e7", "e1"]
    assert archive.read_events(event_id="e4")["citizen_id"].tolist() == ["c1"]
    assert archive.read_events(citizen_id="c2", event_id="e8")["offset"].tolist() == [108]
    window = archive.read_events(start_ms=DAY1 + 2000, end_ms=DAY1 + 6000)
    assert window["event_id"].tolist() == ["e4", "e2"]
    assert archive.read_events(start_ms=DAY1, end_ms=DAY1 + 3 * DAY_MS, limit=3)["event_id"].tolist() == [
        "e7",
        "e5",
        "e3",
    ]
    assert archive.read_events(citizen_id="nobody").empty


def test_writes_are_idempotent_by_event_id(archive):
    rows = [row(i) for i in range(5)]
    archive.write_events(rows, "citizen-events-0-0-5")
    archive.write_events(rows, "citizen-events-0-0-5")  # replayed run
    archive.write_events(rows[2:], "citizen-events-0-2-7")  # overlapping range
    assert sorted(archive.read_events()["event_id"]) == ["e0", "e1", "e2", "e3", "e4"]
    assert archive.count_by_day() == {"2024-05-01": 5}


def test_count_by_day_with_bounds(archive):
    archive.write_events([row(i, day=i % 3) for i in range(7)], "b")
    assert archive.count_by_day() == {"2024-05-01": 3, "2024-05-02": 2, "2024-05-03": 2}
    assert archive.count_by_day("2024-05-02", "2024-05-02") == {"2024-05-02": 2}


def test_arrow_table_input(archive):
    table = pa.Table.from_pylist([row(i) for i in range(3)])
    assert archive.write_events(table, "arrow") == 3
    assert archive.read_events(event_id="e2")["score_impact"].tolist() == [2.0]


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"citizen_id": None}, "lack a value for ['citizen_id']"),
        ({"status": "maybe"}, "status must be one of"),
    ],
)
def test_bad_rows_are_refused_naming_the_problem(archive, bad, message):
    with pytest.raises(ValueError) as err:
        archive.write_events([row(0) | bad], "bad")
    assert message in str(err.value)
    assert archive.read_events().empty


def test_cooldowns_round_trip_in_one_call_with_the_offset_guard(archive):
    rows = [
        CooldownRow("c1", "R1", (1000, 2000), {"citizen-events/0": 10}),
        CooldownRow("c1", "R2", (1500,), {"citizen-events/0": 11}),
        CooldownRow("c2", "R1", (), {"citizen-events/1": 3}),
    ]
    assert archive.save_cooldowns(rows) == 3
    loaded = archive.load_cooldowns(["c1", "c2", "c3"])
    assert loaded == {(r.citizen_id, r.rule_id): r for r in rows}
    # a replay (offset not newer) changes nothing; a newer offset of another partition adds to the guard
    assert archive.save_cooldowns([CooldownRow("c1", "R1", (9,), {"citizen-events/0": 10})]) == 0
    assert archive.save_cooldowns([CooldownRow("c1", "R1", (2000, 3000), {"citizen-events/2": 1})]) == 1
    assert archive.load_cooldowns(["c1"])[("c1", "R1")] == CooldownRow(
        "c1", "R1", (2000, 3000), {"citizen-events/0": 10, "citizen-events/2": 1}
    )
    assert archive.load_cooldowns([]) == {}


def test_score_history_is_keyed_and_newest_first(archive):
    changes = [
        ScoreHistoryRow("c1", DAY1 + i, f"e{i}", "R1", 500.0 + i, 501.0 + i, 1.0, "EVENT_IMPACT", "Standard")
        for i in range(4)
    ]
    decay = {
        "citizen_id": "c1",
        "changed_at": DAY1 + 10,
        "event_id": "",
        "rule_id": "",
        "old_score": 504.0,
        "new_score": 503.0,
        "change": -1.0,
        "reason": "DECAY_ADJUSTMENT",
        "tier": "Standard",
    }
    assert archive.write_score_history(changes + [decay], "h") == 5
    archive.write_score_history(changes + [decay], "h")  # replayed run
    archive.write_score_history(changes[2:], "h2")  # overlapping batch
    df = archive.read_score_history("c1", limit=3)
    assert list(df.columns) == SCORE_HISTORY_COLUMNS
    assert df["changed_at"].tolist() == [DAY1 + 10, DAY1 + 3, DAY1 + 2]
    assert df.iloc[0]["reason"] == "DECAY_ADJUSTMENT" and df.iloc[0]["rule_id"] == ""
    assert len(archive.read_score_history("c1")) == 5 and archive.read_score_history("c2").empty


def test_aggregates_replace_a_day_and_filter(archive):
    archive.write_aggregates(CREDIT_SCORE_AGGREGATES, aggregate_rows(["north", "south"]), "2024-05-01")
    archive.write_aggregates(CREDIT_SCORE_AGGREGATES, aggregate_rows(["north"], citizens=9), "2024-05-02")
    archive.write_aggregates(CREDIT_SCORE_AGGREGATES, aggregate_rows(["north"], citizens=4), "2024-05-01")  # rerun
    df = archive.read_aggregates(CREDIT_SCORE_AGGREGATES)
    assert list(zip(df["aggregation_date"], df["region"], df["citizens"])) == [
        ("2024-05-01", "north", 4),
        ("2024-05-02", "north", 9),
    ]
    assert df.iloc[0]["avg_score"] == 500.5 and df.iloc[0]["last_updated"] == DAY1 + 5
    assert archive.read_aggregates(CREDIT_SCORE_AGGREGATES, region="north", start_day="2024-05-02")[
        "citizens"
    ].tolist() == [9]
    assert archive.read_aggregates(CREDIT_SCORE_AGGREGATES, end_day="2024-05-01")["citizens"].tolist() == [4]
    assert archive.read_aggregates(CREDIT_SCORE_AGGREGATES, region="west").empty


def test_events_summary_table(archive):
    rows = pd.DataFrame(
        {
            "event_type": ["financial", "social"],
            "region": ["north", "north"],
            "event_count": [5, 2],
            "total_score_impact": [10.0, 4.0],
            "avg_score_impact": [2.0, 2.0],
            "distinct_citizens": [3, 2],
            "last_updated": [DAY1, DAY1],
            "aggregation_date": ["2024-05-01"] * 2,
        }
    )
    assert archive.write_aggregates(EVENTS_SUMMARY, rows, "2024-05-01") == 2
    df = archive.read_aggregates(EVENTS_SUMMARY, event_type="social", region="north")
    assert df[["aggregation_date", "event_count", "distinct_citizens"]].values.tolist() == [["2024-05-01", 2, 2]]


def test_aggregate_misuse_is_refused(archive):
    with pytest.raises(ValueError, match="unknown aggregate table"):
        archive.read_aggregates("nope")
    with pytest.raises(ValueError, match="no column 'event_type'"):
        archive.read_aggregates(CREDIT_SCORE_AGGREGATES, event_type="financial")
    with pytest.raises(ValueError, match="missing column"):
        archive.write_aggregates(
            CREDIT_SCORE_AGGREGATES, aggregate_rows(["north"]).drop(columns=["citizens"]), "2024-05-01"
        )


def test_embedded_archive_is_a_hive_partitioned_parquet_dataset(embedded_archive):
    archive = embedded_archive
    archive.write_events([row(i, day=i % 2) for i in range(4)], "b")
    path = archive.archive_path()
    counts = duckdb.sql(
        "SELECT CAST(event_date AS VARCHAR), count(*)"
        f" FROM read_parquet('{path}/*/*.parquet', hive_partitioning = true)"
        " GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert counts == [("2024-05-01", 2), ("2024-05-02", 2)]


def test_embedded_ttl_removes_events_older_than_five_years(embedded_archive):
    archive = embedded_archive
    archive.write_events([row(i, day=i % 2) for i in range(6)], "b")
    now = DAY1 + EVENTS_TTL_MS + DAY_MS + 2500  # day 1 and e1 (day 2, +1 s) are past the TTL
    assert archive.enforce_ttl(now) == 4
    assert sorted(archive.read_events()["event_id"]) == ["e3", "e5"]
    assert archive.enforce_ttl(now) == 0


def test_recent_events_are_the_citizens_newest_rows(archive):
    archive.write_events([row(i, day=i % 2) for i in range(9)], "b")
    archive.write_events([row(4, day=0)], "replay")  # written again: still one row
    newest = archive.recent_events("c1", 2)
    assert [r["event_id"] for r in newest] == ["e7", "e1"]
    assert newest[0] == row(7, day=1)  # every column, plain values
    assert [r["event_id"] for r in archive.recent_events("c1", 10)] == ["e7", "e1", "e4"]
    assert archive.recent_events("nobody", 5) == []


def test_read_event_by_id(archive):
    archive.write_events([row(i, day=i % 2) for i in range(4)], "b")
    assert archive.read_event("e3") == row(3, day=1)
    assert archive.read_event("missing") is None


def test_recent_score_history_is_read_score_history_as_dicts(archive):
    changes = [
        ScoreHistoryRow("c1", DAY1 + i, f"e{i}", "R1", 500.0 + i, 501.0 + i, 1.0, "EVENT_IMPACT", "Standard")
        for i in range(4)
    ]
    archive.write_score_history(changes, "h")
    recent = archive.recent_score_history("c1", 3)
    assert [r["changed_at"] for r in recent] == [DAY1 + 3, DAY1 + 2, DAY1 + 1]
    assert recent == archive.read_score_history("c1", limit=3).to_dict("records")
    assert archive.recent_score_history("c2", 3) == []


def test_embedded_ttl_removes_expired_events_from_the_lookups_too(embedded_archive):
    archive = embedded_archive
    archive.write_events([row(i, day=i % 2) for i in range(6)], "b")
    archive.enforce_ttl(DAY1 + EVENTS_TTL_MS + DAY_MS + 2500)
    assert archive.read_event("e0") is None and archive.read_event("e3") is not None
    assert [r["event_id"] for r in archive.recent_events("c0", 10)] == ["e3"]


def test_embedded_lookup_index_is_built_from_files_written_before_it(tmp_path):
    """Writers (a scoring run: events, cooldown state, score history) leave the side index alone: ensure_schema
    indexes the files already archived."""
    old = EmbeddedArchive(tmp_path)
    old.write_events([row(i) for i in range(3)], "b")
    old.save_cooldowns([CooldownRow("c0", "R1", (DAY1,), {"citizen-events/0": 0})])
    assert list(old.load_cooldowns(["c0"])) == [("c0", "R1")]
    old.write_score_history(
        [ScoreHistoryRow("c0", DAY1, "e0", "R1", 500.0, 501.0, 1.0, "EVENT_IMPACT", "Standard")], "b"
    )
    old.close()
    assert not (tmp_path / "events_index.sqlite").exists() and not (tmp_path / "history_index.sqlite").exists()
    store = EmbeddedArchive(tmp_path)
    actions = store.ensure_schema()
    assert "3 row(s) of events_by_citizen indexed from 1 file(s)" in actions
    assert "1 row(s) of history_by_citizen indexed from 1 file(s)" in actions
    assert store.read_event("e2") == row(2)
    assert [r["event_id"] for r in store.recent_score_history("c0", 10)] == ["e0"]
    store.close()


def test_embedded_lookup_index_written_by_writers_is_rebuilt(tmp_path):
    """An index from before files were tracked (filled by write_events) is replaced, then filled from the files."""
    store = EmbeddedArchive(tmp_path)
    store.write_events([row(i) for i in range(3)], "b")
    legacy = sqlite3.connect(tmp_path / "events_index.sqlite")
    legacy.execute("CREATE TABLE events_by_citizen (event_id TEXT, citizen_id TEXT)")
    legacy.execute("INSERT INTO events_by_citizen VALUES ('ghost', 'c0')")
    legacy.commit()
    legacy.close()
    assert "3 row(s) of events_by_citizen indexed from 1 file(s)" in store.ensure_schema()
    assert [r["event_id"] for r in store.recent_events("c0", 10)] == ["e0"]
    store.close()


def test_embedded_score_history_kept_in_sqlite_by_an_older_version_moves_to_parquet(tmp_path):
    """A data dir from before the history moved to Parquet keeps its rows, once, and reads them with the new ones."""
    legacy = sqlite3.connect(tmp_path / "archive_state.sqlite")
    legacy.execute(
        "CREATE TABLE citizen_score_history (citizen_id TEXT NOT NULL, changed_at INTEGER NOT NULL,"
        " event_id TEXT NOT NULL, rule_id TEXT NOT NULL, old_score REAL, new_score REAL, change REAL,"
        " reason TEXT, tier TEXT, PRIMARY KEY (citizen_id, changed_at, event_id, rule_id)) WITHOUT ROWID"
    )
    legacy.execute(
        "INSERT INTO citizen_score_history VALUES ('c1', ?, 'e0', 'R1', 500, 501, 1, 'EVENT_IMPACT', 'Standard')",
        (DAY1,),
    )
    legacy.commit()
    legacy.close()
    store = EmbeddedArchive(tmp_path)
    assert "moved 1 score change(s) from archive_state.sqlite to citizen_score_history/" in store.ensure_schema()
    assert not any("score change" in action for action in store.ensure_schema())
    store.write_score_history(
        [ScoreHistoryRow("c1", DAY1 + 1, "e1", "R1", 501.0, 503.0, 2.0, "EVENT_IMPACT", "Standard")], "b"
    )
    assert [(r["event_id"], r["new_score"]) for r in store.recent_score_history("c1", 10)] == [
        ("e1", 503.0),
        ("e0", 501.0),
    ]
    store.close()


def test_embedded_score_history_is_a_parquet_dataset_by_day(tmp_path):
    store = EmbeddedArchive(tmp_path)
    store.write_score_history(
        [
            ScoreHistoryRow("c1", DAY1 + d * DAY_MS, "e", "R1", 1.0, 2.0, 1.0, "EVENT_IMPACT", "Standard")
            for d in range(2)
        ],
        "b",
    )
    files = sorted(
        p.relative_to(tmp_path / "citizen_score_history").as_posix()
        for p in (tmp_path / "citizen_score_history").rglob("*.parquet")
    )
    assert files == ["changed_date=2024-05-01/b.parquet", "changed_date=2024-05-02/b.parquet"]
    store.close()


def test_score_history_rows_without_a_key_are_refused(archive):
    with pytest.raises(ValueError, match="event_id"):
        archive.write_score_history(
            [
                {
                    "citizen_id": "c1",
                    "changed_at": DAY1,
                    "event_id": None,
                    "rule_id": "R1",
                    "old_score": 1.0,
                    "new_score": 2.0,
                    "change": 1.0,
                    "reason": "x",
                    "tier": "y",
                }
            ],
            "b",
        )


def test_embedded_lookups_follow_a_replay_that_rewrites_a_file(tmp_path):
    store = EmbeddedArchive(tmp_path)
    store.write_events([row(i) for i in range(3)], "b")
    assert store.read_event("e1")["status"] == "scored"
    store.write_events([row(1, status="no_rule"), row(5)], "b")  # same batch id: the file is replaced
    assert store.read_event("e1")["status"] == "no_rule"
    assert store.read_event("e0") is None and store.read_event("e5") == row(5)
    store.close()


def test_embedded_lookups_see_another_process_writes_within_the_check_interval(tmp_path, monkeypatch):
    reader, writer = EmbeddedArchive(tmp_path), EmbeddedArchive(tmp_path)
    reader.ensure_schema()
    assert reader.read_event("e1") is None
    clock = [time.monotonic()]
    monkeypatch.setattr(lookup_index.time, "monotonic", lambda: clock[0])
    writer.write_events([row(1)], "b")
    assert reader.read_event("e1") is None  # the listing is throttled: reads may lag writes this much
    clock[0] += lookup_index.CHECK_INTERVAL_S
    assert reader.read_event("e1") == row(1)
    reader.close()
    writer.close()
