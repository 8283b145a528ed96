"""Process one offset range of one partition: read in chunks, decode, score, write every sink, commit.

Per chunk: read and decode, load the touched citizens, their edges and cooldowns that no earlier chunk
of the run read (one query each), score in offset order and write: dead letters → archive events, raw
events, score-change points and the score history (keyed rows) → created citizens and snapshots
(guarded by appliedOffsets) → cooldown states (guarded) → graph nodes and relationship changes
(upserts). After the last chunk the group offset is committed to the range's end; a run that fails
anywhere before commits nothing.

Runs of different partitions go side by side, without a lock: a partition's run is the only writer of
its citizens' cooldowns and outgoing edges and of every snapshot's guard for that partition, and a
snapshot update adds the batch's net change to the stored score, so association effects that runs of
two partitions make on one citizen both count. What a run read of a citizen another partition's run
moves meanwhile is stale only in the old/new scores of its history rows.

A retried range (after a failed attempt, or a crash between any two of these writes) converges to
exactly what one clean pass writes: the scoring core reports an event whose effects the citizen's
snapshot already holds as ``duplicate`` and the processor writes no rows for it (the failed attempt
wrote them before the snapshot), keyed rows written twice keep one copy, guarded state is not
applied twice, and dead letters already on the DLQ are not produced again.
"""

from __future__ import annotations

import gc
import os
import time
import zlib
from collections.abc import Callable
from contextlib import contextmanager

import psutil

from ddss_platform.events.topics import CITIZEN_EVENTS_DLQ, SCORING_GROUP
from ddss_platform.processing import sinks
from ddss_platform.processing.dead_letters import already_dead_lettered, produce_dead_letters
from ddss_platform.processing.decoding import decode_chunk
from ddss_platform.processing.ranges import OffsetRange
from ddss_platform.processing.result import RangeResult
from ddss_platform.processing.state import RunState
from ddss_platform.scoring import BatchOutcome, load_configuration, load_rules, score_batch
from ddss_platform.scoring.batch import DUPLICATE
from ddss_platform.stores import Stores
from ddss_platform.stores.documents import offset_key
from ddss_platform.stores.timeseries import CITIZEN_EVENT, DERIVED_METRICS, RAW_EVENTS, SCORE_CHANGE_HISTORY

CHUNK_SIZE = 10_000
"""Records read, scored and written at a time: bounds a run's memory whatever the range size."""
HOUR_MS = 3_600_000
CRASH_ENV = "DDSS_CRASH_AT"
"""Test hook: ``DDSS_CRASH_AT=n`` kills the process (exit 137) just before its n-th sink write."""
CRASH_EXIT_CODE = 137


class RangeGapError(RuntimeError):
    """The range starts after the group's committed offset: processing it would skip records."""


class SinkWrites:
    """Performs and counts sink writes (the offset commit included); the crash hook lives here."""

    def __init__(self, crash_at: int | None = None):
        self.crash_at = crash_at
        self.count = 0

    @classmethod
    def from_env(cls) -> SinkWrites:
        raw = os.environ.get(CRASH_ENV)
        return cls(int(raw) if raw else None)

    def __call__(self, write: Callable, *args):
        self.count += 1
        if self.count == self.crash_at:
            self.crash()
        return write(*args)

    def crash(self) -> None:
        os._exit(CRASH_EXIT_CODE)


@contextmanager
def collector_paused():
    """A run allocates a few objects per event, and reference counting frees them all: a full collection after
    each chunk of a 60k backlog found no garbage, yet the cyclic collector's automatic passes over the chunk's
    live objects cost about a third of the scoring time. It is off for the run (objects alive before it, the
    worker's modules, frozen out of collection), and back on after."""
    was_enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def load_scoring(documents):
    """The active configuration and its rule set's active rules (loaded once per range)."""
    config = load_configuration(documents.load_active_configuration())
    return config, load_rules(documents.load_active_rules(config.active_rule_set))


