"""``ddss api`` (the reporting API and dashboard) and ``ddss up`` (Dagster UI + API + a steady simulator)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer

from ddss_platform.cli.app import app, check_stores
from ddss_platform.settings import Settings

# The simulator's clock moves MEAN_GAP_MS (3 s) per event, so at --rate R it gains 3R−1 s per wall second;
# the scoring runs dead-letter events more than 5 minutes in the future. Starting a week back keeps the
# events in the past for about 12 hours at the default rate of 5 events/s.
UP_SIMULATOR_HEADSTART_MS = 7 * 24 * 3600 * 1000


@app.command()
def api(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Server processes (each opens its own store connections)."),
) -> None:
    """Serve the reporting API (OpenAPI at /docs) and the dashboard (at /) with uvicorn."""
    import uvicorn

    settings = Settings.from_env()  # a bad setting fails here, naming the variable
    check_stores(settings)  # and a store that cannot be reached, before uvicorn reports it its own way
    typer.echo(f"API and dashboard on http://{host}:{port}/ (API docs: /docs); profile {settings.profile}")
    uvicorn.run(
        "ddss_platform.api.asgi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def _wait_until_answering(url: str, child, timeout_s: float = 120.0) -> None:
    """Until ``url`` answers 200 (``child`` dying first is an error naming its log)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"the {child.name} process exited; see {child.log_path}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s; see {child.log_path}")


class _Child:
    """A ddss sub-command run as a child process, logging to a file; same face as DagsterProcess."""

    def __init__(self, name: str, args: list[str], log_path: Path):
        self.name, self.log_path = name, log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).with_name("ddss")), *args],
                # a progress bar redrawn into a log file is noise
                env={**os.environ, "TQDM_DISABLE": "1"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = 10.0) -> None:
        if not self.alive():
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@app.command()
def up(
    host: str = typer.Option("127.0.0.1", help="Interface the Dagster UI and the API listen on."),
    dagster_port: int = typer.Option(3000, min=1, max=65535, help="Dagster UI port."),
    api_port: int = typer.Option(8000, min=1, max=65535, help="API and dashboard port."),
    rate: float = typer.Option(5.0, min=0.0, help="Simulated events per second (0: no simulator)."),
    citizens: int = typer.Option(1000, min=2, help="Citizens the simulator draws from (as `ddss init` created)."),
    seed: int = typer.Option(1, help="Simulator seed."),
) -> None:
    """Start the Dagster UI (daemon and scoring sensor running), the API and dashboard, and a
    simulator producing at a steady rate; print the URLs; Ctrl-C stops them all."""
    from ddss_platform.defs import dagster_instance

    settings = Settings.from_env()
    check_stores(settings)
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children: list = []
    try:
        dagster = dagster_instance.start_dev(settings, host=host, port=dagster_port)
        children.append(dagster)
        api_child = _Child("api", ["api", "--host", host, "--port", str(api_port)], logs / "api.log")
        children.append(api_child)
        _wait_until_answering(f"http://{host}:{api_port}/health", api_child)
        dagster_instance.wait_for_daemon(settings, dagster)
        _wait_until_answering(f"http://{host}:{dagster_port}/server_info", dagster)
        if rate > 0:
            start_ms = int(time.time() * 1000) - UP_SIMULATOR_HEADSTART_MS
            children.append(
                _Child(
                    "simulator",
                    [
                        "simulate",
                        "--rate",
                        str(rate),
                        "--citizens",
                        str(citizens),
                        "--events",
                        str(10**9),
                        "--seed",
                        str(seed),
                        "--start-ms",
                        str(start_ms),
                    ],
                    logs / "simulator.log",
                )
            )
        token = f"?token={settings.api_token}" if settings.api_token else ""
        typer.echo(f"Dagster UI:  http://{host}:{dagster_port}/")
        typer.echo(f"Dashboard:   http://{host}:{api_port}/{token}")
        typer.echo(f"API docs:    http://{host}:{api_port}/docs")
        typer.echo(f"Logs:        {logs}/ and {dagster.log_path}")
        typer.echo("Ctrl-C stops everything.")
        while all(child.alive() for child in children):
            time.sleep(1.0)
        stopped = next(child for child in children if not child.alive())
        typer.echo(f"{stopped.name} stopped on its own (see {stopped.log_path}); stopping the rest", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("stopping…")
    finally:
        for child in reversed(children):
            child.stop()
