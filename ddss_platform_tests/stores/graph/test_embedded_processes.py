"""Four processes on one embedded graph file at once: a scoring-style writer (relationship events),
a batch writer (a bulk load) and two readers — no errors, no lost writes, no lock timeouts."""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from itertools import groupby
from pathlib import Path

import pandas as pd

from ddss_platform.stores.graph import RELATIONSHIP_TYPES, GraphEdge
from ddss_platform.stores.graph.embedded import EmbeddedGraph

T0 = 1_704_067_200_000
PEOPLE = 2000
EVENTS = 1500
BULK = 20_000


def relationship_events() -> list[tuple[str, GraphEdge]]:
    """START/END events among the first half of the people, as the scoring runs apply them."""
    rng = random.Random(11)
    events = []
    for i in range(EVENTS):
        a, b = rng.sample(range(PEOPLE // 2), 2)
        edge = GraphEdge(f"P{a}", f"P{b}", rng.choice(RELATIONSHIP_TYPES), 0.5, T0 + i)
        events.append(("END" if i % 5 == 4 else "START", edge))
    return events


def bulk_edges() -> list[GraphEdge]:
    """A bulk load among the second half (disjoint from the events)."""
    rng = random.Random(12)
    half = PEOPLE // 2
    return list(
        {
            (e.source, e.target, e.type): e
            for e in (
                GraphEdge(f"P{half + a}", f"P{half + b}", rng.choice(RELATIONSHIP_TYPES), 0.7, T0)
                for a, b in (rng.sample(range(half), 2) for _ in range(BULK))
            )
        }.values()
    )


def scoring_writer(path: Path) -> None:
    graph = EmbeddedGraph(path)
    for action, run in groupby(relationship_events(), key=lambda event: event[0]):  # in event order
        edges = [edge for _, edge in run]
        if action == "START":
            graph.upsert_relationships(edges)
        else:
            graph.end_relationships([(*e.key, e.start_ms) for e in edges])
    graph.close()


def batch_writer(path: Path) -> None:
    graph = EmbeddedGraph(path)
    edges = bulk_edges()
    for start in range(0, len(edges), 2000):
        graph.upsert_relationships(edges[start : start + 2000])
    graph.close()


def reader(path: Path, stop: Path) -> int:
    graph = EmbeddedGraph(path)
    reads = 0
    while not stop.exists():
        frame = graph.neighbour_aggregates({f"P{i}": float(i % 1000) for i in range(PEOPLE)}, at_ms=T0 + EVENTS)
        assert (frame["colleague_density"].between(0, 1)).all()
        graph.outgoing([f"P{i}" for i in range(0, PEOPLE, 7)])
        graph.counts()
        reads += 1
    graph.close()
    return reads


def expected_keys() -> tuple[dict[tuple, int | None], set[tuple]]:
    """Event edges -> their end (None while open), and the bulk keys."""
    ends: dict[tuple, int | None] = {}
    for action, edge in relationship_events():
        if action == "START":
            ends[edge.key] = None
        elif edge.key in ends:
            ends[edge.key] = edge.start_ms
    return ends, {e.key for e in bulk_edges()}


def test_four_processes_share_the_graph_file(tmp_path):
    path = tmp_path / "graph.sqlite"
    stop = tmp_path / "stop"
    graph = EmbeddedGraph(path)
    graph.ensure_schema()

    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        readers = [pool.submit(reader, path, stop) for _ in range(2)]
        writers = [pool.submit(scoring_writer, path), pool.submit(batch_writer, path)]
        for writer in writers:
            writer.result(timeout=300)
        stop.touch()
        assert all(r.result(timeout=60) > 0 for r in readers)

    ends, bulk = expected_keys()
    stored = graph.all_edges()
    stored_ends = {
        (r.source, r.target, r.type): None if pd.isna(r.end_ms) else int(r.end_ms) for r in stored.itertuples()
    }
    assert set(stored_ends) == set(ends) | bulk
    assert {k: stored_ends[k] for k in ends} == ends
    graph.close()
