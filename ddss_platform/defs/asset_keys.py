"""Every asset key the platform's Dagster definitions declare or report to, once.

The Spark aggregates and the derived metrics are each one store table or measurement and are keyed by its name:
``stores.archive.CREDIT_SCORE_AGGREGATES`` and ``EVENTS_SUMMARY``, ``stores.timeseries.DERIVED_TASKS``.
"""

CITIZEN_EVENTS_ASSET = "citizen_events"
"""The citizen-events topic (``events.topics.CITIZEN_EVENTS``) as an observable source asset."""

# what the score_events runs write, reported as materializations of external assets
EVENTS_ARCHIVE_ASSET = "events_archive"
RAW_EVENTS_ASSET = "raw_events"
SCORE_SNAPSHOTS_ASSET = "score_snapshots"
SCORE_CHANGE_HISTORY_ASSET = "score_change_history"

SOCIAL_GRAPH_ASSET = "social_graph"
GRAPH_DERIVED_METRICS_ASSET = "graph_derived_metrics"
FLUX_TASKS_ASSET = "flux_tasks"
