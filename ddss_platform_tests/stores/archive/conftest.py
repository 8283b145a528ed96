"""The archive adapters a contract test runs on: embedded always, ScyllaDB when DDSS_TEST_SCYLLA_HOSTS is set
(host1,host2:9042; each test gets its own keyspace, replication factor 1, dropped afterwards)."""

from __future__ import annotations

import os
import uuid

import pytest

from ddss_platform.settings import Settings
from ddss_platform.stores.archive import open_archive

ADAPTERS = ["embedded", pytest.param("scylla", marks=pytest.mark.live)]


@pytest.fixture(params=ADAPTERS)
def archive(request, tmp_path):
    env = {"DDSS_HOME": str(tmp_path / "ddss")}
    if request.param == "scylla":
        hosts = os.environ.get("DDSS_TEST_SCYLLA_HOSTS")
        if not hosts:
            pytest.skip("DDSS_TEST_SCYLLA_HOSTS not set")
        keyspace = f"ddss_test_{uuid.uuid4().hex[:10]}"
        env["DDSS_ARCHIVE_URL"] = f"scylla://{hosts}/{keyspace}?replication_class=SimpleStrategy&replication_factor=1"
    store = open_archive(Settings.from_env(env))
    store.ensure_schema()
    yield store
    if request.param == "scylla":
        store._session.execute(f"DROP KEYSPACE IF EXISTS {store.keyspace}")
    store.close()
