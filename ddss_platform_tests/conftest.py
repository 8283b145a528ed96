"""Shared fixtures. Server fixtures live in fixtures/ and are registered here."""
from __future__ import annotations

import pytest

from ddss_platform.settings import Settings

pytest_plugins: list[str] = [
    "ddss_platform_tests.fixtures.kafka",
    "ddss_platform_tests.fixtures.mongo",
    "ddss_platform_tests.fixtures.postgres",
]


@pytest.fixture
def ddss_home(tmp_path, monkeypatch):
    """A fresh embedded data directory; DDSS_HOME points at it for the test."""
    home = tmp_path / "ddss"
    monkeypatch.setenv("DDSS_HOME", str(home))
    return home


@pytest.fixture
def embedded_settings(ddss_home) -> Settings:
    return Settings.from_env({"DDSS_HOME": str(ddss_home)})
