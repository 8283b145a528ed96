"""The one Definitions object: every domain's defs merged, resources built from the settings."""

import dagster as dg

from ddss_platform.defs import aggregates, archive, graph, metrics, streaming
from ddss_platform.defs.resources import StoresResource
from ddss_platform.settings import Settings

defs = dg.Definitions.merge(
    streaming.defs,
    archive.defs,
    aggregates.defs,
    graph.defs,
    metrics.defs,
    dg.Definitions(resources={"stores": StoresResource.from_settings(Settings.from_env())}),
)
