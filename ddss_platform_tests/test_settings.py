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
