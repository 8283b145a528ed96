"""DDSS_PARTITIONS: what an unset value means on each bus, and what a bad one says."""

from __future__ import annotations

import pytest

from ddss_platform import settings as settings_module
from ddss_platform.settings import DEFAULT_PARTITIONS, Settings, SettingsError

KAFKA = {"DDSS_BUS_URL": "kafka://127.0.0.1:9092"}


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 2), (3, 3), (16, DEFAULT_PARTITIONS)])
def test_the_embedded_bus_defaults_to_at_most_one_partition_per_core(monkeypatch, cores, expected):
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    assert Settings.from_env({}).partitions == expected
    assert Settings.from_env(KAFKA).partitions == DEFAULT_PARTITIONS  # a cluster's topics do not follow this machine


def test_a_set_partition_count_wins_and_a_bad_one_is_refused():
    assert Settings.from_env({"DDSS_PARTITIONS": "5"}).partitions == 5
    assert Settings.from_env({**KAFKA, "DDSS_PARTITIONS": "1"}).partitions == 1
    for bad in ("0", "two"):
        with pytest.raises(SettingsError, match="DDSS_PARTITIONS"):
            Settings.from_env({"DDSS_PARTITIONS": bad})


STORE_URLS = {
    "DDSS_BUS_URL": "kafka://{}",
    "DDSS_DOCUMENTS_URL": "mongodb://{}/ddss",
    "DDSS_TIMESERIES_URL": "influxdb://token@{}/org",
    "DDSS_GRAPH_URL": "dgraph://{}",
    "DDSS_ARCHIVE_URL": "scylla://{}/ddss",
    "DDSS_SCHEMA_REGISTRY_URL": "http://{}",
    "DDSS_SPARK_MASTER": "spark://{}",
}


@pytest.mark.parametrize("variable", STORE_URLS)
@pytest.mark.parametrize(
    "netloc",
    ["127.0.0.1:99999", "127.0.0.1:0", "h:-1", "h:9o92", "bad host:9092", ":9092", "h1:9092,", "[::1", "[nope]:1"],
)
def test_every_urls_host_and_port_are_checked_naming_the_variable(variable, netloc):
    with pytest.raises(SettingsError, match=f"^{variable}"):
        Settings.from_env({variable: STORE_URLS[variable].format(netloc)})


@pytest.mark.parametrize("variable", STORE_URLS)
def test_good_hosts_and_ports_are_taken(variable):
    for netloc in ("127.0.0.1:1", "db.example.org:65535", "[::1]:9092", "h1:9092,h2:9093"):
        if variable in ("DDSS_TIMESERIES_URL", "DDSS_SCHEMA_REGISTRY_URL") and "," in netloc:
            continue  # one server each
        Settings.from_env({variable: STORE_URLS[variable].format(netloc)})


def test_the_port_of_the_issue_is_refused_with_its_range():
    with pytest.raises(SettingsError, match=r"DDSS_BUS_URL: port '99999' of 127.0.0.1 is not a number in 1–65535"):
        Settings.from_env({"DDSS_BUS_URL": "kafka://127.0.0.1:99999"})


def test_bus_endpoints_bracket_ipv6_and_default_the_port():
    bus = Settings.from_env({"DDSS_BUS_URL": "kafka://[::1],k.example.org:9093"}).bus
    assert bus.endpoints(9092) == ["[::1]:9092", "k.example.org:9093"]


def test_errors_show_no_credentials():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"DDSS_TIMESERIES_URL": "influxdb://s3cret@127.0.0.1:99999/org"})
    assert "s3cret" not in str(refused.value)
    url = Settings.from_env({"DDSS_TIMESERIES_URL": "influxdb://s3cret@127.0.0.1:8086/org"}).timeseries
    assert url.redacted == "influxdb://***@127.0.0.1:8086/org" and url.address == "127.0.0.1:8086"


def test_the_connect_timeout_defaults_to_ten_seconds_and_must_be_positive():
    assert Settings.from_env({}).connect_timeout_s == 10.0
    assert Settings.from_env({"DDSS_CONNECT_TIMEOUT_S": "2.5"}).connect_timeout_s == 2.5
    for bad in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(SettingsError, match="DDSS_CONNECT_TIMEOUT_S"):
            Settings.from_env({"DDSS_CONNECT_TIMEOUT_S": bad})


def test_settings_round_trip_through_the_environment():
    env = {"DDSS_HOME": "/tmp/x", "DDSS_CONNECT_TIMEOUT_S": "3", "DDSS_DEBUG": "1", **KAFKA}
    settings = Settings.from_env(env)
    assert settings.debug and Settings.from_env(settings.to_env()) == settings
