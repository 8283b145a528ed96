#!/usr/bin/env python3
"""Runs the live tests (`pytest -m live`) against the servers the DDSS_TEST_* variables name.

`make test-live` sets each variable to the docker/ stack's address (see the top of the Makefile);
a value already in the environment wins. Before pytest starts, every named server gets one TCP
connection attempt: a server that does not answer is taken out of the environment with a note, so
the tests that need it skip with their reason ("DDSS_TEST_... not set") instead of failing on a dead
address. Extra arguments go to pytest.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

# variable -> (what it names, the port when the value gives none)
LIVE_SERVERS: dict[str, tuple[str, int]] = {
    "DDSS_TEST_KAFKA_BOOTSTRAP": ("Redpanda, Kafka API", 9092),
    "DDSS_TEST_SCHEMA_REGISTRY_URL": ("Redpanda schema registry", 8081),
    "DDSS_TEST_MONGO_URL": ("MongoDB", 27017),
    "DDSS_TEST_INFLUX_URL": ("InfluxDB 2", 8086),
    "DDSS_TEST_DGRAPH_URL": ("Dgraph alpha, gRPC", 9080),
    "DDSS_TEST_SCYLLA_HOSTS": ("ScyllaDB, CQL", 9042),
    "DDSS_TEST_DAGSTER_URL": ("Dagster webserver", 3000),
    "DDSS_TEST_API_URL": ("reporting API", 8000),
}
CONNECT_TIMEOUT_S = 1.5


def endpoints(value: str, default_port: int) -> list[tuple[str, int]]:
    """host:port pairs of a URL (scheme://[user@]h1:p1,h2:p2/...) or a bare list (h1:p1,h2)."""
    netloc = urlsplit(value).netloc if "://" in value else value
    pairs = []
    for item in netloc.rsplit("@", 1)[-1].split(","):
        host, colon, port = item.strip().rpartition(":")
        if not colon:  # no port given: rpartition put the host in the last part
            host, port = port, ""
        pairs.append((host, int(port) if port else default_port))
    return pairs


def reachable(host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _shown(value: str) -> str:
    """The value without the user part of a URL (the InfluxDB token rides there)."""
    if "://" in value and "@" in value:
        scheme, rest = value.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[-1]}"
    return value


def live_environment(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The environment for pytest (unreachable servers removed) and one note per variable."""
    out, notes = dict(env), []
    for var, (what, default_port) in LIVE_SERVERS.items():
        value = out.get(var, "")
        if not value:
            out.pop(var, None)
            notes.append(f"{var}: not set, the {what} tests skip")
            continue
        if var == "DDSS_TEST_INFLUX_URL" and not urlsplit(value).username:
            out.pop(var)
            notes.append(f"{var}: no token in the URL (INFLUXDB_TOKEN, docker/.env), the {what} tests skip")
            continue
        targets = endpoints(value, default_port)
        if any(reachable(host, port) for host, port in targets):
            notes.append(f"{var}={_shown(value)}: {what} answers")
        else:
            out.pop(var)
            where = ", ".join(f"{h}:{p}" for h, p in targets)
            notes.append(f"{var}: {what} not reachable at {where} (is `make up` running?), its tests skip")
    return out, notes


def main(argv: list[str]) -> int:
    env, notes = live_environment(os.environ)
    print("live servers:", *notes, sep="\n  ")
    status = subprocess.call([sys.executable, "-m", "pytest", "-m", "live", "-rs", *argv], env=env)
    if status == 5:
        print("test-live: no test is marked `live`, so nothing ran", file=sys.stderr)
        return 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
