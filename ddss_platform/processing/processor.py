"""Process one offset range of one partition: read in chunks, decode, score or apply, write every sink, commit.

A partition's runs are the only writers of its citizens (snapshots, cooldowns, outgoing edges, history), and
one run at a time works on a partition, of either scored topic:

* citizen-events. Per chunk: read and decode, load the touched citizens, their edges and cooldowns that no
  earlier chunk of the run read (one query each), score in offset order, apply the effects parked for the
  citizens the chunk registered (``effects``) and write: dead letters → the association effects the chunk's
  events owe other citizens, to citizen-effects keyed by the target → archive events, raw events,
  score-change points and the score history (keyed rows) → created citizens and snapshots (guarded by
  appliedOffsets) → parked effects settled → parked effects past the window expired → cooldown states
  (guarded) → graph nodes and relationship changes (upserts).
* citizen-effects (this partition's citizens are the targets). Per chunk: read and decode, apply each effect
  to its registered target under the target's per-source guard (``scoring.effects``), and write: dead
  letters → score-change points and history → effects for unregistered targets parked → snapshots.

After the last chunk the group offset of the range's topic is committed to the range's end; a run that fails
anywhere before commits nothing. Given the partition's fence (``owner``, ``processing.lease``), every write and
the commit first check that it still holds: a holder that lost the partition writes nothing more.

A retried range (after a failed attempt, or a crash between any two of these writes) converges to exactly what
one clean pass writes: the scoring core reports an event whose effects the citizen's snapshot already holds as
``duplicate`` and the processor writes no rows for it (the failed attempt wrote them before the snapshot), keyed
rows written twice keep one copy, guarded state is not applied twice, a routed effect produced twice is dropped
by its target's guard, parking is idempotent, and dead letters already on the DLQ are not produced again.
"""

from __future__ import annotations

import gc
import os
import time
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

import psutil

from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS_DLQ, SCORING_GROUP
from ddss_platform.processing import sinks
from ddss_platform.processing.dead_letters import DeadLetter, already_dead_lettered, produce_dead_letters
from ddss_platform.processing.decoding import decode_chunk
from ddss_platform.processing.effect_records import decode_effects, effect_records
from ddss_platform.processing.effects import Registrations, parked, registrations
from ddss_platform.processing.lease import PartitionHold
from ddss_platform.processing.ranges import OffsetRange
from ddss_platform.processing.result import RangeResult
from ddss_platform.processing.state import RunState
from ddss_platform.scoring import (
    BatchOutcome,
    RoutedEffect,
    ScoreChange,
    SourcedEvent,
    apply_effects,
    load_configuration,
    load_rules,
    score_batch,
)
from ddss_platform.scoring.batch import DUPLICATE
from ddss_platform.stores import Stores
from ddss_platform.stores.bus import BusRecord
from ddss_platform.stores.documents import APPLIED, EXPIRED, offset_key
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
    owner: PartitionHold | None = None,
) -> RangeResult:
    """Score ``requested`` and commit its end (through ``owner`` when given: its fence checked before each write);
    returns what was done.

    If the group already committed part of the range (a duplicate run), only the rest is processed;
    if it committed all of it, nothing is. A range starting after the committed offset is refused."""
    started = time.perf_counter()
    writes = writes or SinkWrites.from_env()
    bus, topic, partition = stores.bus, requested.topic, requested.partition
    commit = partial(bus.commit, SCORING_GROUP)
    if owner is not None:
        writes, commit = owner.guard(writes), owner.commit
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
    partitions = len(bus.partitions(topic))
    bus.ensure_topic(CITIZEN_EVENTS_DLQ, partitions)
    bus.ensure_topic(CITIZEN_EFFECTS, partitions)
    window_ms = int(stores.settings.effect_park_window_s * 1000)
    process = psutil.Process()
    tp = offset_key(topic, partition)
    with collector_paused():
        state = RunState(stores.documents, stores.graph, stores.archive)
        for records in bus.iter_range(topic, partition, rng.start, rng.end, chunk_size):
            first, last = records[0].offset, records[-1].offset + 1
            if topic == CITIZEN_EFFECTS:
                effects = decode_effects(records)
                _dead_letter(bus, writes, records, effects.dead_letters, result)
                _apply_effects_chunk(stores, writes, effects.effects, state, config, rng, first, last, result)
            else:
                decoded = decode_chunk(stores.codec, records)
                _dead_letter(bus, writes, records, decoded.dead_letters, result)
                _score_chunk(
                    stores, writes, decoded.events, state, (config, rules), tp, window_ms, rng, (first, last), result
                )
            result.records += len(records)
            del records
            result.max_rss_mb = max(result.max_rss_mb, process.memory_info().rss / 2**20)
            if log:
                log(
                    f"{rng}: {result.records} records done so far, {result.dead_lettered} dead-lettered, "
                    f"{result.score_changes} score changes"
                )
        writes(commit, topic, {partition: rng.end})
    result.elapsed_s = time.perf_counter() - started
    return result


def _dead_letter(bus, writes: SinkWrites, records: list[BusRecord], letters: list[DeadLetter], result) -> None:
    if letters:
        done = already_dead_lettered(bus, records[0].topic, records[0].partition, records[0].offset)
        fresh = [d for d in letters if d.source_offset not in done]
        if fresh:
            writes(produce_dead_letters, bus, fresh)
    result.dead_lettered += len(letters)
    result.dead_letter_reasons.update(d.reason for d in letters)


