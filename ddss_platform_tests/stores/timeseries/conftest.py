"""The time-series adapters a contract test runs on: embedded always, InfluxDB when DDSS_TEST_INFLUX_URL is set
(influxdb://TOKEN@host:8086/ORG; the tests write under random citizen ids at recent times)."""

from __future__ import annotations

import os

import pytest

from ddss_platform.settings import Settings
from ddss_platform.stores.timeseries import open_timeseries

ADAPTERS = ["embedded", pytest.param("influx", marks=pytest.mark.live)]


@pytest.fixture(params=ADAPTERS)
def timeseries(request, tmp_path):
    env = {"DDSS_HOME": str(tmp_path / "ddss")}
    if request.param == "influx":
        url = os.environ.get("DDSS_TEST_INFLUX_URL")
        if not url:
            pytest.skip("DDSS_TEST_INFLUX_URL not set")
        env["DDSS_TIMESERIES_URL"] = url
    store = open_timeseries(Settings.from_env(env))
    store.ensure_schema()
    yield store
    store.close()
