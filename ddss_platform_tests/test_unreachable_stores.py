"""A store that cannot be reached ends every command that opens it in one line (issue 18): ``ddss:``, the setting,
the address and the cause, no traceback (unless --debug or DDSS_DEBUG=1) and no librdkafka log line, a non-zero
exit code, within the connect timeout (DDSS_CONNECT_TIMEOUT_S, 10 s by default). A malformed setting is one line
too."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ddss_platform.cli import app
from ddss_platform.stores.reachability import StoreUnreachableError
from ddss_platform_tests.servers.process import free_port

DDSS = str(Path(sys.executable).with_name("ddss"))
STORES = {
    "DDSS_BUS_URL": "kafka://{}",
    "DDSS_DOCUMENTS_URL": "mongodb://{}/ddss",
    "DDSS_TIMESERIES_URL": "influxdb://s3cret-token@{}/org",
    "DDSS_GRAPH_URL": "dgraph://{}",
    "DDSS_ARCHIVE_URL": "scylla://{}/ddss",
}
EVENT = json.dumps(
    {
        "citizenId": "CIT00000001",
        "eventType": "financial",
        "sourceSystem": "bank",
        "severity": 0.5,
        "confidence": 0.9,
        "location": {"region": "North"},
        "payload": {},
    }
)
# every command that opens each store, with arguments that get it there
BUS_COMMANDS = [["simulate", "--events", "10"], ["emit", EVENT], ["topics"]]
ALL_STORE_COMMANDS = [["init", "--citizens", "5"], ["stream", "--exit-when-idle", "0"], ["demo"], ["api"], ["up"]]


def _environment(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDSS_")}
    return {**env, "DDSS_HOME": str(home), "TQDM_DISABLE": "1", **settings}


def _run(home: Path, *args: str, **settings: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [DDSS, *args], env=_environment(home, **settings), capture_output=True, text=True, timeout=120
    )
    return done, time.monotonic() - started


def _one_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "rdkafka" not in done.stderr
    return lines[0]


@pytest.mark.parametrize("setting", STORES)
def test_a_closed_port_is_one_line_naming_setting_address_and_cause(tmp_path, setting):
    port = free_port()
    done, elapsed = _run(
        tmp_path / "ddss", "init", "--citizens", "5", **{setting: STORES[setting].format(f"127.0.0.1:{port}")}
    )
    assert done.returncode == 1
    assert _one_line(done) == f"ddss: {setting}=127.0.0.1:{port}: connection refused"
    assert elapsed < 10
    assert "s3cret" not in done.stderr


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as server:
        yield server.getsockname()[1]


@pytest.mark.parametrize("setting", STORES)
def test_a_server_that_does_not_answer_fails_within_the_connect_timeout(tmp_path, setting, silent_port):
    done, elapsed = _run(
        tmp_path / "ddss",
        "init",
        "--citizens",
        "5",
        DDSS_CONNECT_TIMEOUT_S="1",
        **{setting: STORES[setting].format(f"127.0.0.1:{silent_port}")},
    )
    assert done.returncode == 1
    assert _one_line(done).startswith(f"ddss: {setting}=127.0.0.1:{silent_port}: ")
    assert elapsed < 8  # the 1 s timeout (twice for a store that both connects and asks), plus starting Python


@pytest.mark.parametrize(
    ("setting", "args"),
    [("DDSS_BUS_URL", args) for args in BUS_COMMANDS]
    + [(setting, args) for setting in STORES for args in ALL_STORE_COMMANDS],
    ids=lambda value: value if isinstance(value, str) else value[0],
)
def test_every_command_that_opens_a_store_says_it_in_one_line(tmp_path, monkeypatch, setting, args):
    port = free_port()
    for name, value in _environment(
        tmp_path / "ddss", **{setting: STORES[setting].format(f"127.0.0.1:{port}")}
    ).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == f"ddss: {setting}=127.0.0.1:{port}: connection refused"
    assert not result.stdout.strip()


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("DDSS_HOME", str(tmp_path / "ddss"))
    monkeypatch.setenv("DDSS_BUS_URL", f"kafka://127.0.0.1:{port}")
    flagged = CliRunner().invoke(app, ["--debug", "topics"])
    assert isinstance(flagged.exception, StoreUnreachableError)
    monkeypatch.setenv("DDSS_DEBUG", "1")
    by_variable = CliRunner().invoke(app, ["topics"])
    assert isinstance(by_variable.exception, StoreUnreachableError)
    done, _elapsed = _run(tmp_path / "ddss", "--debug", "topics", DDSS_BUS_URL=f"kafka://127.0.0.1:{port}")
    assert done.returncode != 0 and "Traceback" in done.stderr and "StoreUnreachableError" in done.stderr


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("DDSS_BUS_URL", "kafka://127.0.0.1:99999", "ddss: DDSS_BUS_URL: port '99999' of 127.0.0.1 is not a number"),
        ("DDSS_PARTITIONS", "two", "ddss: DDSS_PARTITIONS='two': expected a whole number"),
        ("DDSS_CONNECT_TIMEOUT_S", "-3", "ddss: DDSS_CONNECT_TIMEOUT_S='-3': expected a number of seconds > 0"),
    ],
)
def test_a_malformed_setting_is_one_line(tmp_path, setting, value, message):
    done, _elapsed = _run(tmp_path / "ddss", "topics", **{setting: value})
    assert done.returncode == 1
    assert _one_line(done).startswith(message)
