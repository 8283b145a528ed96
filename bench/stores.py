"""Bulk write and read throughput of the embedded stores, through their ports.

    python bench/stores.py                # quick (< 30 s): 20k events, the graph at 100k nodes / 500k edges
    python bench/stores.py --size 500000  # the acceptance run

Each store is opened with ``open_<port>(Settings.from_env({"DDSS_HOME": <temporary dir>}))``.

* documents: guarded snapshot updates (``apply_snapshot_updates``, batches of 10k, one update per citizen
  per batch as a scoring chunk sends) over --graph-nodes existing citizens, then the same batches again
  (a replay: every update skipped by the offset guard). The citizens are set up through ``create_citizens``
  too; its jsonschema validation (~150 µs of CPU per document) dominates, so they are minimal valid
  documents (the required profile fields only) created by one worker process per core in parallel.
* timeseries: --size ``citizen_event`` points, built by the scoring runs' own sink code from simulated
  events, written in the processor's chunks; read back with ``query`` over the whole range and for one citizen.
* archive: the same events as the processor's archive rows (a list of dicts per chunk) through
  ``write_events``; read back with ``read_events`` over everything and for one citizen.
* graph: the seed world's relationships (households, workplaces, friends) over --graph-nodes citizens,
  cut or topped up with random friendships to --graph-edges, through ``upsert_relationships``; then
  ``neighbour_aggregates`` over every node.

Writes are timed once over the whole size (many batches); reads and the aggregate are the best of --repeats.
Rates are per wall-clock second; the ``*_per_cpu_s`` extras divide by this process's CPU time instead, which
tells the code's speed from a busy shared machine's. Last line: JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ddss_platform.cli.world import generate_world  # noqa: E402
from ddss_platform.events.simulator import CitizenEventSimulator, citizen_id, recent_start_ms  # noqa: E402
from ddss_platform.events.topics import CITIZEN_EVENTS  # noqa: E402
from ddss_platform.processing import CHUNK_SIZE, sinks  # noqa: E402
from ddss_platform.scoring.batch import SCORED, EventOutcome  # noqa: E402
from ddss_platform.settings import Settings  # noqa: E402
from ddss_platform.stores.archive import open_archive  # noqa: E402
from ddss_platform.stores.documents import (  # noqa: E402
    SnapshotUpdate,
    new_citizen_document,
    offset_key,
    open_documents,
)
from ddss_platform.stores.graph import GraphEdge, Relationship, open_graph  # noqa: E402
from ddss_platform.stores.timeseries import CITIZEN_EVENT, RAW_EVENTS, open_timeseries  # noqa: E402

SNAPSHOT_BATCH = 10_000
CREATE_CHUNK = 5_000
EDGE_BATCH = 50_000  # what `ddss init` sends per upsert_relationships call
PARTITIONS = 3
TIERS = ("HighRisk", "Caution", "Standard", "Exemplary")  # by score quarter: any schema-valid tier will do


def settings_for(home: Path) -> Settings:
    return Settings.from_env({"DDSS_HOME": str(home)})


def timed(work) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result of ``work()``). The objects alive before are kept out
    of the garbage collector's scans meanwhile: the set-up data (all --size events at once, where a scoring
    run holds one chunk) would otherwise slow down every full collection inside the store code."""
    gc.collect()
    gc.freeze()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        return time.perf_counter() - wall, time.process_time() - cpu, result
    finally:
        gc.unfreeze()


def best_of(repeats: int, work) -> tuple[float, object]:
    """Best wall time of ``repeats`` runs, and the last run's result."""
    runs = [timed(work) for _ in range(repeats)]
    return min(wall for wall, _, _ in runs), runs[-1][2]


# --- documents -----------------------------------------------------------------------------------------------


def create_citizen_range(home: str, start: int, stop: int) -> int:
    """Worker: create citizens start..stop-1 through the port (validated like any other)."""
    store = open_documents(settings_for(Path(home)))
    profile = {"firstName": "Bench", "lastName": "Citizen", "region": "bench"}
    try:
        return store.create_citizens(
            new_citizen_document(citizen_id(i), profile, {}, 500.0, "Standard", 0) for i in range(start, stop)
        )
    finally:
        store.close()


def create_citizens(home: Path, count: int) -> int:
    ranges = [(start, min(start + CREATE_CHUNK, count)) for start in range(0, count, CREATE_CHUNK)]
    with ProcessPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        return sum(pool.map(create_citizen_range, *zip(*[(str(home), a, b) for a, b in ranges])))


