"""Shared fixtures. Server fixtures live in fixtures/ and are registered here."""

from __future__ import annotations

import pytest

from ddss_platform.settings import Settings
from ddss_platform_tests.waiting import SLOW_TEST_TIMEOUT_S

pytest_plugins: list[str] = [
    "ddss_platform_tests.fixtures.real_servers",
    "ddss_platform_tests.fixtures.production",
    "ddss_platform_tests.fixtures.postgres",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # an end-to-end test (its module fixture's setup counts in its time) gets the generous limit, unless it sets one
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT_S))


TEST_PARTITIONS = "3"
"""The suite's partition count on every machine (the embedded default follows the machine's cores)."""


@pytest.fixture
def ddss_home(tmp_path, monkeypatch):
    """A fresh embedded data directory; DDSS_HOME points at it for the test (and its commands)."""
    home = tmp_path / "ddss"
    monkeypatch.setenv("DDSS_HOME", str(home))
    monkeypatch.setenv("DDSS_PARTITIONS", TEST_PARTITIONS)
    return home


@pytest.fixture
def embedded_settings(ddss_home) -> Settings:
    return Settings.from_env({"DDSS_HOME": str(ddss_home), "DDSS_PARTITIONS": TEST_PARTITIONS})
