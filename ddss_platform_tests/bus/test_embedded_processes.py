"""The embedded log shared by several processes at once: no lost, duplicated or reordered records."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from ddss_platform.stores.bus.embedded import EmbeddedBus

TOPIC = "citizen-events"
WORKERS = 4
BATCHES = 25
BATCH = 40


def _produce_and_read(path: str, worker: int, start_at: float) -> int:
    bus = EmbeddedBus(Path(path))
    time.sleep(max(0.0, start_at - time.time()))  # all workers start together, so their writes interleave
    checked = 0
    for batch in range(BATCHES):
        bus.produce(
            TOPIC, [(f"CIT{(worker * 7 + i) % 11:08d}", f"{worker}:{batch}:{i}".encode()) for i in range(BATCH)]
        )
        # read what exists so far while the others keep writing: every range must be complete
        for partition, end in bus.end_offsets(TOPIC).items():
            records = bus.read_range(TOPIC, partition, max(0, end - 50), end)
            assert [r.offset for r in records] == list(range(max(0, end - 50), end))
            checked += len(records)
        bus.commit(f"group-{worker}", TOPIC, {0: batch + 1})
    bus.close()
    return checked


def test_concurrent_producers_and_readers(tmp_path):
    path = tmp_path / "bus.sqlite"
    EmbeddedBus(path).ensure_topic(TOPIC, 3)
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        start_at = time.time() + 3.0
        checked = pool.starmap(_produce_and_read, [(str(path), w, start_at) for w in range(WORKERS)])
    assert all(checked)

    bus = EmbeddedBus(path)
    ends = bus.end_offsets(TOPIC)
    assert sum(ends.values()) == WORKERS * BATCHES * BATCH
    values = []
    writer_switches = 0
    for partition, end in ends.items():
        records = bus.read_range(TOPIC, partition, 0, end)
        assert [r.offset for r in records] == list(range(end))
        values += [r.value.decode() for r in records]
        writers = [r.value.split(b":")[0] for r in records]
        writer_switches += sum(a != b for a, b in zip(writers, writers[1:]))
        # each producer's records keep their produce order within a partition
        for worker in range(WORKERS):
            mine = [
                tuple(map(int, r.value.decode().split(":")[1:]))
                for r in records
                if r.value.startswith(f"{worker}:".encode())
            ]
            assert mine == sorted(mine)
    expected = {f"{w}:{b}:{i}" for w in range(WORKERS) for b in range(BATCHES) for i in range(BATCH)}
    assert len(values) == len(expected) and set(values) == expected
    assert writer_switches > WORKERS * len(ends)  # the processes really wrote at the same time
    assert all(bus.committed(f"group-{w}", TOPIC)[0] == BATCHES for w in range(WORKERS))
