"""The Dagster resource that hands the store ports to assets, sensors and jobs.

Its config is the settings as their DDSS_* variables (``Settings.to_env``), so the Dagster UI shows which
stores a run used; ``ddss_platform.definitions`` builds it from the environment, where each port's factory
picks its adapter from the store URL (``embedded`` or a server URL).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, closing
from typing import TYPE_CHECKING

import dagster as dg

from ddss_platform.settings import Settings

if TYPE_CHECKING:
    from ddss_platform.stores import Stores
    from ddss_platform.stores.archive import Archive
    from ddss_platform.stores.bus import EventBus
    from ddss_platform.stores.documents import DocumentStore
    from ddss_platform.stores.graph import GraphStore
    from ddss_platform.stores.timeseries import TimeSeries


class StoresResource(dg.ConfigurableResource):
    """The DDSS_* variables of the profile (store URLs, data directory, Spark master, partitions)."""

    # not named "env": Dagster reads a config value {"env": NAME} as a reference to an environment variable
    variables: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> StoresResource:
        return cls(variables=settings.to_env())

    def settings(self) -> Settings:
        return Settings.from_env(self.variables)

    # Each accessor opens ports on the profile's adapters (imported only then: the code server and the UI load
    # the definitions without them); use it as a context manager (`with stores.bus() as bus:`) so connections
    # close when the step ends.
    def open_stores(self) -> AbstractContextManager[Stores]:
        """Every port at once (``ddss_platform.stores.open_stores``), for a step that uses them all."""
        from ddss_platform.stores import open_stores

        return open_stores(self.settings())

    def bus(self) -> AbstractContextManager[EventBus]:
        from ddss_platform.stores.bus import open_bus

        return closing(open_bus(self.settings()))

    def documents(self) -> AbstractContextManager[DocumentStore]:
        from ddss_platform.stores.documents import open_documents

        return closing(open_documents(self.settings()))

    def timeseries(self) -> AbstractContextManager[TimeSeries]:
        from ddss_platform.stores.timeseries import open_timeseries

        return closing(open_timeseries(self.settings()))

    def graph(self) -> AbstractContextManager[GraphStore]:
        from ddss_platform.stores.graph import open_graph

        return closing(open_graph(self.settings()))

    def archive(self) -> AbstractContextManager[Archive]:
        from ddss_platform.stores.archive import open_archive

        return closing(open_archive(self.settings()))
