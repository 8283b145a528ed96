"""The store bundle as the app shares it: opened once (in the lifespan) and used by every request.

Requests run on a thread pool. The production clients (pymongo, influxdb-client, pydgraph, the
Scylla driver, confluent-kafka) are thread-safe; the embedded adapters hold one SQLite or DuckDB
connection each, so calls into an embedded port are serialized by a lock (SQLite serializes a
connection's calls anyway; a DuckDB connection must not run two queries at once).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ddss_platform.settings import STORES, Settings
from ddss_platform.stores import Stores, open_stores


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


@contextmanager
def open_app_stores(settings: Settings) -> Iterator[Stores]:
    """``open_stores``, with each embedded port behind a lock and its schema created."""
    with open_stores(settings) as stores:
        embedded = {}
        for name in STORES:
            if getattr(settings, name).embedded:
                port = getattr(stores, name)
                if name != "bus":  # the embedded bus creates its tables when opened
                    # local files: create what `ddss init` would (idempotent), so a fresh data
                    # directory answers with empty results instead of errors
                    port.ensure_schema()
                embedded[name] = Serialized(port)
        yield dataclasses.replace(stores, **embedded)
