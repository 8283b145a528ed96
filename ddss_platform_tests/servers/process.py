"""Server processes: each started in a session of its own (so a signal to its group reaches every child it
starts), its output in a log file, polled until ready; stopped by signalling the group, SIGTERM first."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

STOP_TIMEOUT_S = 20
POLL_S = 0.25


class ServerError(RuntimeError):
    """A server did not start or answer; the message says which, why, and ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def log_tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(no log)"


@dataclass
class Process:
    """One server process to start: its command, environment, log, and when it counts as ready."""

    name: str
    command: Sequence[str]
    log: Path
    ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    startup_timeout_s: float = 180


def start(process: Process) -> int:
    """Start ``process`` and wait until it is ready; its pid (= its process group). ServerError when it exits
    or stays unready past its timeout (the group is stopped then)."""
    process.log.parent.mkdir(parents=True, exist_ok=True)
    with process.log.open("ab") as out:
        popen = subprocess.Popen(
            list(process.command),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=process.cwd,
            env={**os.environ, **process.env},
            start_new_session=True,
        )
    deadline = time.monotonic() + process.startup_timeout_s
    while True:
        try:
            if process.ready():
                return popen.pid
        except Exception:  # noqa: BLE001 - a probe's error means not ready yet
            pass
        if popen.poll() is not None:
            raise ServerError(
                f"{process.name} exited with {popen.returncode}; log {process.log}:\n{log_tail(process.log)}"
            )
        if time.monotonic() > deadline:
            stop(popen.pid)
            raise ServerError(
                f"{process.name} was not ready within {process.startup_timeout_s:.0f} s; log {process.log}:\n"
                + log_tail(process.log)
            )
        time.sleep(POLL_S)


def _group_alive(pgid: int) -> bool:
    for member in psutil.process_iter(["status"]):
        try:
            if os.getpgid(member.pid) == pgid and member.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return False


def stop(pgid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop the process group ``pgid``: SIGTERM, then SIGKILL to whatever still runs after ``timeout_s``."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:  # reap it when it is this process's child
        os.waitpid(pgid, 0)
    except ChildProcessError:
        pass


def alive(pgid: int) -> bool:
    return _group_alive(pgid)