def process_range(
    stores: Stores,
    requested: OffsetRange,
    *,
    chunk_size: int = CHUNK_SIZE,
    writes: SinkWrites | None = None,
    log: Callable[[str], None] | None = None,
) -> RangeResult:
    """Score ``requested`` and commit its end; returns what was done.

    If the group already committed part of the range (a duplicate run), only the rest is processed;
    if it committed all of it, nothing is. A range starting after the committed offset is refused."""
    started = time.perf_counter()
    writes = writes or SinkWrites.from_env()
    bus, topic, partition = stores.bus, requested.topic, requested.partition
    committed = bus.committed(SCORING_GROUP, topic)[partition]
    if committed > requested.start:
        rng = OffsetRange(topic, partition, min(committed, requested.end), requested.end)
    elif committed < requested.start:
        raise RangeGapError(f"{requested} starts after the committed offset {committed} of group {SCORING_GROUP}")
    else:
        rng = requested
    result = RangeResult(rng)
    if rng.size == 0:
        result.already_committed = True
        return result
    config, rules = load_scoring(stores.documents)
    bus.ensure_topic(CITIZEN_EVENTS_DLQ, len(bus.partitions(topic)))
    process = psutil.Process()
    tp = offset_key(topic, partition)
    with collector_paused():
        state = RunState(stores.documents, stores.graph, stores.archive)
        for records in bus.iter_range(topic, partition, rng.start, rng.end, chunk_size):
            decoded = decode_chunk(stores.codec, records)
            first, last = records[0].offset, records[-1].offset + 1
            if decoded.dead_letters:
                done = already_dead_lettered(bus, topic, partition, first)
                fresh = [d for d in decoded.dead_letters if d.source_offset not in done]
                if fresh:
                    writes(produce_dead_letters, bus, fresh)
            loaded = state.for_chunk(decoded.events)
            outcome = score_batch(
                decoded.events, rules, config, loaded.citizens, loaded.cooldowns, loaded.relationships, tp
            )
            state.absorb(outcome)
            _write_chunk(stores, writes, outcome, config, rng, first, last, result)
            result.records += len(records)
            result.dead_lettered += len(decoded.dead_letters)
            result.dead_letter_reasons.update(d.reason for d in decoded.dead_letters)
            _count(result, outcome)
            del records, decoded, loaded, outcome
            result.max_rss_mb = max(result.max_rss_mb, process.memory_info().rss / 2**20)
            if log:
                log(
                    f"{rng}: {result.records} records scored so far, {result.dead_lettered} dead-lettered, "
                    f"{result.score_changes} score changes"
                )
        writes(bus.commit, SCORING_GROUP, topic, {partition: rng.end})
    result.elapsed_s = time.perf_counter() - started
    return result


def batch_id(topic: str, partition: int, first: int, last: int, outcome: BatchOutcome) -> str:
    """Deterministic per chunk. A replay (some outcomes already applied) writes a subset of the rows,
    so it gets its own name instead of replacing the first attempt's complete files."""
    base = f"{topic}-{partition}-{first}-{last}"
    replayed = [o.offset for o in outcome.outcomes if o.status == DUPLICATE]
    if not replayed:
        return base
    return f"{base}-replay-{zlib.crc32(repr(replayed).encode()):08x}"


def _write_chunk(
    stores: Stores,
    writes: SinkWrites,
    outcome: BatchOutcome,
    config,
    rng: OffsetRange,
    first: int,
    last: int,
    result: RangeResult,
) -> None:
    topic, partition = rng.topic, rng.partition
    written = sinks.written_outcomes(outcome)
    batch = batch_id(topic, partition, first, last, outcome)
    rows = result.sink_rows
    # keyed rows (in any order among themselves), then the guarded state in the order of the module doc
    if written:
        columns = sinks.EventColumns(written)
        rows["archive_events"] += writes(
            stores.archive.write_events, sinks.archive_table(columns, topic, partition), batch
        )
        points = sinks.raw_event_table(columns)
        written_points = writes(stores.timeseries.write_table, RAW_EVENTS, CITIZEN_EVENT, points, batch)
        rows["raw_events"] += written_points
        # an event older than the bucket's retention is scored and archived; only its point is not kept
        result.beyond_retention["raw_events"] += points.num_rows - written_points
        result.event_hours_ms.update(t // HOUR_MS * HOUR_MS for t in columns.event_time)
    if outcome.score_changes:
        changes = sinks.ScoreChangeColumns(outcome.score_changes, config)
        points = sinks.score_change_table(changes)
        written_points = writes(stores.timeseries.write_table, DERIVED_METRICS, SCORE_CHANGE_HISTORY, points, batch)
        rows["score_change_history"] += written_points
        result.beyond_retention["score_change_history"] += points.num_rows - written_points
        rows["citizen_score_history"] += writes(
            stores.archive.write_score_history, sinks.score_history_table(changes), batch
        )
    updates = sinks.snapshot_updates(outcome)
    if updates:
        rows["snapshots"] += writes(stores.documents.apply_snapshot_updates, updates, config)
    cooldowns = sinks.cooldown_rows(outcome)
    if cooldowns:
        rows["cooldowns"] += writes(stores.archive.save_cooldowns, cooldowns)
    if outcome.created:
        rows["graph_nodes"] += writes(stores.graph.upsert_nodes, [c.citizen_id for c in outcome.created])
    upserts, ends = sinks.relationship_writes(outcome)
    if upserts:
        rows["graph_edges"] += writes(stores.graph.upsert_relationships, upserts)
    if ends:
        rows["graph_edges"] += writes(stores.graph.end_relationships, ends)


def _count(result: RangeResult, outcome: BatchOutcome) -> None:
    counts = outcome.counts
    result.scored += counts["scored"]
    result.no_rule += counts["no_rule"]
    result.cooldown += counts["cooldown"]
    result.unknown_citizen += counts["unknown_citizen"]
    result.duplicate += counts["duplicate"]
    result.new_citizens += counts["created"]
    result.score_changes += len(outcome.score_changes)
    result.net_score_change += sum(c.change for c in outcome.score_changes)
    result.relationship_changes += len(outcome.relationship_changes)
