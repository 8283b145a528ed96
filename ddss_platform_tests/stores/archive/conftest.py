"""The archive adapters a contract test runs on: embedded, and the ScyllaDB adapter on a real CQL server (Apache
Cassandra 5 started for the session, or the hosts DDSS_TEST_SCYLLA_HOSTS names); each test gets its own keyspace,
replication factor 1, dropped afterwards."""

from __future__ import annotations

import uuid

import pytest

from ddss_platform.settings import Settings
from ddss_platform.stores.archive import open_archive

ADAPTERS = ["embedded", pytest.param("cassandra", marks=pytest.mark.live)]


@pytest.fixture
def embedded_archive(tmp_path):
    """The embedded adapter alone, for what only it has (files, the TTL it enforces itself)."""
    store = open_archive(Settings.from_env({"DDSS_HOME": str(tmp_path / "ddss")}))
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture(params=ADAPTERS)
def archive(request, tmp_path):
    env = {"DDSS_HOME": str(tmp_path / "ddss")}
    if request.param == "cassandra":
        hosts = request.getfixturevalue("cassandra_netloc")
        keyspace = f"ddss_test_{uuid.uuid4().hex[:10]}"
        env["DDSS_ARCHIVE_URL"] = f"scylla://{hosts}/{keyspace}?replication_class=SimpleStrategy&replication_factor=1"
    store = open_archive(Settings.from_env(env))
    store.ensure_schema()
    yield store
    if request.param == "cassandra":
        store._session.execute(f"DROP KEYSPACE IF EXISTS {store.keyspace}")
    store.close()
