"""Four processes on one embedded archive at once: a scoring-style writer (event batches, some replayed,
cooldowns, score history), a batch writer (daily aggregates, TTL sweeps), two readers. No errors, no lost
or duplicated rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ddss_platform.stores.archive import (
    AGGREGATE_TABLES,
    CREDIT_SCORE_AGGREGATES,
    DAY_MS,
    CooldownRow,
    ScoreHistoryRow,
    day_start_ms,
)
from ddss_platform.stores.archive.embedded import EmbeddedArchive
from ddss_platform_tests.stores.timeseries.processes import run_store_scenario

DAY1 = day_start_ms("2024-05-01")
BATCHES, PER_BATCH, DAYS = 40, 250, 4
CITIZENS = 50


def scoring_writer(root: str) -> int:
    store = EmbeddedArchive(Path(root))
    for b in range(BATCHES):
        offsets = range(b * PER_BATCH, (b + 1) * PER_BATCH)
        rows = [
            {
                "event_id": f"e{o}",
                "citizen_id": f"c{o % CITIZENS}",
                "event_time": DAY1 + (o % DAYS) * DAY_MS + o,
                "event_type": "financial",
                "score_impact": 1.0,
                "status": "scored",
                "topic": "citizen-events",
                "partition": 0,
                "offset": o,
            }
            for o in offsets
        ]
        batch_id = f"citizen-events-0-{offsets.start}-{offsets.stop}"
        for _ in range(2 if b % 5 == 0 else 1):  # every fifth range is replayed
            store.write_events(rows, batch_id)
            store.save_cooldowns(
                CooldownRow(f"c{c}", "R1", (offsets.stop,), {"citizen-events/0": offsets.stop - 1})
                for c in range(CITIZENS)
            )
            store.write_score_history(
                [
                    ScoreHistoryRow(
                        f"c{o % CITIZENS}", DAY1 + o, f"e{o}", "R1", 500.0, 501.0, 1.0, "EVENT_IMPACT", "Standard"
                    )
                    for o in offsets
                ],
                batch_id,
            )
    store.close()
    return BATCHES


def batch_writer(root: str) -> int:
    store = EmbeddedArchive(Path(root))
    columns = AGGREGATE_TABLES[CREDIT_SCORE_AGGREGATES].schema.names
    for run in range(10):
        for d in range(DAYS):
            day = f"2024-05-0{d + 1}"
            store.read_events(day=day)  # what the batch job reads
            rows = pd.DataFrame([{c: run for c in columns} | {"region": r} for r in ("north", "south")])
            store.write_aggregates(CREDIT_SCORE_AGGREGATES, rows, day)
        store.enforce_ttl(DAY1 + DAY_MS)  # nothing is five years old: sweeps, removes none
    store.close()
    return 10


def reader(root: str, done) -> int:
    store = EmbeddedArchive(Path(root))
    reads, last = 0, 0
    while not done.is_set() or reads < 3:
        total = sum(store.count_by_day().values())
        assert total >= last, "a reader saw archived events disappear"
        last = total
        df = store.read_events(citizen_id="c7")
        assert not df["event_id"].duplicated().any()
        recent = store.recent_events("c7", 1000)  # readers catch the side index up, concurrently
        assert len({r["event_id"] for r in recent}) == len(recent)
        store.load_cooldowns([f"c{c}" for c in range(CITIZENS)])
        store.read_score_history("c3", limit=10)
        store.read_aggregates(CREDIT_SCORE_AGGREGATES, region="north")
        reads += 1
    store.close()
    return reads


@pytest.mark.timeout(600)
def test_four_processes_share_the_archive(tmp_path):
    root = str(tmp_path / "archive")
    EmbeddedArchive(Path(root)).ensure_schema()
    run_store_scenario(root, scoring_writer, batch_writer, reader)
    store = EmbeddedArchive(Path(root))
    total = BATCHES * PER_BATCH
    assert store.count_by_day() == {f"2024-05-0{d + 1}": total // DAYS for d in range(DAYS)}
    assert len(store.read_events()) == total
    assert len(store.recent_events("c7", 10**6)) == total // CITIZENS
    cooldowns = store.load_cooldowns(f"c{c}" for c in range(CITIZENS))
    assert {c.guard_offsets["citizen-events/0"] for c in cooldowns.values()} == {total - 1}
    assert sum(len(store.read_score_history(f"c{c}", limit=10**6)) for c in range(CITIZENS)) == total
    aggregates = store.read_aggregates(CREDIT_SCORE_AGGREGATES)
    assert len(aggregates) == 2 * DAYS and set(aggregates["citizens"]) == {9}
