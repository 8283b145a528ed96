"""MongoDB-compatible servers (no real mongod can be had here): FerretDB 1.x on its embedded SQLite backend,
built from its Go module, and SecantusDB (GPL, test-only) from the dev extra, each in its own process."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from ddss_platform_tests.servers import builds
from ddss_platform_tests.servers.base import Server
from ddss_platform_tests.servers.process import Process

DATABASE = "ddss"


def installed_command(name: str) -> Path:
    """A console script of the dev extra, in this environment (BuildError saying how to install it)."""
    command = Path(shutil.which(name) or Path(sys.executable).with_name(name))
    if not command.exists():
        raise builds.BuildError(f"{name} is not installed (it is in the dev extra: pip install -e '.[dev]')")
    return command


def url(port: int, database: str = DATABASE) -> str:
    return f"mongodb://127.0.0.1:{port}/{database}"


def answers_ping(port: int) -> bool:
    import pymongo

    with pymongo.MongoClient(url(port), serverSelectionTimeoutMS=1000) as client:
        client.admin.command("ping")
    return True


class FerretDB(Server):
    name = "ferretdb"
    version = "v1.24.2"
    port_names = ("ferretdb",)

    def make(self, folder: Path) -> None:
        source = builds.go_module_source("github.com/FerretDB/FerretDB", self.version, folder / "src")
        # the release process writes the version the binary reports (and refuses to start without)
        (source / "build" / "version" / "version.txt").write_text(self.version)
        builds.go_build(source, "./cmd/ferretdb", folder / "bin" / "ferretdb")
        builds.remove_tree(source)

    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[Process]:
        (home / "data").mkdir(exist_ok=True)
        command = [
            str(folder / "bin" / "ferretdb"),
            "--handler=sqlite",
            f"--sqlite-url=file:{home / 'data'}/",
            f"--listen-addr=127.0.0.1:{ports['ferretdb']}",
            "--telemetry=disable",
            "--log-level=warn",
            "--debug-addr=-",
            f"--state-dir={home}",
        ]
        return [Process("ferretdb", command, home / "ferretdb.log", lambda: answers_ping(ports["ferretdb"]))]

    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        return {"DDSS_DOCUMENTS_URL": url(ports["ferretdb"])}


class Secantus(Server):
    name = "secantus"
    version = "dev-extra"  # installed by pip with the project's dev extra; nothing to build
    port_names = ("secantus",)

    def build(self, log=print) -> Path:
        return installed_command("secantusd-py").parent

    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[Process]:
        command = [
            str(folder / "secantusd-py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(ports["secantus"]),
            "--storage-path",
            ":memory:",
            "--log-level",
            "WARNING",
        ]
        return [
            Process("secantusdb", command, home / "secantusd.log", lambda: answers_ping(ports["secantus"]), cwd=home)
        ]

    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        return {"DDSS_DOCUMENTS_URL": url(ports["secantus"])}
