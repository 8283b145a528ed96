"""What the ScyllaDB adapter sends: CQL text and bound values, against a fake session and a fake
execute_concurrent_with_args."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from ddss_platform.settings import SettingsError, parse_store_url
from ddss_platform.stores.archive import (
    AGGREGATE_TABLES,
    CREDIT_SCORE_AGGREGATES,
    EVENTS_ARCHIVE,
    SCORE_HISTORY_COLUMNS,
    CooldownRow,
    day_start_ms,
    scylla,
)
from ddss_platform.stores.archive.scylla import ScyllaArchive, keyspace_cql, replication_from_query, table_statements

NTS3 = {"class": "NetworkTopologyStrategy", "replication_factor": 3}


class Prepared:
    def __init__(self, cql):
        self.cql = cql


class FakeSession:
    """Records every statement; `answer(cql, params)` gives the rows a statement returns."""

    def __init__(self, answer=lambda cql, params: []):
        self.answer, self.executed, self.concurrent = answer, [], []

    def prepare(self, cql):
        return Prepared(cql)

    def execute(self, statement, params=()):
        cql = statement.cql if isinstance(statement, Prepared) else statement
        self.executed.append((cql, tuple(params)))
        return self.answer(cql, tuple(params))


@pytest.fixture
def session(monkeypatch):
    session = FakeSession()

    def run_concurrently(sess, statement, parameters, **kwargs):
        assert kwargs["concurrency"] == scylla.CONCURRENCY and kwargs["raise_on_first_error"]
        session.concurrent.append((statement.cql, [tuple(p) for p in parameters]))
        return [(True, sess.answer(statement.cql, tuple(p))) for p in parameters]

    monkeypatch.setattr(scylla, "execute_concurrent_with_args", run_concurrently)
    return session


def test_ensure_schema_creates_keyspace_and_tables_once(session):
    store = ScyllaArchive(session, "ddss", NTS3)
    actions = store.ensure_schema()
    statements = [cql for cql, _ in session.executed]
    assert (
        statements[1] == "CREATE KEYSPACE IF NOT EXISTS ddss WITH replication = "
        "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}"
    )
    created = [s for s in statements if s.startswith("CREATE TABLE")]
    assert [re.match(r"CREATE TABLE IF NOT EXISTS (\S+) ", s).group(1) for s in created] == [
        "ddss.events_archive",
        "ddss.event_lookup_by_id",
        "ddss.rule_application_state",
        "ddss.citizen_score_history",
        "ddss.credit_score_aggregates_by_region_date",
        "ddss.events_summary_by_type_location_date",
    ]
    assert "default_time_to_live = 157680000" in created[0]
    assert len(actions) == 7
    # everything exists now
    session.answer = lambda cql, params: (
        [{"keyspace_name": "ddss"}] if "keyspaces" in cql else [{"table_name": t} for t in table_statements("ddss")]
    )
    session.executed.clear()
    assert store.ensure_schema() == []
    assert all(cql.startswith("SELECT") for cql, _ in session.executed)


def test_replication_comes_from_the_url():
    assert replication_from_query("S", "") == NTS3
    assert replication_from_query("S", "replication_factor=1&replication_class=SimpleStrategy") == {
        "class": "SimpleStrategy",
        "replication_factor": 1,
    }
    assert keyspace_cql("ks", replication_from_query("S", "replication=dc1:3,dc2:2")) == (
        "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"
    )
    with pytest.raises(SettingsError, match="DDSS_ARCHIVE_URL"):
        replication_from_query("DDSS_ARCHIVE_URL", "replication_factor=three")


def test_a_url_without_a_valid_keyspace_is_refused_before_connecting():
    for raw in ("scylla://h1,h2:9042", "scylla://h1:9042/bad-name"):
        with pytest.raises(SettingsError, match="DDSS_ARCHIVE_URL"):
            ScyllaArchive.from_url(parse_store_url("DDSS_ARCHIVE_URL", raw))


def test_write_events_binds_every_column_in_schema_order(session):
    store = ScyllaArchive(session, "ks", NTS3)
    row = {n: None for n in EVENTS_ARCHIVE.names} | {
        "event_id": "e1",
        "citizen_id": "c1",
        "event_time": 1_714_521_600_123,
        "status": "no_rule",
        "topic": "citizen-events",
        "partition": 2,
        "offset": 41,
        "score_impact": 0.0,
        "payload": '{"x": 1}',
    }
    assert store.write_events([row, row | {"event_id": "e2", "offset": 42}], "ignored") == 2
    cql, params = session.concurrent[0]
    assert cql == (
        'INSERT INTO ks.events_archive ("event_id", "citizen_id", "event_time", "event_type", "event_subtype", '
        '"source_system", "region", "city", "severity", "confidence", "payload", "score_impact", "status", "topic", '
        '"partition", "offset") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
    )
    assert params[0] == (
        "e1",
        "c1",
        1_714_521_600_123,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        '{"x": 1}',
        0.0,
        "no_rule",
        "citizen-events",
        2,
        41,
    )
    assert params[1][0] == "e2" and params[1][-1] == 42


def event_row(event_id, ms, citizen="c1"):
    return {n: None for n in EVENTS_ARCHIVE.names} | {
        "event_id": event_id,
        "citizen_id": citizen,
        "event_time": datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None),
        "status": "scored",
        "topic": "t",
        "partition": 0,
        "offset": 1,
    }


def test_read_events_of_one_citizen_is_a_partition_read_with_server_limit(session):
    t = day_start_ms("2024-05-01")
    session.answer = lambda cql, params: [event_row("e2", t + 2000), event_row("e1", t + 1000)]
    df = ScyllaArchive(session, "ks", NTS3).read_events(citizen_id="c1", start_ms=t, limit=2)
    cql, params = session.executed[0]
    assert cql.endswith("FROM ks.events_archive WHERE citizen_id = ? AND event_time >= ? LIMIT 2")
    assert params == ("c1", t)
    assert df["event_id"].tolist() == ["e2", "e1"] and df["event_time"].tolist() == [t + 2000, t + 1000]


def test_read_events_by_day_or_event_id_filters_and_sorts_here(session):
    t = day_start_ms("2024-05-01")
    session.answer = lambda cql, params: [
        event_row("a", t + 5, "c2"),
        event_row("b", t + 9, "c1"),
        event_row("c", t + 7),
    ]
    df = ScyllaArchive(session, "ks", NTS3).read_events(day="2024-05-01", limit=2)
    cql, params = session.executed[0]
    assert cql.endswith("WHERE event_time >= ? AND event_time < ? ALLOW FILTERING")
    assert params == (t, t + 86_400_000)
    assert df["event_id"].tolist() == ["b", "c"]
    ScyllaArchive(session, "ks", NTS3).read_events(citizen_id="c1", event_id="b")
    assert session.executed[-1][0].endswith("WHERE citizen_id = ? AND event_id = ? ALLOW FILTERING")


def test_load_cooldowns_asks_for_citizens_in_chunks_concurrently(session):
    session.answer = lambda cql, params: [
        {"citizen_id": c, "rule_id": "R1", "applied_times": [5], "guard_offsets": {"t/0": 1}} for c in params[0][:1]
    ]
    ids = [f"c{i:03d}" for i in range(250)]
    loaded = ScyllaArchive(session, "ks", NTS3).load_cooldowns(ids + ids[:10])
    cql, params = session.concurrent[0]
    assert (
        cql == "SELECT citizen_id, rule_id, applied_times, guard_offsets FROM ks.rule_application_state "
        "WHERE citizen_id IN ?"
    )
    assert [len(p[0]) for p in params] == [100, 100, 50] and sorted(sum((p[0] for p in params), [])) == ids
    assert loaded[("c000", "R1")] == CooldownRow("c000", "R1", (5,), {"t/0": 1})


def test_save_cooldowns_writes_only_rows_past_the_guard(session):
    session.answer = lambda cql, params: (
        [{"citizen_id": "c1", "rule_id": "R1", "applied_times": [1], "guard_offsets": {"t/0": 10}}]
        if "SELECT" in cql
        else []
    )
    store = ScyllaArchive(session, "ks", NTS3)
    written = store.save_cooldowns(
        [
            CooldownRow("c1", "R1", (2,), {"t/0": 10}),
            CooldownRow("c1", "R2", (3, 4), {"t/0": 11}),
            CooldownRow("c1", "R1", (5,), {"t/1": 1}),
        ]
    )
    assert written == 2
    cql, params = session.concurrent[-1]
    assert (
        cql == "INSERT INTO ks.rule_application_state (citizen_id, rule_id, applied_times, guard_offsets) "
        "VALUES (?, ?, ?, ?)"
    )
    assert sorted(params) == [("c1", "R1", [5], {"t/0": 10, "t/1": 1}), ("c1", "R2", [3, 4], {"t/0": 11})]


def test_score_history_insert_and_read(session):
    store = ScyllaArchive(session, "ks", NTS3)
    store.write_score_history(
        [
            {
                "citizen_id": "c1",
                "changed_at": 7,
                "event_id": "e",
                "rule_id": "",
                "old_score": 1.0,
                "new_score": 2.0,
                "change": 1.0,
                "reason": "EVENT_IMPACT",
                "tier": "Standard",
            }
        ],
        "b",
    )
    cql, params = session.concurrent[0]
    assert (
        cql == f"INSERT INTO ks.citizen_score_history ({', '.join(SCORE_HISTORY_COLUMNS)}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    assert params == [("c1", 7, "e", "", 1.0, 2.0, 1.0, "EVENT_IMPACT", "Standard")]
    store.read_score_history("c1", limit=5)
    assert session.executed[-1] == (
        f"SELECT {', '.join(SCORE_HISTORY_COLUMNS)} FROM ks.citizen_score_history WHERE citizen_id = ? LIMIT ?",
        ("c1", 5),
    )


def test_recent_score_history_is_one_bound_partition_read(session):
    session.answer = lambda cql, params: [
        {
            "citizen_id": "c1",
            "changed_at": datetime(2024, 5, 1, 0, 0, 1),
            "event_id": "e",
            "rule_id": "",
            "old_score": 1.0,
            "new_score": 2.0,
            "change": 1.0,
            "reason": "EVENT_IMPACT",
            "tier": "Standard",
        }
    ]
    rows = ScyllaArchive(session, "ks", NTS3).recent_score_history("c1", 3)
    assert session.executed == [
        (
            f"SELECT {', '.join(SCORE_HISTORY_COLUMNS)} FROM ks.citizen_score_history WHERE citizen_id = ? LIMIT ?",
            ("c1", 3),
        )
    ]
    assert rows[0]["changed_at"] == day_start_ms("2024-05-01") + 1000


def test_write_events_also_writes_the_event_id_lookup(session):
    row = {n: None for n in EVENTS_ARCHIVE.names} | {
        "event_id": "e1",
        "citizen_id": "c1",
        "event_time": 1_714_521_600_123,
        "status": "scored",
        "topic": "citizen-events",
        "partition": 0,
        "offset": 1,
    }
    ScyllaArchive(session, "ks", NTS3).write_events([row], "ignored")
    assert session.concurrent[1] == (
        "INSERT INTO ks.event_lookup_by_id (event_id, citizen_id, event_time) VALUES (?, ?, ?)",
        [("e1", "c1", 1_714_521_600_123)],
    )


def test_recent_events_is_one_partition_read_with_a_bound_limit(session):
    t = day_start_ms("2024-05-01")
    session.answer = lambda cql, params: [event_row("e2", t + 2000), event_row("e1", t + 1000)]
    rows = ScyllaArchive(session, "ks", NTS3).recent_events("c1", 2)
    columns = ", ".join(f'"{c}"' for c in EVENTS_ARCHIVE.names)
    assert session.executed == [(f"SELECT {columns} FROM ks.events_archive WHERE citizen_id = ? LIMIT ?", ("c1", 2))]
    assert [(r["event_id"], r["event_time"]) for r in rows] == [("e2", t + 2000), ("e1", t + 1000)]


def test_read_event_goes_through_the_lookup_table_to_the_archive_key(session):
    t = day_start_ms("2024-05-01")
    stamp = event_row("e1", t + 1000)["event_time"]
    session.answer = lambda cql, params: (
        [{"citizen_id": "c1", "event_time": stamp}] if "event_lookup_by_id" in cql else [event_row("e1", t + 1000)]
    )
    found = ScyllaArchive(session, "ks", NTS3).read_event("e1")
    columns = ", ".join(f'"{c}"' for c in EVENTS_ARCHIVE.names)
    assert session.executed == [
        ("SELECT citizen_id, event_time FROM ks.event_lookup_by_id WHERE event_id = ?", ("e1",)),
        (
            f"SELECT {columns} FROM ks.events_archive WHERE citizen_id = ? AND event_time = ? AND event_id = ?",
            ("c1", stamp, "e1"),
        ),
    ]
    assert found["event_id"] == "e1" and found["event_time"] == t + 1000
    session.answer = lambda cql, params: []
    assert ScyllaArchive(session, "ks", NTS3).read_event("missing") is None


def test_write_aggregates_replaces_the_day(session):
    session.answer = lambda cql, params: [{"region": "north"}, {"region": "gone"}] if cql.startswith("SELECT") else []
    columns = AGGREGATE_TABLES[CREDIT_SCORE_AGGREGATES].schema.names
    row = {c: 1 for c in columns} | {"region": "north", "avg_score": 2.5}
    ScyllaArchive(session, "ks", NTS3).write_aggregates(CREDIT_SCORE_AGGREGATES, pd.DataFrame([row]), "2024-05-01")
    assert session.executed[0] == (
        "SELECT region FROM ks.credit_score_aggregates_by_region_date WHERE aggregation_date = ? ALLOW FILTERING",
        (date(2024, 5, 1),),
    )
    deletes, inserts = session.concurrent
    assert deletes == (
        "DELETE FROM ks.credit_score_aggregates_by_region_date WHERE region = ? AND aggregation_date = ?",
        [("gone", date(2024, 5, 1))],
    )
    assert inserts[0].startswith(
        "INSERT INTO ks.credit_score_aggregates_by_region_date (aggregation_date, region, citizens,"
    )
    assert inserts[1][0][:4] == (date(2024, 5, 1), "north", 1, 2.5)


def test_read_aggregates_uses_the_partition_key_when_complete(session):
    store = ScyllaArchive(session, "ks", NTS3)
    store.read_aggregates(CREDIT_SCORE_AGGREGATES, region="north", start_day="2024-05-01")
    assert session.executed[-1][0].endswith("WHERE region = ? AND aggregation_date >= ?")
    store.read_aggregates("events_summary_by_type_location_date", region="north")
    assert session.executed[-1][0].endswith("WHERE region = ? ALLOW FILTERING")


def test_schema_file_columns_match_the_port():
    def columns(table):
        body = table_statements("ks")[table]
        return [m.group(1).strip('"') for m in re.finditer(r'^\s+("?[a-z_]+"?) [a-z]', body, re.M)]

    assert sorted(columns("events_archive")) == sorted(EVENTS_ARCHIVE.names)
    assert sorted(columns("citizen_score_history")) == sorted(SCORE_HISTORY_COLUMNS)
    for name, spec in AGGREGATE_TABLES.items():
        assert sorted(columns(name)) == sorted(["aggregation_date", *spec.schema.names])
    assert columns("rule_application_state") == ["citizen_id", "rule_id", "applied_times", "guard_offsets"]
    assert columns("event_lookup_by_id") == ["event_id", "citizen_id", "event_time"]
