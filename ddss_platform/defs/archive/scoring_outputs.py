"""What the score_events runs write: external assets, materialized by those runs (each materialization
carries the offset range it came from), declared here so the batch assets can depend on them."""

from __future__ import annotations

import dagster as dg

from ddss_platform.defs.asset_keys import (
    CITIZEN_EVENTS_ASSET,
    EVENTS_ARCHIVE_ASSET,
    RAW_EVENTS_ASSET,
    SCORE_CHANGE_HISTORY_ASSET,
    SCORE_SNAPSHOTS_ASSET,
)
from ddss_platform.defs.metadata import OWNERS

GROUP = "scoring_outputs"

events_archive = dg.AssetSpec(
    EVENTS_ARCHIVE_ASSET,
    description="Every consumed event, scored or not (status scored / no_rule / unknown_citizen), with the bus "
    "topic, partition and offset it came from. ScyllaDB table events_archive (TTL 5 years); embedded: Parquet "
    "under DDSS_HOME/archive/events_archive/event_date=YYYY-MM-DD/.",
    deps=[CITIZEN_EVENTS_ASSET],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"scylladb", "parquet"},
    metadata={"store": "archive", "table": "events_archive"},
)
raw_events = dg.AssetSpec(
    RAW_EVENTS_ASSET,
    description="The raw_events bucket (measurement citizen_event, 30 days retention): one point per event.",
    deps=[CITIZEN_EVENTS_ASSET],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"influxdb"},
    metadata={"store": "timeseries", "bucket": "raw_events", "measurement": "citizen_event"},
)
score_snapshots = dg.AssetSpec(
    SCORE_SNAPSHOTS_ASSET,
    description="Each citizen's current score, tier and last calculation (citizens.scoreSnapshot), guarded by "
    "the last applied offset per topic partition.",
    deps=[CITIZEN_EVENTS_ASSET],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mongodb"},
    metadata={"store": "documents", "collection": "citizens"},
)
score_change_history = dg.AssetSpec(
    SCORE_CHANGE_HISTORY_ASSET,
    description="Every score change (old/new score, reason, triggering rule, event): derived_metrics "
    "measurement score_change_history, and the archive's citizen_score_history.",
    deps=[CITIZEN_EVENTS_ASSET],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"influxdb", "scylladb"},
    metadata={"store": "timeseries", "bucket": "derived_metrics", "measurement": "score_change_history"},
)

SCORING_OUTPUTS = [events_archive, raw_events, score_snapshots, score_change_history]
