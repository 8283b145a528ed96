"""What every server module provides, and starting or stopping one with its processes in order."""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ddss_platform_tests.servers import process
from ddss_platform_tests.servers.cache import cached

Log = Callable[[str], None]


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else shutil.which("java") or "java"


class Server(ABC):
    name: str
    version: str
    port_names: tuple[str, ...]

    def build(self, log: Log = print) -> Path:
        """The cached folder of this server's version, built on first use."""
        return cached(self.name, self.version, self.make, log)

    def pick_ports(self) -> dict[str, int]:
        """Free loopback ports for a new instance, by name."""
        return {name: process.free_port() for name in self.port_names}

    def make(self, folder: Path) -> None:
        """Obtain the server into an empty ``folder`` (servers that are not built override ``build`` instead)."""
        raise NotImplementedError(f"{self.name} is not built")

    def prepare(self, folder: Path, home: Path, ports: Mapping[str, int]) -> None:  # noqa: B027 (optional hook)
        """One-off setup of a fresh data directory ``home`` (configuration files, formatting)."""

    @abstractmethod
    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[process.Process]:
        """The processes to start, in order; each is ready before the next starts."""

    def after_start(self, home: Path, ports: Mapping[str, int]) -> None:  # noqa: B027 (optional hook)
        """Setup that needs the running server (users, tokens)."""

    @abstractmethod
    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        """The environment that points the platform (or a test) at this server."""


@dataclass
class Running:
    """A started server: its process groups (pids), ports and the settings that reach it."""

    name: str
    home: Path
    ports: dict[str, int]
    pids: list[int] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        for pid in reversed(self.pids):
            process.stop(pid)
        self.pids.clear()

    def alive(self) -> bool:
        return bool(self.pids) and all(process.alive(pid) for pid in self.pids)


def launch(server: Server, home: Path, ports: Mapping[str, int], log: Log = print) -> Running:
    """Build (or take from the cache), prepare a data directory unless it was prepared before, and start."""
    folder = server.build(log)
    home.mkdir(parents=True, exist_ok=True)
    prepared = home / ".prepared"
    if not prepared.exists():
        server.prepare(folder, home, ports)
        prepared.touch()
    running = Running(server.name, home, dict(ports))
    try:
        for proc in server.processes(folder, home, ports):
            running.pids.append(process.start(proc))
        server.after_start(home, ports)
    except BaseException:
        running.stop()
        raise
    running.settings = server.settings(home, ports)
    return running


@contextmanager
def started(server: Server, home: Path, log: Log = print) -> Iterator[Running]:
    """``server`` running on free ports under ``home`` for the ``with`` block."""
    running = launch(server, home, server.pick_ports(), log)
    try:
        yield running
    finally:
        running.stop()
