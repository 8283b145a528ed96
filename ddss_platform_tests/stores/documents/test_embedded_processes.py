"""Four processes on one embedded documents file at once: a scoring-style writer, a batch writer and
two readers — no errors, no lost writes, no lock timeouts."""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ddss_platform.stores.documents import SnapshotUpdate, offset_key
from ddss_platform.stores.documents.embedded import EmbeddedDocuments
from ddss_platform_tests.stores.documents.samples import T0, citizen, rule

SEEDED = 1000
NEW = 1000
NEWCOMERS = 10  # per batch-writer round: created by new-citizen snapshot updates
NEWCOMER_BASE = 900_000
BATCHES = 30
BATCH = 400
P0, P1 = offset_key("citizen-events", 0), offset_key("citizen-events", 1)


def scoring_updates() -> list[list[SnapshotUpdate]]:
    """Batches of guarded updates over the seeded citizens, offsets increasing like one partition's ranges."""
    rng = random.Random(5)
    offset = 0
    batches = []
    for _ in range(BATCHES):
        batch = []
        for _ in range(BATCH):
            batch.append(
                SnapshotUpdate(
                    f"CIT{rng.randrange(SEEDED):08d}",
                    round(rng.uniform(0, 1000), 2),
                    rng.choice(["Standard", "Caution"]),
                    T0 + offset,
                    P0,
                    offset,
                )
            )
            offset += 1
        batches.append(batch)
    return batches


def scoring_writer(path: Path) -> int:
    store = EmbeddedDocuments(path)
    applied = 0
    for batch in scoring_updates():
        applied += store.apply_snapshot_updates(batch)
        assert store.apply_snapshot_updates(batch[: BATCH // 4]) == 0  # a replay changes nothing
    store.close()
    return applied


def batch_writer(path: Path) -> int:
    store = EmbeddedDocuments(path)
    created = 0
    for start in range(SEEDED, SEEDED + NEW, 100):
        created += store.create_citizens([citizen(f"CIT{i:08d}") for i in range(start, start + 100)])
        store.upsert_rules([rule(f"R{start}")])
        # new-citizen events on another partition
        store.apply_snapshot_updates(
            [
                SnapshotUpdate(
                    f"CIT{i:08d}",
                    505.0,
                    "Standard",
                    T0,
                    P1,
                    i,
                    profile={"firstName": "N", "lastName": "C", "region": "East"},
                )
                for i in range(NEWCOMER_BASE + start, NEWCOMER_BASE + start + NEWCOMERS)
            ]
        )
    store.close()
    return created


def reader(path: Path, stop: Path) -> int:
    store = EmbeddedDocuments(path)
    reads = 0
    rng = random.Random(str(path))
    while not stop.exists():
        ids = [f"CIT{rng.randrange(SEEDED + NEW):08d}" for _ in range(200)]
        docs = store.get_citizens(ids)
        assert all(d["nationalID"] == i for i, d in docs.items())
        store.find_citizens(tier="Caution", after_id="CIT00000100", limit=50)
        store.count_by_tier()
        reads += 1
        if reads % 10 == 0:
            assert len(store.all_snapshots()) >= SEEDED
    store.close()
    return reads


def test_four_processes_share_the_documents_file(tmp_path):
    path = tmp_path / "documents.sqlite"
    stop = tmp_path / "stop"
    store = EmbeddedDocuments(path)
    store.ensure_schema()
    store.create_citizens([citizen(f"CIT{i:08d}") for i in range(SEEDED)])

    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        readers = [pool.submit(reader, path, stop) for _ in range(2)]
        scoring = pool.submit(scoring_writer, path)
        batch = pool.submit(batch_writer, path)
        applied, created = scoring.result(timeout=300), batch.result(timeout=300)
        stop.touch()
        reads = [r.result(timeout=60) for r in readers]

    assert all(n > 0 for n in reads)
    assert created == NEW
    # every scoring update was applied exactly once: final snapshot = last update per citizen, version counts them
    last, counts = {}, {}
    for batch_updates in scoring_updates():
        for u in batch_updates:
            last[u.national_id] = u
            counts[u.national_id] = counts.get(u.national_id, 0) + 1
    assert applied == sum(counts.values())
    docs = store.get_citizens(list(last))
    for national_id, u in last.items():
        doc = docs[national_id]
        assert doc["scoreSnapshot"]["currentScore"] == u.score
        assert doc["appliedOffsets"] == {P0: u.offset}
        assert doc["metadata"]["version"] == 1 + counts[national_id]
    assert store.citizen_count() == SEEDED + NEW + NEWCOMERS * NEW // 100
    store.close()
