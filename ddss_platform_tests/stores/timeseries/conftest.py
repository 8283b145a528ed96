"""The time-series adapters a contract test runs on: embedded, and the InfluxDB adapter on a real InfluxDB 2 (started
for the session, or the one DDSS_TEST_INFLUX_URL names). On InfluxDB each test gets an organisation of its own
(its buckets and tasks), removed afterwards: system-wide metrics see only the test's points."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from ddss_platform.settings import Settings
from ddss_platform.stores.timeseries import open_timeseries
from ddss_platform_tests.fixtures.production import own_organisation

ADAPTERS = ["embedded", pytest.param("influx", marks=pytest.mark.live)]


@pytest.fixture
def embedded_timeseries(tmp_path):
    """The embedded adapter alone, for what only it has (files, the retention it enforces itself)."""
    store = open_timeseries(Settings.from_env({"DDSS_HOME": str(tmp_path / "ddss")}))
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture(params=ADAPTERS)
def timeseries(request, tmp_path):
    env = {"DDSS_HOME": str(tmp_path / "ddss")}
    with own_organisation(request.getfixturevalue("influx_url")) if request.param == "influx" else _none() as url:
        if url:
            env["DDSS_TIMESERIES_URL"] = url
        store = open_timeseries(Settings.from_env(env))
        store.ensure_schema()
        yield store
        store.close()


@contextmanager
def _none():
    yield None
