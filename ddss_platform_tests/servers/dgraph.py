"""Dgraph (zero and alpha) built from its Go module."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

from ddss_platform_tests.servers import builds
from ddss_platform_tests.servers.base import Server
from ddss_platform_tests.servers.process import Process, port_open

MODULE = "github.com/hypermodeinc/dgraph/v25"
# the newest release the Go module proxy serves here (v25.3.1 and later are refused); it builds with Go 1.26
VERSION = "v25.3.0"
# Dgraph takes one --port_offset per process and adds it to fixed bases
ZERO_GRPC, ZERO_HTTP, ALPHA_INTERNAL, ALPHA_HTTP, ALPHA_GRPC = 5080, 6080, 7080, 8080, 9080


def ports_at(offset: int) -> dict[str, int]:
    return {
        "dgraph_zero_grpc": ZERO_GRPC + offset,
        "dgraph_zero_http": ZERO_HTTP + offset,
        "dgraph_internal": ALPHA_INTERNAL + offset,
        "dgraph_http": ALPHA_HTTP + offset,
        "dgraph": ALPHA_GRPC + offset,
    }


class Dgraph(Server):
    name = "dgraph"
    version = VERSION
    port_names = tuple(ports_at(0))

    def pick_ports(self) -> dict[str, int]:
        """Ports at one offset where none is taken (Dgraph takes an offset to fixed bases, not ports)."""
        for _ in range(200):
            ports = ports_at(random.randrange(100, 20_000))
            if not any(port_open(port) for port in ports.values()):
                return ports
        raise RuntimeError("no free port offset for Dgraph")

    def make(self, folder: Path) -> None:
        # built in a copy of its tree: `go install module@version` asks the proxy for the version list, refused here
        source = builds.go_module_source(MODULE, VERSION, folder / "src")
        builds.go_build(source, "./dgraph", folder / "bin" / "dgraph")
        builds.remove_tree(source)

    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[Process]:
        binary = str(folder / "bin" / "dgraph")
        zero_offset = ports["dgraph_zero_grpc"] - ZERO_GRPC
        alpha_offset = ports["dgraph"] - ALPHA_GRPC
        zero = [
            binary,
            "zero",
            f"--my=127.0.0.1:{ports['dgraph_zero_grpc']}",
            f"--port_offset={zero_offset}",
            f"--wal={home / 'zw'}",
            "--telemetry=reports=false; sentry=false;",
        ]
        alpha = [
            binary,
            "alpha",
            f"--my=127.0.0.1:{ports['dgraph_internal']}",
            f"--zero=127.0.0.1:{ports['dgraph_zero_grpc']}",
            f"--port_offset={alpha_offset}",
            f"--postings={home / 'p'}",
            f"--wal={home / 'w'}",
            f"--tmp={home / 't'}",
            "--security=whitelist=127.0.0.1/8;",
            "--telemetry=reports=false; sentry=false;",
            "--cache=size-mb=512;",
        ]
        return [
            Process(
                "dgraph zero",
                zero,
                home / "zero.log",
                lambda: answers_http(ports["dgraph_zero_http"], "/health"),
                cwd=home,
            ),
            Process(
                "dgraph alpha",
                alpha,
                home / "alpha.log",
                lambda: answers_http(ports["dgraph_http"], "/health"),
                cwd=home,
            ),
        ]

    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        return {"DDSS_GRAPH_URL": f"dgraph://127.0.0.1:{ports['dgraph']}"}


def answers_http(port: int, path: str) -> bool:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
