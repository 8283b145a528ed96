"""The Dagster resource that hands every store port to assets, sensors and jobs.

This is the one place the profile is chosen: each port's factory picks its
adapter from the store URL in the settings (``embedded`` or a server URL).
The URLs are resource config, so the Dagster UI shows which stores a run used.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg

from ddss_platform.settings import Settings


class StoresResource(dg.ConfigurableResource):
    """Store URLs (one per port) and the embedded data directory."""

    home: str
    bus_url: str = "embedded"
    documents_url: str = "embedded"
    timeseries_url: str = "embedded"
    graph_url: str = "embedded"
    archive_url: str = "embedded"
    spark_master: str = "local[*]"
    partitions: int = 3
    schema_registry_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> "StoresResource":
        return cls(
            home=str(settings.home),
            bus_url=settings.bus.raw,
            documents_url=settings.documents.raw,
            timeseries_url=settings.timeseries.raw,
            graph_url=settings.graph.raw,
            archive_url=settings.archive.raw,
            spark_master=settings.spark_master,
            partitions=settings.partitions,
            schema_registry_url=settings.schema_registry_url or "",
        )

    def settings(self) -> Settings:
        return Settings.from_env(
            {
                "DDSS_HOME": str(Path(self.home)),
                "DDSS_BUS_URL": self.bus_url,
                "DDSS_DOCUMENTS_URL": self.documents_url,
                "DDSS_TIMESERIES_URL": self.timeseries_url,
                "DDSS_GRAPH_URL": self.graph_url,
                "DDSS_ARCHIVE_URL": self.archive_url,
                "DDSS_SPARK_MASTER": self.spark_master,
                "DDSS_PARTITIONS": str(self.partitions),
                "DDSS_SCHEMA_REGISTRY_URL": self.schema_registry_url,
            }
        )

    # Each accessor opens the port on the profile's adapter; use it as a context manager
    # (`with stores.bus() as bus:`) so connections close when the step ends.
    def bus(self):
        from ddss_platform.stores.bus import open_bus

        return _closing(open_bus(self.settings()))

    def documents(self):
        from ddss_platform.stores.documents import open_documents

        return _closing(open_documents(self.settings()))

    def timeseries(self):
        from ddss_platform.stores.timeseries import open_timeseries

        return _closing(open_timeseries(self.settings()))

    def graph(self):
        from ddss_platform.stores.graph import open_graph

        return _closing(open_graph(self.settings()))

    def archive(self):
        from ddss_platform.stores.archive import open_archive

        return _closing(open_archive(self.settings()))


@contextmanager
def _closing(port) -> Iterator:
    try:
        yield port
    finally:
        port.close()