def snapshot_batches(citizens: int, count: int, rng: np.random.Generator) -> list[list[SnapshotUpdate]]:
    """Batches as scoring chunks send them: one partition per batch, one update per citizen, offsets rising."""
    batches, offset = [], 0
    for number, start in enumerate(range(0, count, SNAPSHOT_BATCH)):
        size = min(SNAPSHOT_BATCH, count - start, citizens)
        who = rng.choice(citizens, size, replace=False)
        scores = np.round(rng.uniform(0, 1000, size), 2)
        partition = offset_key(CITIZEN_EVENTS, number % PARTITIONS)
        batches.append(
            [
                SnapshotUpdate(
                    citizen_id(int(c)),
                    float(s),
                    TIERS[min(3, int(s // 250))],
                    calculated_at=1_700_000_000_000 + offset + k,
                    topic_partition=partition,
                    offset=offset + k,
                )
                for k, (c, s) in enumerate(zip(who, scores))
            ]
        )
        offset += size
    return batches


def bench_documents(home: Path, citizens: int, size: int, rng: np.random.Generator) -> dict:
    store = open_documents(settings_for(home))
    store.ensure_schema()
    store.close()
    create_s, _, created = timed(lambda: create_citizens(home, citizens))
    batches = snapshot_batches(citizens, size, rng)
    updates = sum(map(len, batches))
    store = open_documents(settings_for(home))
    update_s, update_cpu, applied = timed(lambda: sum(store.apply_snapshot_updates(b) for b in batches))
    replay_s, _, reapplied = timed(lambda: sum(store.apply_snapshot_updates(b) for b in batches))
    store.close()
    if created != citizens or applied != updates or reapplied:
        raise RuntimeError(
            f"documents: created {created}/{citizens}, applied {applied}/{updates}, replay applied {reapplied}"
        )
    print(
        f"documents: {citizens:,} citizens created in {create_s:.1f}s; {updates:,} updates in {update_s:.2f}s, "
        f"replayed in {replay_s:.2f}s",
        file=sys.stderr,
    )
    return {
        "snapshot_updates_per_s": updates / update_s,
        "snapshot_updates_per_cpu_s": updates / update_cpu,
        "replayed_updates_per_s": updates / replay_s,
        "citizens_created_per_s": citizens / create_s,
    }


# --- timeseries and archive ----------------------------------------------------------------------------------


def simulated_chunks(citizens: int, size: int) -> list[list[EventOutcome]]:
    """--size simulated events as the scoring runs' outcomes, in processor chunks."""
    events = islice(
        CitizenEventSimulator(citizens, seed=1, start_ms=recent_start_ms(size, time.time_ns() // 1_000_000)), size
    )
    outcomes = [
        EventOutcome(offset=offset, event=event, status=SCORED, score_impact=1.0, applied_rule_ids=())
        for offset, event in enumerate(events)
    ]
    return [outcomes[start : start + CHUNK_SIZE] for start in range(0, size, CHUNK_SIZE)]


def write_and_read(
    label: str, unit: str, batches: list[list], write, read_all, read_one, repeats: int
) -> tuple[float, float, float, float]:
    """(written per s, written per CPU s, read back per s, seconds to read one citizen's): ``write(batch,
    batch_id)`` for each batch, then the best of ``repeats`` calls of ``read_all`` (which must return every row
    written) and of ``read_one``."""
    count = sum(map(len, batches))
    write_s, write_cpu, _ = timed(lambda: [write(batch, f"bench-{i}") for i, batch in enumerate(batches)])
    read_s, everything = best_of(repeats, read_all)
    one_s, mine = best_of(repeats, read_one)
    if len(everything) != count:
        raise RuntimeError(f"{label}: wrote {count} {unit}, read back {len(everything)}")
    print(
        f"{label}: {count:,} {unit} written in {write_s:.2f}s, read in {read_s:.2f}s; "
        f"one citizen's {len(mine)} {unit} in {one_s:.3f}s",
        file=sys.stderr,
    )
    return count / write_s, count / write_cpu, count / read_s, one_s


def bench_timeseries(home: Path, chunks: list[list[EventOutcome]], repeats: int) -> dict:
    store = open_timeseries(settings_for(home))
    store.ensure_schema()
    batches = [sinks.raw_event_table(sinks.EventColumns(chunk)) for chunk in chunks]
    first = min(pc.min(b["time_ns"]).as_py() for b in batches)
    last = max(pc.max(b["time_ns"]).as_py() for b in batches) + 1
    who = {"citizenID": batches[0]["citizenID"][0].as_py()}
    try:
        written, per_cpu, read, one = write_and_read(
            "timeseries",
            "points",
            batches,
            lambda batch, batch_id: store.write_table(RAW_EVENTS, CITIZEN_EVENT, batch, batch_id),
            lambda: store.query(RAW_EVENTS, CITIZEN_EVENT, first, last),
            lambda: store.query(RAW_EVENTS, CITIZEN_EVENT, first, last, who),
            repeats,
        )
    finally:
        store.close()
    return {
        "points_per_s": written,
        "points_per_cpu_s": per_cpu,
        "points_read_per_s": read,
        "citizen_points_query_s": one,
    }


def bench_archive(home: Path, chunks: list[list[EventOutcome]], repeats: int) -> dict:
    store = open_archive(settings_for(home))
    store.ensure_schema()
    batches = [sinks.archive_table(sinks.EventColumns(chunk), CITIZEN_EVENTS, 0) for chunk in chunks]
    who = batches[0]["citizen_id"][0].as_py()
    try:
        written, per_cpu, read, one = write_and_read(
            "archive",
            "rows",
            batches,
            store.write_events,
            store.read_events,
            lambda: store.read_events(citizen_id=who),
            repeats,
        )
    finally:
        store.close()
    return {
        "archive_rows_per_s": written,
        "archive_rows_per_cpu_s": per_cpu,
        "archive_read_rows_per_s": read,
        "citizen_archive_read_s": one,
    }


# --- graph ---------------------------------------------------------------------------------------------------


def world_edges(nodes: int, count: int, rng: np.random.Generator) -> list[GraphEdge]:
    """The seed world's relationships over ``nodes`` citizens, cut or topped up with random friendships to ``count``."""
    edges = generate_world(nodes, seed=1).relationships
    if len(edges) >= count:
        return [edges[i] for i in np.sort(rng.choice(len(edges), count, replace=False))]
    taken = {e.key for e in edges}
    while len(edges) < count:
        source, target = (citizen_id(int(i)) for i in rng.choice(nodes, 2, replace=False))
        edge = GraphEdge(source, target, Relationship.FRIEND, 0.5)
        if edge.key not in taken:
            taken.add(edge.key)
            edges.append(edge)
    return edges


def bench_graph(home: Path, nodes: int, edge_count: int, repeats: int, rng: np.random.Generator) -> dict:
    edges = world_edges(nodes, edge_count, rng)
    store = open_graph(settings_for(home))
    store.ensure_schema()
    ids = [citizen_id(i) for i in range(nodes)]
    store.upsert_nodes(ids)
    write_s, write_cpu, written = timed(
        lambda: sum(store.upsert_relationships(edges[s : s + EDGE_BATCH]) for s in range(0, len(edges), EDGE_BATCH))
    )
    scores = pd.Series(np.round(rng.uniform(0, 1000, nodes), 2), index=ids)
    aggregate_s, frame = best_of(repeats, lambda: store.neighbour_aggregates(scores))
    store.close()
    if written != len(edges) or len(frame) != nodes:
        raise RuntimeError(f"graph: wrote {written}/{len(edges)} edges, aggregated {len(frame)}/{nodes} nodes")
    print(
        f"graph: {len(edges):,} edges over {nodes:,} nodes written in {write_s:.2f}s, "
        f"neighbour aggregates in {aggregate_s:.3f}s",
        file=sys.stderr,
    )
    return {
        "graph_edges_per_s": len(edges) / write_s,
        "neighbour_aggregate_s": aggregate_s,
        "graph_edges_per_cpu_s": len(edges) / write_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--size", type=int, default=20_000, help="snapshot updates, points and archive rows (default 20000)"
    )
    parser.add_argument(
        "--graph-nodes", type=int, default=100_000, help="graph nodes, also the documents' citizens (default 100000)"
    )
    parser.add_argument("--graph-edges", type=int, default=500_000, help="graph edges (default 500000)")
    parser.add_argument("--repeats", type=int, default=3, help="reads and the aggregate: best of this many runs")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="ddss-bench-stores-") as tmp:
        home = Path(tmp)
        documents = bench_documents(home, args.graph_nodes, args.size, rng)
        chunks = simulated_chunks(args.graph_nodes, args.size)
        timeseries = bench_timeseries(home, chunks, args.repeats)
        archive = bench_archive(home, chunks, args.repeats)
        graph = bench_graph(home, args.graph_nodes, args.graph_edges, args.repeats, rng)
    headline = {
        "snapshot_updates_per_s": documents.pop("snapshot_updates_per_s"),
        "points_per_s": timeseries.pop("points_per_s"),
        "graph_edges_per_s": graph.pop("graph_edges_per_s"),
        "neighbour_aggregate_s": graph.pop("neighbour_aggregate_s"),
        "archive_rows_per_s": archive.pop("archive_rows_per_s"),
    }
    sizes = {"size": args.size, "graph_nodes": args.graph_nodes, "graph_edges": args.graph_edges}
    results = {**headline, **documents, **timeseries, **archive, **sizes}
    print(json.dumps({k: round(v, 3) if isinstance(v, float) and v < 100 else round(v) for k, v in results.items()}))


if __name__ == "__main__":
    main()
