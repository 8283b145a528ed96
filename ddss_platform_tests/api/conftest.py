"""A demo-like embedded world (built once per test session) and the API served on loopback over it."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from ddss_platform.api import create_app
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform_tests.api import browser as browsers
from ddss_platform_tests.api.world import WorldFacts, build_world
from ddss_platform_tests.waiting import wait_until

API_TOKEN = "test-token-5f1c"


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app for ``settings`` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def running() -> None:
        assert thread.is_alive(), "the API server's thread ended before it started serving"

    wait_until(lambda: server.started, what="the API server started", timeout_s=120, interval_s=0.05, check=running)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def world_settings(tmp_path_factory) -> Settings:
    return Settings.from_env({"DDSS_HOME": str(tmp_path_factory.mktemp("api-world") / "ddss")})


@pytest.fixture(scope="session")
def world(world_settings) -> WorldFacts:
    return build_world(world_settings)


@pytest.fixture(scope="session")
def base_url(world_settings, world) -> Iterator[str]:
    with serving(world_settings) as url:
        yield url


@pytest.fixture(scope="session")
def protected_url(world_settings, world) -> Iterator[str]:
    """The same world served with DDSS_API_TOKEN set."""
    with serving(dataclasses.replace(world_settings, api_token=API_TOKEN)) as url:
        yield url


@pytest.fixture
def api(base_url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture
def ports(world_settings, world):
    """The stores read directly, to check the API's answers against."""
    with open_stores(world_settings) as opened:
        yield opened


@pytest.fixture
def browser(tmp_path):
    if not browsers.CHROMIUM or not browsers.CHROMEDRIVER:
        pytest.skip("Chromium or chromedriver not installed (apt-get install -y chromium chromium-driver)")
    pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[dev]')")
    with browsers.chromium(tmp_path / "chromium") as driver:
        yield driver
