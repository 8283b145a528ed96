"""The store ports, opened once per app (in the lifespan) and shared by every request.

Requests run on a thread pool. The production clients (pymongo, influxdb-client, pydgraph, the
Scylla driver, confluent-kafka) are thread-safe; the embedded adapters hold one SQLite or DuckDB
connection each, so calls into an embedded port are serialized by a lock (SQLite serializes a
connection's calls anyway; a DuckDB connection must not run two queries at once).
"""
from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from ddss_platform.events.codec import EventCodec
from ddss_platform.processing.ports import open_ports
from ddss_platform.settings import Settings

PORTS = ("bus", "documents", "timeseries", "graph", "archive")


class Serialized:
    """Forwards method calls to ``port``, one call at a time."""

    def __init__(self, port: Any):
        self._port = port
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._port, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            with self._lock:
                return attribute(*args, **kwargs)

        return call


@dataclass
class Stores:
    bus: Any
    documents: Any
    timeseries: Any
    graph: Any
    archive: Any
    codec: EventCodec
    profile: str  # embedded, production or mixed
    _closer: ExitStack

    @classmethod
    def open(cls, settings: Settings) -> "Stores":
        with ExitStack() as stack:  # closes what was opened if anything below fails
            opened = stack.enter_context(open_ports(settings))
            ports = {}
            for name in PORTS:
                port = getattr(opened, name)
                if getattr(settings, name).embedded:
                    if name != "bus":  # the embedded bus creates its tables when opened
                        # local files: create what `ddss init` would (idempotent), so a fresh data
                        # directory answers with empty results instead of errors
                        port.ensure_schema()
                    port = Serialized(port)
                ports[name] = port
            return cls(**ports, codec=opened.codec, profile=settings.profile, _closer=stack.pop_all())

    def close(self) -> None:
        self._closer.close()
