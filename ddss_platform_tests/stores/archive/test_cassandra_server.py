"""What only the CQL server shows, on a real one (Apache Cassandra 5, run as a strict cluster: ALLOW FILTERING is
refused by its guardrail, so every contract test there also proves its reads are keyed)."""

from __future__ import annotations

import time
import uuid

import pytest
from cassandra import ConsistencyLevel, InvalidRequest

from ddss_platform.settings import Settings
from ddss_platform.stores.archive import DAY_MS, day_start_ms, open_archive
from ddss_platform.stores.archive.scylla import ScyllaArchive

pytestmark = pytest.mark.live
FIVE_YEARS_S = 157_680_000


def _open(netloc: str, query: str = "") -> ScyllaArchive:
    keyspace = f"ddss_test_{uuid.uuid4().hex[:10]}"
    url = f"scylla://{netloc}/{keyspace}?replication_class=SimpleStrategy&replication_factor=1{query}"
    store = open_archive(Settings.from_env({"DDSS_ARCHIVE_URL": url}))
    store.ensure_schema()
    return store


@pytest.fixture
def cassandra(cassandra_netloc):
    store = _open(cassandra_netloc)
    yield store
    store._session.execute(f"DROP KEYSPACE IF EXISTS {store.keyspace}")
    store.close()


def _event(i: int, at_ms: int) -> dict:
    return {
        "event_id": f"e{i}",
        "citizen_id": f"c{i}",
        "event_time": at_ms,
        "status": "scored",
        "topic": "citizen-events",
        "partition": 0,
        "offset": i,
    }


def test_the_server_refuses_allow_filtering_so_the_contract_runs_on_keyed_reads_only(cassandra):
    with pytest.raises(InvalidRequest, match="allow_filtering"):
        cassandra._session.execute(
            f"SELECT * FROM {cassandra.keyspace}.events_archive WHERE status = 'x' ALLOW FILTERING"
        )


def test_every_statement_runs_at_local_quorum_unless_the_url_says_otherwise(cassandra, cassandra_netloc):
    result = cassandra._session.execute(f"SELECT * FROM {cassandra.keyspace}.rule_application_state LIMIT 1")
    assert result.response_future.message.consistency_level == ConsistencyLevel.LOCAL_QUORUM
    other = _open(cassandra_netloc, "&consistency=ONE")
    try:
        result = other._session.execute(f"SELECT * FROM {other.keyspace}.rule_application_state LIMIT 1")
        assert result.response_future.message.consistency_level == ConsistencyLevel.ONE
    finally:
        other._session.execute(f"DROP KEYSPACE IF EXISTS {other.keyspace}")
        other.close()


def _table_options(store: ScyllaArchive) -> dict[str, int]:
    rows = store._session.execute(
        "SELECT table_name, default_time_to_live FROM system_schema.tables WHERE keyspace_name = %s", (store.keyspace,)
    )
    return {r["table_name"]: r["default_time_to_live"] for r in rows}


def test_archived_rows_and_score_history_expire_after_five_years(cassandra):
    ttl = _table_options(cassandra)
    for table in ("events_archive", "events_by_day", "event_lookup_by_id", "dataset_days", "citizen_score_history"):
        assert ttl[table] == FIVE_YEARS_S, table


def test_cooldown_state_collections_are_frozen_single_cells(cassandra):
    rows = cassandra._session.execute(
        "SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = %s AND table_name = %s",
        (cassandra.keyspace, "rule_application_state"),
    )
    types = {r["column_name"]: r["type"] for r in rows}
    assert types["applied_times"] == "frozen<list<bigint>>"
    assert types["guard_offsets"] == "frozen<map<text, bigint>>"


def test_rows_go_when_the_table_ttl_passes(cassandra):
    """The server expires rows by the tables' default TTL (5 years there; 10 s here, to see it happen: long enough
    for the read right after the write on a busy machine, where 1 s had already passed once)."""
    for table in ("events_archive", "events_by_day", "event_lookup_by_id"):
        cassandra._session.execute(f"ALTER TABLE {cassandra.keyspace}.{table} WITH default_time_to_live = 10")
    now = int(time.time() * 1000)
    cassandra.write_events([_event(i, now) for i in range(3)], "ttl")
    assert cassandra.read_event("e1") is not None
    deadline = time.monotonic() + 90
    while cassandra.read_event("e1") is not None or cassandra.count_by_day():
        assert time.monotonic() < deadline, "rows outlived their 10 s TTL by 80 s"
        time.sleep(0.5)
    assert cassandra.recent_events("c1", 5) == []


def test_daily_reads_touch_only_the_days_listed(cassandra):
    day = day_start_ms("2026-01-10")
    cassandra.write_events([_event(i, day + i * DAY_MS) for i in range(3)], "days")
    assert cassandra.count_by_day() == {"2026-01-10": 1, "2026-01-11": 1, "2026-01-12": 1}
    assert cassandra.count_by_day("2026-01-11", "2026-01-11") == {"2026-01-11": 1}
    assert cassandra.read_events(day="2026-01-12")["event_id"].tolist() == ["e2"]
    assert cassandra.archive_path() is None  # Spark reads the day table through the Cassandra connector
