"""The embedded Dagster instance: ``DAGSTER_HOME = $DDSS_HOME/dagster`` with a generated dagster.yaml,
and the Dagster processes (daemon, ``dagster dev``) run as children of a ddss command.

One instance per data directory, however Dagster is started: ``ddss up``/``ddss demo`` set DAGSTER_HOME; ``dagster
dev`` or ``dagster-webserver -w workspace.yaml`` started from the repository root without it read the repository's
``dagster.yaml`` (this configuration, with storage that finds ``$DDSS_HOME/dagster`` when it loads:
``data_directory_storage``). Every way loads the code through ``workspace.yaml``, so the code location has one
name, ``ddss_platform``, and a run launched by one is run, listed and relaunched by any other.

The instance keeps its run, event and schedule storage in SQLite under the data directory, queues
runs (one scoring run per bus partition at a time, a global cap so a laptop is not swamped) and
retries failed runs of other jobs (scoring runs are relaunched by the sensor itself, over the same
range, see ``ddss_platform.defs.streaming``).

A child is started in its own session with default signal handlers, so stopping it is a signal to
its process group (daemon + code server + run workers); ``DagsterProcess.stop`` escalates from
SIGTERM to SIGKILL. Runs still marked in flight from a previous session whose workers are gone
are marked failed before a new daemon starts, so the sensor does not wait on them forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import dagster as dg
import yaml
from filelock import FileLock

from ddss_platform.defs.scoring_runs import IN_FLIGHT, PARTITION_TAG
from ddss_platform.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[2]
WORKSPACE = REPOSITORY / "workspace.yaml"
"""Loads ``ddss_platform.definitions`` as the code location ``ddss_platform`` (the production stack's name too)."""
REPOSITORY_INSTANCE_YAML = REPOSITORY / "dagster.yaml"
"""The instance of Dagster commands started in the repository root without DAGSTER_HOME (``repository_config``)."""
MAX_CONCURRENT_RUNS = 4
DEQUEUE_INTERVAL_S = 1
RUN_RETRIES = 2
STOP_GRACE_S = 20.0


def dagster_home(settings: Settings) -> Path:
    return settings.home / "dagster"


def instance_config(settings: Settings, max_concurrent_runs: int = MAX_CONCURRENT_RUNS) -> dict:
    """The dagster.yaml of the embedded instance, as a dict."""
    home = dagster_home(settings)
    return {
        "storage": {"sqlite": {"base_dir": str(home / "storage")}},
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(home)},
        },
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": max_concurrent_runs,
                # ranges of one partition must run in order: at most one run per partition value
                "tag_concurrency_limits": [
                    {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
                ],
                "dequeue_interval_seconds": DEQUEUE_INTERVAL_S,
                # a launch blocks until the run worker has imported the code (seconds): launch in parallel
                "dequeue_use_threads": True,
                "dequeue_num_workers": max_concurrent_runs,
            },
        },
        "run_retries": {"enabled": True, "max_retries": RUN_RETRIES},
        # a run worker that never reaches STARTED (e.g. killed during launch) is failed, freeing its partition
        "run_monitoring": {"enabled": True, "start_timeout_seconds": 180, "poll_interval_seconds": 30},
        "sensors": {"use_threads": True, "num_workers": 4, "num_submit_workers": 4},
        # the daemon evaluates the assets' FreshnessPolicy (the UI shows each asset's freshness)
        "freshness": {"enabled": True},
        # a busy laptop takes minutes to start a code server; Dagster's default gives up after 180 s
        "code_servers": {"local_startup_timeout": 600},
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
    }


def repository_config() -> dict:
    """The repository root's dagster.yaml: the embedded instance's configuration, its storage found from DDSS_HOME
    when the instance loads instead of written in."""
    config = instance_config(Settings.from_env({}))
    module = "ddss_platform.defs.data_directory_storage"
    config["storage"] = {"custom": {"module": module, "class": "DataDirectoryStorage", "config": {}}}
    config["local_artifact_storage"] = {"module": module, "class": "DataDirectoryArtifactStorage", "config": {}}
    return config


def repository_yaml() -> str:
    return (
        "# Generated from ddss_platform/defs/dagster_instance.py (repository_config); a test keeps it current.\n"
        "# `dagster dev` / `dagster-webserver -w workspace.yaml` started here without DAGSTER_HOME read it: the\n"
        "# instance of `ddss up` and `ddss demo`, storage in $DDSS_HOME/dagster (default ./.ddss/dagster).\n"
        + yaml.safe_dump(repository_config(), sort_keys=False)
    )


