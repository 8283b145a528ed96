"""Shared fixtures. Server fixtures live in fixtures/ and are registered here."""

from __future__ import annotations

import pytest

from ddss_platform.settings import Settings

pytest_plugins: list[str] = [
    "ddss_platform_tests.fixtures.real_servers",
    "ddss_platform_tests.fixtures.production",
    "ddss_platform_tests.fixtures.postgres",
]


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
