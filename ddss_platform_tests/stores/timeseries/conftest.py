"""The time-series adapters a contract test runs on: embedded, and the InfluxDB adapter on a real InfluxDB 2 (started
for the session, or the one DDSS_TEST_INFLUX_URL names). On InfluxDB each test gets an organisation of its own
(its buckets and tasks), removed afterwards: system-wide metrics see only the test's points."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest

from ddss_platform.settings import Settings, parse_store_url
from ddss_platform.stores.timeseries import open_timeseries

ADAPTERS = ["embedded", pytest.param("influx", marks=pytest.mark.live)]


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
def own_organisation(server_url: str):
    """A fresh organisation on the InfluxDB of ``server_url`` (whose token is an operator's); yields its URL."""
    from influxdb_client import InfluxDBClient

    url = parse_store_url("DDSS_TIMESERIES_URL", server_url)
    (host, port), token = url.hosts[0], url.user
    with InfluxDBClient(url=f"http://{host}:{port}", token=token) as client:
        org = client.organizations_api().create_organization(name=f"test-{uuid.uuid4().hex[:12]}")
        try:
            yield f"influxdb://{token}@{host}:{port}/{org.name}"
        finally:
            client.organizations_api().delete_organization(org.id)


@contextmanager
def _none():
    yield None
