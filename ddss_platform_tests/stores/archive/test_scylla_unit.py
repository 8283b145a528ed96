"""The ScyllaDB adapter's pure parts: what the URL sets (replication, consistency, keyspace) and that the schema
file matches the port. What the server does is in test_contract.py and test_cassandra_server.py."""

from __future__ import annotations

import re

import pytest
from cassandra import ConsistencyLevel

from ddss_platform.settings import SettingsError, parse_store_url
from ddss_platform.stores.archive import AGGREGATE_TABLES, EVENTS_ARCHIVE, SCORE_HISTORY_COLUMNS
from ddss_platform.stores.archive.scylla import (
    DAY_BUCKETS,
    ScyllaArchive,
    consistency_from_query,
    day_bucket,
    keyspace_cql,
    replication_from_query,
    table_statements,
)

NTS3 = {"class": "NetworkTopologyStrategy", "replication_factor": 3}


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


def test_consistency_is_local_quorum_unless_the_url_names_another():
    assert consistency_from_query("S", "") == ConsistencyLevel.LOCAL_QUORUM
    assert consistency_from_query("S", "replication_factor=3&consistency=each_quorum") == ConsistencyLevel.EACH_QUORUM
    with pytest.raises(SettingsError, match="DDSS_ARCHIVE_URL: unknown consistency 'MOST'"):
        consistency_from_query("DDSS_ARCHIVE_URL", "consistency=most")


def test_a_url_without_a_valid_keyspace_is_refused_before_connecting():
    for raw in ("scylla://h1,h2:9042", "scylla://h1:9042/bad-name"):
        with pytest.raises(SettingsError, match="DDSS_ARCHIVE_URL"):
            ScyllaArchive.from_url(parse_store_url("DDSS_ARCHIVE_URL", raw))


def test_an_event_stays_in_one_day_bucket():
    buckets = {day_bucket(f"e{i}") for i in range(500)}
    assert buckets == set(range(DAY_BUCKETS))
    assert day_bucket("e7") == day_bucket("e7")


def test_schema_file_columns_match_the_port():
    def columns(table):
        body = table_statements("ks")[table]
        return [m.group(1).strip('"') for m in re.finditer(r'^\s+("?[a-z_]+"?) [a-z]', body, re.M)]

    assert sorted(columns("events_archive")) == sorted(EVENTS_ARCHIVE.names)
    assert sorted(columns("events_by_day")) == sorted(["event_date", "bucket", *EVENTS_ARCHIVE.names])
    assert sorted(columns("citizen_score_history")) == sorted(SCORE_HISTORY_COLUMNS)
    for name, spec in AGGREGATE_TABLES.items():
        assert sorted(columns(name)) == sorted(["aggregation_date", *spec.schema.names])
    assert columns("rule_application_state") == ["citizen_id", "rule_id", "applied_times", "guard_offsets"]
    assert columns("event_lookup_by_id") == ["event_id", "citizen_id", "event_time"]
    assert columns("dataset_days") == ["dataset", "day"]
