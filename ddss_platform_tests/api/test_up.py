"""`ddss up`: the Dagster UI, the API and dashboard and a simulator come up, and Ctrl-C stops them all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ddss_platform.events.topics import CITIZEN_EVENTS
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform_tests.api.world import build_world
from ddss_platform_tests.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _still_up(process: subprocess.Popen) -> None:
    assert process.poll() is None, f"ddss up exited with {process.returncode}"


@pytest.mark.slow
def test_up_serves_everything_and_ctrl_c_stops_it(tmp_path):
    home = tmp_path / "ddss"
    settings = Settings.from_env({"DDSS_HOME": str(home)})
    build_world(settings, citizens=50, events=200)
    dagster_port, api_port = _free_port(), _free_port()
    env = {**os.environ, "DDSS_HOME": str(home)}
    env.pop("DDSS_API_TOKEN", None)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ddss")),
            "up",
            "--dagster-port",
            str(dagster_port),
            "--api-port",
            str(api_port),
            "--rate",
            "2",
            "--citizens",
            "50",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job is
    )
    try:
        printed = ""
        deadline = time.monotonic() + 600  # a blocking read: the limit is checked between lines
        while "Ctrl-C" not in printed:
            assert process.poll() is None and time.monotonic() < deadline, printed
            printed += process.stdout.readline()
        urls = dict(re.findall(r"^(Dagster UI|Dashboard|API docs):\s+(\S+)", printed, re.M))
        assert set(urls) == {"Dagster UI", "Dashboard", "API docs"}, printed
        for url in urls.values():
            wait_until(lambda url=url: _answers(url), what=f"{url} answering", timeout_s=120)
        with open_stores(settings) as ports:
            before = sum(ports.bus.end_offsets(CITIZEN_EVENTS).values())
            wait_until(  # the simulator is producing
                lambda: sum(ports.bus.end_offsets(CITIZEN_EVENTS).values()) > before,
                what="a new record from the simulator",
                timeout_s=120,
                check=lambda: _still_up(process),
            )
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        process.wait(timeout=120)
    assert not _answers(f"http://127.0.0.1:{api_port}/health")
    assert not _answers(f"http://127.0.0.1:{dagster_port}/")
