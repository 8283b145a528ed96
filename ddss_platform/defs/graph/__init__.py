"""Dagster definitions of the graph domain; merged by ddss_platform.definitions.

The social graph (size, degree distribution) and the per-citizen graph metrics, recomputed daily.
"""

import dagster as dg

from ddss_platform.defs.graph.assets import graph_derived_metrics, social_graph

graph_metrics = dg.define_asset_job(
    "graph_metrics",
    selection=[social_graph, graph_derived_metrics],
    description="Record the social graph's size and compute the graph-derived metrics for one day.",
)

defs = dg.Definitions(
    assets=[social_graph, graph_derived_metrics],
    jobs=[graph_metrics],
    schedules=[
        dg.build_schedule_from_partitioned_job(
            graph_metrics, hour_of_day=0, minute_of_hour=40, default_status=dg.DefaultScheduleStatus.RUNNING
        )
    ],
)
