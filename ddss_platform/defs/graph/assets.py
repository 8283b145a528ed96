"""The social graph (Dgraph role) and the per-citizen metrics derived from it."""
import time

import dagster as dg
import numpy as np
import pandas as pd

from ddss_platform.defs.archive.metadata import preview_table, time_range
from ddss_platform.defs.archive.scoring_outputs import CITIZEN_EVENTS, SCORE_SNAPSHOTS
from ddss_platform.defs.metrics.partitions import DAILY, window_ms
from ddss_platform.resources import StoresResource
from ddss_platform.scoring import ScoringConfig, load_configuration
from ddss_platform.stores.graph import Relationship
from ddss_platform.stores.graph.analysis import active_rows
from ddss_platform.stores.timeseries import DERIVED_METRICS, SOCIAL_GRAPH_DERIVED_METRICS, Point

GROUP = "graph"
OWNERS = ["team:data-platform"]
SOCIAL_GRAPH = "social_graph"


@dg.asset(
    name=SOCIAL_GRAPH,
    description="Citizens (CitizenNode, keyed by nationalID) and their typed, weighted, dated relationships "
    "(family, colleague, friend). Seeded by `ddss init`, changed by relationship events in the scoring runs; "
    "materializing it records its size and degree distribution.",
    deps=[CITIZEN_EVENTS],
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


def tier_risk(config: ScoringConfig) -> dict[str, float]:
    """Risk weight per tier: 1 for the lowest tier down to 0 for the highest, evenly spaced."""
    ranks = len(config.tiers) - 1
    return {tier.name: (ranks - i) / ranks if ranks else 0.0 for i, tier in enumerate(config.tiers)}


def association_risk(active_edges: pd.DataFrame, tiers: pd.Series, risk: dict[str, float]) -> pd.Series:
    """Per source citizen: the strength-weighted mean risk weight of its active neighbours' tiers (neighbours
    without a snapshot are left out). Index nationalID."""
    weights = active_edges["target"].map(tiers).map(risk)
    known = active_edges.assign(weight=weights)[weights.notna()]
    strength = known["strength"].astype(float)
    weighted = (known["weight"] * strength).groupby(known["source"]).sum()
    return (weighted / strength.groupby(known["source"]).sum()).rename("associationRisk")


def derived_points(frame: pd.DataFrame, time_ns: int) -> list[Point]:
    """One social_graph_derived_metrics point per citizen; a NaN field (no family, no known neighbour) is not
    written, as InfluxDB stores no value for it."""
    points = []
    for national_id, row in zip(frame.index, frame.to_dict(orient="records")):
        fields = {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
        points.append(Point(SOCIAL_GRAPH_DERIVED_METRICS, {"citizenID": str(national_id)}, fields, time_ns))
    return points


@dg.asset(
    description="Per citizen and day, from the relationships active at the end of the day and the current "
    "snapshots: average family score, family size, colleague network size and density (links among the "
    "colleagues / possible links), and association risk (strength-weighted mean tier risk of the neighbours: "
    "1 for the lowest tier, 0 for the highest). Written to derived_metrics.social_graph_derived_metrics.",
    deps=[SOCIAL_GRAPH, SCORE_SNAPSHOTS],
    partitions_def=DAILY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"dgraph", "influxdb"},
    metadata={"bucket": "derived_metrics", "measurement": SOCIAL_GRAPH_DERIVED_METRICS},
)
def graph_derived_metrics(context: dg.AssetExecutionContext, stores: StoresResource) -> dg.MaterializeResult:
    start_ms, stop_ms = window_ms(context)
    at_ms = stop_ms - 1  # the relationships as they stand at the end of the day
    with stores.documents() as documents:
        config = load_configuration(documents.load_active_configuration())
        snapshots = documents.all_snapshots().set_index("nationalID")
    with stores.graph() as graph:
        aggregates = graph.neighbour_aggregates(snapshots["score"].astype(float).to_dict(), at_ms)
        active = active_rows(graph.all_edges(), at_ms)
    family = active[active["type"] == Relationship.FAMILY]
    metrics = pd.DataFrame(
        {
            "avgFamilyScore": aggregates["family_avg_score"].astype(float),
            "familySize": family.groupby("source").size().reindex(aggregates.index, fill_value=0).astype(int),
            "colleagueNetworkSize": aggregates["colleague_count"].astype(int),
            "colleagueNetworkDensity": aggregates["colleague_density"].astype(float),
            "associationRisk": association_risk(active, snapshots["tier"], tier_risk(config)).reindex(aggregates.index),
        }
    )
    with stores.timeseries() as timeseries:
        written = timeseries.write(DERIVED_METRICS, derived_points(metrics, start_ms * 10**6), f"social-graph-{context.partition_key}")
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
