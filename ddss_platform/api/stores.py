"""The five store ports, opened once per app (in the lifespan) and shared by every request.

Requests run on a thread pool. The production clients (pymongo, influxdb-client, pydgraph, the
Scylla driver, confluent-kafka) are thread-safe; the embedded adapters hold one SQLite or DuckDB
connection each, so calls into an embedded port are serialized by a lock (SQLite serializes a
connection's calls anyway; DuckDB connections must not be used by two threads at once).
"""
from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from ddss_platform.settings import Settings


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
    profile: str  # embedded, production or mixed
    _closer: ExitStack

    @classmethod
    def open(cls, settings: Settings) -> "Stores":
        from ddss_platform.stores.archive import open_archive
        from ddss_platform.stores.bus import open_bus
        from ddss_platform.stores.documents import open_documents
        from ddss_platform.stores.graph import open_graph
        from ddss_platform.stores.timeseries import open_timeseries

        factories = {
            "bus": open_bus,
            "documents": open_documents,
            "timeseries": open_timeseries,
            "graph": open_graph,
            "archive": open_archive,
        }
        with ExitStack() as stack:  # a port that fails to open closes the ones opened before it
            ports = {}
            for name, factory in factories.items():
                port = factory(settings)
                stack.callback(port.close)
                if getattr(settings, name).embedded:
                    if name != "bus":  # the embedded bus creates its tables when opened
                        # local files: create what `ddss init` would (idempotent), so a fresh data
                        # directory answers with empty results instead of errors
                        port.ensure_schema()
                    port = Serialized(port)
                ports[name] = port
            return cls(**ports, profile=settings.profile, _closer=stack.pop_all())

    def close(self) -> None:
        self._closer.close()
