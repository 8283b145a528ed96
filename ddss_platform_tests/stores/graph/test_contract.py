"""Contract of the graph port, run on every configured adapter (embedded; Dgraph when configured)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ddss_platform.stores.graph import AGGREGATE_COLUMNS, EDGE_COLUMNS, GraphEdge

T0 = 1_704_067_200_000
LATER = T0 + 1_000_000


def both_ways(a: str, b: str, kind: str, strength: float = 0.5, start: int | None = T0) -> list[GraphEdge]:
    return [GraphEdge(a, b, kind, strength, start), GraphEdge(b, a, kind, strength, start)]


def test_ensure_schema_reports_work_once(unprepared_graph):
    assert unprepared_graph.ensure_schema()
    assert unprepared_graph.ensure_schema() == []


def test_nodes_and_relationships_are_idempotent(graph):
    assert graph.upsert_nodes(["A", "B", "A"]) == 2
    assert graph.upsert_nodes(["A", "B"]) == 0
    edges = [*both_ways("A", "B", "family", 0.9), GraphEdge("A", "C", "friend", 0.4, T0)]
    assert graph.upsert_relationships(edges) == 3  # C is created on the way
    assert graph.upsert_relationships(edges) == 0
    assert graph.upsert_relationships([GraphEdge("A", "C", "friend", 0.6, T0)]) == 1
    out = graph.outgoing(["A", "C", "nobody"])
    assert out["A"] == [GraphEdge("A", "B", "family", 0.9, T0), GraphEdge("A", "C", "friend", 0.6, T0)]
    assert out["C"] == [] and out["nobody"] == []
    assert graph.counts().nodes == 3
    assert graph.counts().edges == {"colleague": 0, "family": 2, "friend": 1}


def test_relationships_are_checked():
    with pytest.raises(ValueError, match="enemy"):
        GraphEdge("A", "B", "enemy")
    with pytest.raises(ValueError, match="two different citizens"):
        GraphEdge("A", "A", "friend")


def test_ending_a_relationship_keeps_it_until_its_end(graph):
    graph.upsert_relationships(both_ways("A", "B", "colleague"))
    assert graph.end_relationships([("A", "B", "colleague", LATER)]) == 1
    assert graph.end_relationships([("A", "B", "colleague", LATER), ("A", "Z", "friend", LATER)]) == 0
    assert graph.neighbours("A", at_ms=LATER - 1) == {"B"}
    assert graph.neighbours("A", at_ms=LATER) == set()
    assert graph.neighbours("B", at_ms=LATER) == {"A"}
    assert graph.outgoing(["A"])["A"][0].end_ms == LATER
    # a START for the same key reopens it
    assert graph.upsert_relationships([GraphEdge("A", "B", "colleague", 0.5, T0)]) == 1
    assert graph.neighbours("A", at_ms=LATER) == {"B"}


def test_neighbours_by_type_and_within_hops(graph):
    graph.upsert_relationships(
        [
            *both_ways("A", "B", "family"),
            *both_ways("B", "C", "friend"),
            *both_ways("C", "D", "family"),
            GraphEdge("A", "E", "colleague", 0.5, LATER),
        ]  # starts later
    )
    assert graph.neighbours("A", at_ms=LATER) == {"B", "E"}
    assert graph.neighbours("A", at_ms=T0) == {"B"}
    assert graph.neighbours("A", types=["colleague"], at_ms=T0) == set()
    assert graph.neighbours_within("A", 1, at_ms=T0) == {"B"}
    assert graph.neighbours_within("A", 3, at_ms=T0) == {"B", "C", "D"}
    assert graph.neighbours_within("A", 3, types=["family"], at_ms=T0) == {"B"}


def test_neighbour_aggregates_of_a_small_graph(graph):
    graph.upsert_nodes(["LONER"])
    graph.upsert_relationships(
        [
            GraphEdge("A", "B", "family", 1.0, T0),
            GraphEdge("A", "C", "family", 1.0, T0),
            GraphEdge("A", "X", "family", 1.0, T0),
            *[GraphEdge("A", c, "colleague", 0.5, T0) for c in ("D", "E", "F")],
            GraphEdge("D", "E", "colleague", 0.5, T0),
            GraphEdge("E", "D", "colleague", 0.5, T0),
            GraphEdge("D", "F", "colleague", 0.5, T0),
            GraphEdge("E", "A", "friend", 0.5, T0),  # not a colleague link: does not count for A's density
            GraphEdge("A", "G", "friend", 0.5, T0),
            GraphEdge("A", "H", "friend", 0.5, T0, T0 + 10),  # H ended
        ]
    )
    frame = graph.neighbour_aggregates({"B": 600.0, "C": 400.0, "D": 1.0}, at_ms=LATER)  # X has no value
    assert list(frame.columns) == AGGREGATE_COLUMNS
    a = frame.loc["A"]
    assert a["family_avg_score"] == 500.0
    assert a["colleague_count"] == 3 and a["colleague_density"] == 0.5
    assert a["friend_count"] == 1
    loner = frame.loc["LONER"]
    assert math.isnan(loner["family_avg_score"]) and loner["colleague_count"] == 0 and loner["colleague_density"] == 0.0
    d = frame.loc["D"]
    assert d["colleague_count"] == 2 and d["colleague_density"] == 0.0  # E and F are not linked to each other


def test_neighbour_aggregates_match_a_direct_computation(graph):
    rng = np.random.default_rng(3)
    ids = [f"CIT{i:08d}" for i in range(60)]
    edges = {}
    for _ in range(400):
        a, b = rng.choice(60, 2, replace=False)
        kind = ["family", "colleague", "friend"][rng.integers(3)]
        edges[(ids[a], ids[b], kind)] = GraphEdge(ids[a], ids[b], kind, 0.5, T0)
    graph.upsert_relationships(edges.values())
    values = {i: float(v) for i, v in zip(ids, rng.uniform(0, 1000, 60))}
    frame = graph.neighbour_aggregates(values, at_ms=LATER)

    out = graph.outgoing(ids)
    for national_id in ids:
        kinds = {k: [e.target for e in out[national_id] if e.type == k] for k in ("family", "colleague", "friend")}
        row = frame.loc[national_id]
        family = [values[t] for t in kinds["family"]]
        assert (
            row["family_avg_score"] == pytest.approx(np.mean(family)) if family else math.isnan(row["family_avg_score"])
        )
        colleagues = set(kinds["colleague"])
        links = sum(1 for (s, t, k) in edges if k == "colleague" and s in colleagues and t in colleagues)
        k = len(colleagues)
        assert row["colleague_count"] == k
        assert row["colleague_density"] == pytest.approx(links / (k * (k - 1)) if k > 1 else 0.0)
        assert row["friend_count"] == len(kinds["friend"])


def test_degree_distribution_and_all_edges(graph):
    graph.upsert_nodes(["LONER"])
    graph.upsert_relationships([*both_ways("A", "B", "family"), GraphEdge("A", "C", "friend", 0.3, T0, LATER)])
    assert graph.degree_distribution(at_ms=T0).to_dict("list") == {"degree": [0, 1, 2], "citizens": [2, 1, 1]}
    assert graph.degree_distribution(types=["family"], at_ms=T0).to_dict("list") == {
        "degree": [0, 1],
        "citizens": [2, 2],
    }
    edges = graph.all_edges().sort_values(["source", "target"]).reset_index(drop=True)
    assert list(edges.columns) == EDGE_COLUMNS
    assert edges[["source", "target", "type"]].values.tolist() == [
        ["A", "B", "family"],
        ["A", "C", "friend"],
        ["B", "A", "family"],
    ]
    assert edges["end_ms"].tolist() == [pd.NA, LATER, pd.NA]
