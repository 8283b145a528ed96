"""The scored three-day world and the Dagster command line against its instance."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ddss_platform.defs.dagster_instance import dagster_env, open_instance
from ddss_platform.settings import Settings
from ddss_platform_tests.assets.world import World, build_world

CODE = "ddss_platform.definitions"
BIN = Path(sys.executable).parent


def dagster(world: World, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """A `dagster` CLI command on the world's instance; fails the test with its output when it fails."""
    result = subprocess.run(
        [str(BIN / "dagster"), *args],
        env=dagster_env(world.settings),
        cwd=world.settings.home,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"dagster {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def ddss(world: World, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ddss"), *args], env=dagster_env(world.settings), capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    settings = Settings.from_env({"DDSS_HOME": str(tmp_path_factory.mktemp("assets") / "ddss")})
    instance = open_instance(settings)
    try:
        return build_world(settings, instance)
    finally:
        instance.dispose()
