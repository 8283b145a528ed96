"""Every store port a scoring run uses, opened together from the settings and closed together."""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Iterator

from ddss_platform.events.codec import EventCodec
from ddss_platform.settings import Settings


@dataclass
class Ports:
    settings: Settings
    bus: object  # EventBus
    codec: EventCodec
    documents: object  # DocumentStore
    timeseries: object  # TimeSeries
    graph: object  # GraphStore
    archive: object  # Archive


@contextmanager
def open_ports(settings: Settings) -> Iterator[Ports]:
    from ddss_platform.stores.archive import open_archive
    from ddss_platform.stores.bus import open_bus, open_codec
    from ddss_platform.stores.documents import open_documents
    from ddss_platform.stores.graph import open_graph
    from ddss_platform.stores.timeseries import open_timeseries

    with ExitStack() as stack:
        def opened(port):
            stack.callback(port.close)
            return port

        yield Ports(
            settings=settings,
            bus=opened(open_bus(settings)),
            codec=open_codec(settings),
            documents=opened(open_documents(settings)),
            timeseries=opened(open_timeseries(settings)),
            graph=opened(open_graph(settings)),
            archive=opened(open_archive(settings)),
        )
