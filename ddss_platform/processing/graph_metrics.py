"""The graph-derived metrics of one day: per citizen, from the relationships active at the end of the day and
the current snapshots, written to the derived_metrics bucket (measurement social_graph_derived_metrics)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ddss_platform.scoring import load_configuration
from ddss_platform.stores.documents import DocumentStore
from ddss_platform.stores.graph import GraphStore, Relationship
from ddss_platform.stores.graph.analysis import active_rows, association_risk, tier_risk
from ddss_platform.stores.timeseries import DERIVED_METRICS, SOCIAL_GRAPH_DERIVED_METRICS, Point, TimeSeries


def derived_points(frame: pd.DataFrame, time_ns: int) -> list[Point]:
    """One social_graph_derived_metrics point per citizen; a NaN field (no family, no known neighbour) is not
    written, as InfluxDB stores no value for it."""
    points = []
    for national_id, row in zip(frame.index, frame.to_dict(orient="records")):
        fields = {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
        points.append(Point(SOCIAL_GRAPH_DERIVED_METRICS, {"citizenID": str(national_id)}, fields, time_ns))
    return points


def write_graph_metrics(
    documents: DocumentStore, graph: GraphStore, timeseries: TimeSeries, start_ms: int, stop_ms: int, batch_id: str
) -> tuple[pd.DataFrame, int]:
    """(the metrics per citizen, index nationalID; the points written, stamped at start_ms) for the day
    [start_ms, stop_ms): average family score, family size, colleague network size and density, association
    risk."""
    at_ms = stop_ms - 1  # the relationships as they stand at the end of the day
    config = load_configuration(documents.load_active_configuration())
    snapshots = documents.all_snapshots().set_index("nationalID")
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
    written = timeseries.write(DERIVED_METRICS, derived_points(metrics, start_ms * 10**6), batch_id)
    return metrics, written
