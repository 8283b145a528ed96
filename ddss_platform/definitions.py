"""The one Definitions object: every domain's defs merged, resources built from the settings, and the assets'
kinds named for the profile's stores."""

import dagster as dg

from ddss_platform.defs import aggregates, archive, graph, metrics, streaming
from ddss_platform.defs.profile_kinds import with_profile_kinds
from ddss_platform.defs.resources import StoresResource
from ddss_platform.settings import Settings

settings = Settings.from_env()
defs = dg.Definitions.merge(
    streaming.defs,
    archive.defs,
    aggregates.defs,
    graph.defs,
    metrics.defs,
    dg.Definitions(resources={"stores": StoresResource.from_settings(settings)}),
).map_resolved_asset_specs(func=with_profile_kinds(settings))
