"""Store ports (one sub-package per port: its Protocol and its adapters), the embedded-engine helpers they
share, and ``open_stores``: every port of one profile opened together as one typed bundle.

The bundle is what the scoring runs, ``ddss stream``, the API and the Dagster resource hand around. This module
imports no port at load time: each port package imports the shared helpers here, and a process that needs one
port (a Dagster code server, a check) does not load the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ddss_platform.events.codec import EventCodec
    from ddss_platform.settings import Settings
    from ddss_platform.stores.archive import Archive
    from ddss_platform.stores.bus import EventBus
    from ddss_platform.stores.documents import DocumentStore
    from ddss_platform.stores.graph import GraphStore
    from ddss_platform.stores.timeseries import TimeSeries


@dataclass(frozen=True)
class Stores:
    """Every store port of one profile, and the codec of the bus's event records."""

    settings: Settings
    bus: EventBus
    codec: EventCodec
    documents: DocumentStore
    timeseries: TimeSeries
    graph: GraphStore
    archive: Archive


@contextmanager
def open_stores(settings: Settings) -> Iterator[Stores]:
    """Every port on the adapter its settings name; all of them are closed when the block ends, and those
    already opened when opening another one fails."""
    from ddss_platform.stores.archive import open_archive
    from ddss_platform.stores.bus import open_bus, open_codec
    from ddss_platform.stores.documents import open_documents
    from ddss_platform.stores.graph import open_graph
    from ddss_platform.stores.timeseries import open_timeseries

    with ExitStack() as stack:
        yield Stores(
            settings=settings,
            bus=stack.enter_context(closing(open_bus(settings))),
            codec=open_codec(settings),
            documents=stack.enter_context(closing(open_documents(settings))),
            timeseries=stack.enter_context(closing(open_timeseries(settings))),
            graph=stack.enter_context(closing(open_graph(settings))),
            archive=stack.enter_context(closing(open_archive(settings))),
        )