def prepare_instance(settings: Settings, max_concurrent_runs: int = MAX_CONCURRENT_RUNS) -> Path:
    """Create DAGSTER_HOME with its dagster.yaml (rewritten each time, so it follows the code); returns it."""
    home = dagster_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(instance_config(settings, max_concurrent_runs), sort_keys=False)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != text:
        tmp = home / f".dagster.yaml.{os.getpid()}.tmp"  # processes starting together each write their own
        tmp.write_text(text)
        os.replace(tmp, target)
    return home


def dagster_env(settings: Settings) -> dict[str, str]:
    """The environment for Dagster processes: this one's, with DAGSTER_HOME and every DDSS setting of this profile."""
    env = {**os.environ, **settings.to_env(), "DAGSTER_HOME": str(dagster_home(settings))}
    # Spark, when a run touches it, must not go looking for a routable interface
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # a code server answers slowly on a busy machine: a launch that waits 60 s (Dagster's default) fails the run
    # with DagsterUserCodeUnreachableError and the queue logs "Caught an error dequeuing run"
    env.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "180")
    return env


def open_instance(settings: Settings):
    """The embedded DagsterInstance (for reading runs and metadata from a ddss command or a test). Processes
    that open it together (several `ddss stream` workers started at once) take turns: the first creates the
    instance's SQLite tables, which two at a time would both try."""
    home = prepare_instance(settings)
    with FileLock(home / ".open.lock"):
        return dg.DagsterInstance.from_config(str(home))


def command_instance(settings: Settings):
    """The instance a ddss command reads and reports to: DAGSTER_HOME's when it is set (the production stack's
    containers, or a child of ``ddss up``), else the embedded one of the data directory."""
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else open_instance(settings)


def fail_orphaned_runs(instance) -> list[str]:
    """Mark runs left queued or in flight by a stopped session as failed; returns their ids.

    Only call this while no daemon or webserver of this instance runs: their run workers were
    children of the stopped process group, so nothing will ever finish these runs."""
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        instance.report_run_failed(run, "the ddss session that owned this run stopped before it finished")
        failed.append(run.run_id)
    return failed


def daemon_running(instance, within_s: float = 30.0) -> bool:
    """Whether a daemon of this instance sent a heartbeat in the last ``within_s`` seconds."""
    now = time.time()
    return any(now - beat.timestamp < within_s for beat in instance.get_daemon_heartbeats().values())


@dataclass
class DagsterProcess:
    """A Dagster child process (and its process group)."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM to the whole process group, SIGKILL after ``grace_s``; returns the exit code."""
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            try:
                return self.process.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue
        # the leader may be gone while workers of its group linger: sweep them
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.process.poll()


def _default_signals() -> None:
    # A parent started with `&` from a script ignores SIGINT/SIGQUIT, and children inherit that;
    # Dagster shuts down on these signals, so put the defaults back before exec.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _spawn(name: str, argv: list[str], settings: Settings, log: Path | None) -> DagsterProcess:
    home = prepare_instance(settings)
    instance = open_instance(settings)
    if daemon_running(instance):
        raise RuntimeError(f"a Dagster daemon of {home} is already running (heartbeat within 30 s); stop it first")
    fail_orphaned_runs(instance)
    instance.dispose()
    log = log or home / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    out: IO = open(log, "ab")
    process = subprocess.Popen(
        argv,
        env=dagster_env(settings),
        cwd=str(settings.home),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_default_signals,
    )
    out.close()
    return DagsterProcess(name, process, log)


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def start_daemon(settings: Settings, log: Path | None = None) -> DagsterProcess:
    """``dagster-daemon run`` on the embedded instance (sensors, run queue, retries, monitoring)."""
    return _spawn("daemon", [_bin("dagster-daemon"), "run", "-w", str(WORKSPACE)], settings, log)


def start_dev(settings: Settings, host: str = "127.0.0.1", port: int = 3000, log: Path | None = None) -> DagsterProcess:
    """``dagster dev``: the UI at http://host:port plus the daemon, on the embedded instance."""
    argv = [_bin("dagster"), "dev", "-w", str(WORKSPACE), "--host", host, "--port", str(port)]
    return _spawn("dev", argv, settings, log)


def wait_for_daemon(settings: Settings, process: DagsterProcess, timeout_s: float = 300.0) -> None:
    """Block until the daemon has sent a heartbeat (it is loading the code and ticking sensors); the limit allows
    for a machine busy with other work, where loading the code takes minutes."""
    instance = open_instance(settings)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"the Dagster {process.name} exited; see {process.log_path}")
            if daemon_running(instance):
                return
            time.sleep(0.5)
        raise TimeoutError(f"no Dagster daemon heartbeat after {timeout_s:.0f} s; see {process.log_path}")
    finally:
        instance.dispose()
