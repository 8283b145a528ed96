"""One Dagster instance per data directory: `ddss demo` (DAGSTER_HOME = $DDSS_HOME/dagster) and `dagster dev` started
from the repository root without DAGSTER_HOME (the repository's dagster.yaml) keep their runs in the same storage,
under the same code location name: each lists the other's runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import httpx
import pytest

from ddss_platform.defs.dagster_instance import REPOSITORY, DagsterProcess, open_instance
from ddss_platform.settings import Settings
from ddss_platform_tests.waiting import wait_until

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
RUNS = "{ runsOrError { ... on Runs { results { runId jobName status } } } }"
LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(url: str, query: str) -> dict | None:
    try:
        return httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()["data"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def _ddss(env: dict, *args: str) -> None:
    done = subprocess.run([str(BIN / "ddss"), *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"ddss {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _score_events_runs(settings: Settings) -> dict[str, dg.DagsterRunStatus]:
    instance = open_instance(settings)
    try:
        return {r.run_id: r.status for r in instance.get_runs(filters=dg.RunsFilter(job_name="score_events"))}
    finally:
        instance.dispose()


def test_dagster_dev_from_the_repository_root_and_ddss_share_one_instance(tmp_path):
    home = tmp_path / "ddss"
    settings = Settings.from_env({"DDSS_HOME": str(home)})
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"DDSS_HOME": str(home)}
    _ddss(env, "demo", "--citizens", "50", "--events", "300", "--no-aggregate")
    by_ddss = _score_events_runs(settings)
    assert by_ddss and set(by_ddss.values()) == {dg.DagsterRunStatus.SUCCESS}

    port = _free_port()
    log = tmp_path / "dagster-dev.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPOSITORY,  # where a user types it: the repository's dagster.yaml and workspace.yaml
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    dev = DagsterProcess("dagster dev", process, log)
    url = f"http://127.0.0.1:{port}"

    def alive() -> None:
        assert dev.alive(), log.read_text()[-3000:]

    try:
        locations = wait_until(lambda: _ask(url, LOCATIONS), what="dagster dev's GraphQL", timeout_s=600, check=alive)
        assert [e["name"] for e in locations["workspaceOrError"]["locationEntries"]] == ["ddss_platform"]
        listed = {r["runId"] for r in _ask(url, RUNS)["runsOrError"]["results"]}
        assert set(by_ddss) <= listed  # the demo's runs, in dagster dev's UI
        # new records: dagster dev's own daemon scores them, and ddss's view of the instance lists its runs
        _ddss(env, "simulate", "--citizens", "50", "--events", "60")
        wait_until(
            lambda: any(
                status == dg.DagsterRunStatus.SUCCESS
                for run_id, status in _score_events_runs(settings).items()
                if run_id not in by_ddss
            ),
            what="a score_events run of dagster dev's sensor, seen by ddss",
            timeout_s=600,
            interval_s=2.0,
            check=alive,
        )
    finally:
        dev.stop()
    assert not list(REPOSITORY.glob(".tmp_dagster_home_*")), "dagster dev left its temporary directory"
