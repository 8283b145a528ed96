"""The social graph (Dgraph role) and the per-citizen metrics derived from it
(``ddss_platform.processing.graph_metrics``)."""

import time

import dagster as dg

from ddss_platform.defs.asset_keys import (
    CITIZEN_EVENTS_ASSET,
    GRAPH_DERIVED_METRICS_ASSET,
    SCORE_SNAPSHOTS_ASSET,
    SOCIAL_GRAPH_ASSET,
)
from ddss_platform.defs.metadata import OWNERS, preview_table, time_range
from ddss_platform.defs.partitions import DAILY, window_ms
from ddss_platform.defs.resources import StoresResource
from ddss_platform.processing.graph_metrics import write_graph_metrics
from ddss_platform.stores.timeseries import SOCIAL_GRAPH_DERIVED_METRICS

GROUP = "graph"


@dg.asset(
    name=SOCIAL_GRAPH_ASSET,
    description="Citizens (CitizenNode, keyed by nationalID) and their typed, weighted, dated relationships "
    "(family, colleague, friend). Seeded by `ddss init`, changed by relationship events in the scoring runs; "
    "materializing it records its size and degree distribution.",
    deps=[CITIZEN_EVENTS_ASSET],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"dgraph"},
)
def social_graph(stores: StoresResource) -> dg.MaterializeResult:
    as_of = time.time()
    with stores.graph() as graph:
        counts = graph.counts()
        degrees = graph.degree_distribution()
    edges = sum(counts.edges.values())
    citizens = int(degrees["citizens"].sum()) if len(degrees) else 0
    mean_degree = float((degrees["degree"] * degrees["citizens"]).sum() / citizens) if citizens else 0.0
    return dg.MaterializeResult(
        metadata={
            "nodes": counts.nodes,
            "edges": edges,
            **{f"edges_{kind}": n for kind, n in sorted(counts.edges.items())},
            "mean_active_out_degree": round(mean_degree, 3),
            "max_active_out_degree": int(degrees["degree"].max()) if len(degrees) else 0,
            "degree_distribution": preview_table(degrees, rows=50),
            "as_of": dg.MetadataValue.timestamp(as_of),
        }
    )


@dg.asset(
    name=GRAPH_DERIVED_METRICS_ASSET,
    description="Per citizen and day, from the relationships active at the end of the day and the current "
    "snapshots: average family score, family size, colleague network size and density (links among the "
    "colleagues / possible links), and association risk (strength-weighted mean tier risk of the neighbours: "
    "1 for the lowest tier, 0 for the highest). Written to derived_metrics.social_graph_derived_metrics.",
    deps=[SOCIAL_GRAPH_ASSET, SCORE_SNAPSHOTS_ASSET],
    partitions_def=DAILY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"dgraph", "influxdb"},
    metadata={"bucket": "derived_metrics", "measurement": SOCIAL_GRAPH_DERIVED_METRICS},
)
def graph_derived_metrics(context: dg.AssetExecutionContext, stores: StoresResource) -> dg.MaterializeResult:
    start_ms, stop_ms = window_ms(context)
    with stores.documents() as documents, stores.graph() as graph, stores.timeseries() as timeseries:
        metrics, written = write_graph_metrics(
            documents, graph, timeseries, start_ms, stop_ms, f"social-graph-{context.partition_key}"
        )
    risk = metrics["associationRisk"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "citizens": len(metrics),
            "with_family": int((metrics["familySize"] > 0).sum()),
            "mean_association_risk": round(float(risk.mean()), 4) if risk.notna().any() else None,
            **time_range(start_ms * 10**6, stop_ms * 10**6),
            "preview": preview_table(metrics.rename_axis("nationalID").reset_index()),
        }
    )