def _score_chunk(
    stores: Stores,
    writes: SinkWrites,
    events: list[SourcedEvent],
    state: RunState,
    scoring,
    tp: str,
    window_ms: int,
    rng: OffsetRange,
    span: tuple[int, int],
    result: RangeResult,
) -> None:
    config, rules = scoring
    loaded = state.for_chunk(events)
    outcome = score_batch(events, rules, config, loaded.citizens, loaded.cooldowns, loaded.relationships, tp)
    state.absorb(outcome)
    registered = registrations(stores.documents, events, state.citizens, config, window_ms)
    state.citizens.update(registered.outcome.citizens)
    _write_chunk(stores, writes, outcome, registered, config, rng, span, result)
    # effects still parked a whole window of this partition's event time ago will not be applied
    if events:
        newest = max(event["timestamp"] for _offset, event in events)
        result.effects_expired += writes(stores.documents.expire_parked_effects, rng.partition, newest - window_ms)
    _count(result, outcome, registered)


def _apply_effects_chunk(
    stores: Stores,
    writes: SinkWrites,
    effects: list[RoutedEffect],
    state: RunState,
    config,
    rng: OffsetRange,
    first: int,
    last: int,
    result: RangeResult,
) -> None:
    citizens = state.read_citizens({effect.target_id for effect in effects})
    outcome = apply_effects(effects, citizens, config)
    state.citizens.update(outcome.citizens)
    batch = batch_id(rng.topic, rng.partition, first, last, [e.source_offset for e in outcome.replayed])
    _write_score_changes(stores, writes, outcome.score_changes, config, batch, result)
    if outcome.unknown_target:
        new = writes(stores.documents.park_effects, [parked(e, rng.partition) for e in outcome.unknown_target])
        result.effects_parked += new
        result.effects_replayed += len(outcome.unknown_target) - new  # parked already by a failed attempt
    updates = sinks.snapshot_updates(outcome.snapshots)
    if updates:
        result.sink_rows["snapshots"] += writes(stores.documents.apply_snapshot_updates, updates, config)
    result.effects_delivered += len(outcome.applied)
    result.effects_replayed += len(outcome.replayed)
    result.score_changes += len(outcome.score_changes)
    result.net_score_change += sum(c.change for c in outcome.score_changes)


def batch_id(topic: str, partition: int, first: int, last: int, replayed: list[int]) -> str:
    """Deterministic per chunk. A replay (some outcomes already applied: ``replayed``, their offsets) writes a
    subset of the rows, so it gets its own name instead of replacing the first attempt's complete files."""
    base = f"{topic}-{partition}-{first}-{last}"
    if not replayed:
        return base
    return f"{base}-replay-{zlib.crc32(repr(replayed).encode()):08x}"


def _write_score_changes(
    stores: Stores, writes: SinkWrites, changes: tuple[ScoreChange, ...], config, batch: str, result: RangeResult
) -> None:
    if not changes:
        return
    rows = result.sink_rows
    columns = sinks.ScoreChangeColumns(changes, config)
    points = sinks.score_change_table(columns)
    written_points = writes(stores.timeseries.write_table, DERIVED_METRICS, SCORE_CHANGE_HISTORY, points, batch)
    rows["score_change_history"] += written_points
    result.beyond_retention["score_change_history"] += points.num_rows - written_points
    rows["citizen_score_history"] += writes(
        stores.archive.write_score_history, sinks.score_history_table(columns), batch
    )


def _write_chunk(
    stores: Stores,
    writes: SinkWrites,
    outcome: BatchOutcome,
    registered: Registrations,
    config,
    rng: OffsetRange,
    span: tuple[int, int],
    result: RangeResult,
) -> None:
    topic, partition = rng.topic, rng.partition
    written = sinks.written_outcomes(outcome)
    batch = batch_id(topic, partition, *span, [o.offset for o in outcome.outcomes if o.status == DUPLICATE])
    rows = result.sink_rows
    # routed effects first: a crash after them is covered by their targets' guards; then keyed rows (in any
    # order among themselves), then the guarded state in the order of the module doc
    if outcome.effects:
        result.effects_produced += writes(stores.bus.produce, CITIZEN_EFFECTS, effect_records(outcome.effects))
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
    late = registered.outcome
    _write_score_changes(stores, writes, outcome.score_changes + late.score_changes, config, batch, result)
    updates = sinks.snapshot_updates(outcome.snapshots, outcome.created) + sinks.snapshot_updates(late.snapshots)
    if updates:
        rows["snapshots"] += writes(stores.documents.apply_snapshot_updates, updates, config)
    if registered.settled:
        writes(stores.documents.settle_parked_effects, registered.settled, APPLIED)
    if registered.expired:
        result.effects_expired += writes(stores.documents.settle_parked_effects, registered.expired, EXPIRED)
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


def _count(result: RangeResult, outcome: BatchOutcome, registered: Registrations) -> None:
    counts = outcome.counts
    late = registered.outcome
    result.scored += counts["scored"]
    result.no_rule += counts["no_rule"]
    result.cooldown += counts["cooldown"]
    result.unknown_citizen += counts["unknown_citizen"]
    result.duplicate += counts["duplicate"]
    result.new_citizens += counts["created"]
    result.score_changes += len(outcome.score_changes) + len(late.score_changes)
    result.net_score_change += sum(c.change for c in (*outcome.score_changes, *late.score_changes))
    result.relationship_changes += len(outcome.relationship_changes)
    result.effects_applied_late += len(late.applied)
    result.effects_replayed += len(late.replayed)
