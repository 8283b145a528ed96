"""Loading what a chunk's scoring reads: touched citizens, their outgoing edges, cooldown states (one query each
for what the run has not read yet)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ddss_platform.scoring import (
    Application,
    BatchOutcome,
    CitizenState,
    CooldownState,
    Edge,
    SourcedEvent,
    citizens_needed,
)
from ddss_platform.stores.archive import CooldownRow
from ddss_platform.stores.graph import GraphEdge

# an edge without a start date has been valid since before any event
_OPEN_START_MS = 0
# the archive keeps the times of a cooldown's applications, not their offsets; the scoring core only
# needs an application's offset to answer a replay of that very event, which the write order makes moot
_UNKNOWN_OFFSET = -1


@dataclass
class ChunkState:
    citizens: dict[str, CitizenState]
    cooldowns: dict[tuple[str, str], CooldownState]
    relationships: dict[str, list[Edge]]


def scoring_edge(edge: GraphEdge) -> Edge:
    start = _OPEN_START_MS if edge.start_ms is None else edge.start_ms
    return Edge(edge.source, edge.target, str(edge.type), float(edge.strength), start, edge.end_ms)


def citizen_state(doc: Mapping) -> CitizenState:
    snapshot = doc["scoreSnapshot"]
    return CitizenState(
        citizen_id=doc["nationalID"],
        score=float(snapshot["currentScore"]),
        tier=snapshot["tier"],
        flags=dict(doc.get("flags") or {}),
        applied_offsets=dict(doc.get("appliedOffsets") or {}),
        last_calculated=snapshot.get("lastCalculated"),
    )


def scoring_cooldown(state: CooldownRow) -> CooldownState:
    return CooldownState(tuple(Application(t, _UNKNOWN_OFFSET) for t in state.applied_times), dict(state.guard_offsets))


class RunState:
    """What a run's chunks read, loaded once per run and kept up to date with each chunk's outcome.

    A chunk reads from the stores only what no earlier chunk of the run has read or changed (absent citizens are
    remembered as looked up), so chunks after the first cost almost no reads. Each chunk gets everything the run
    holds, a superset of what its scoring reads, without building per-chunk copies. The run's partition owns its
    citizens (their snapshots, cooldowns, outgoing edges), and one run at a time works on a partition (of either
    scored topic), so what the run holds stays what the stores hold."""

    def __init__(self, documents, graph, archive):
        self.documents, self.graph, self.archive = documents, graph, archive
        self.citizens: dict[str, CitizenState] = {}
        self.looked_up: set[str] = set()  # citizens read, whether they existed or not
        self.cooldowns: dict[tuple[str, str], CooldownState] = {}
        self.cooldowns_read: set[str] = set()  # citizens whose cooldown states (of every rule) were read
        self.relationships: dict[str, list[Edge]] = {}

    def for_chunk(self, events: Sequence[SourcedEvent]) -> ChunkState:
        event_citizens = {event["citizenId"] for _offset, event in events}
        unread = event_citizens - self.relationships.keys()
        if unread:
            stored = self.graph.outgoing(unread)
            for citizen in unread:
                self.relationships[citizen] = [scoring_edge(e) for e in stored.get(citizen, ())]
        self.read_citizens(citizens_needed(events))
        unread = event_citizens - self.cooldowns_read
        if unread:
            stored = self.archive.load_cooldowns(unread)
            self.cooldowns.update((key, scoring_cooldown(state)) for key, state in stored.items())
            self.cooldowns_read |= unread
        return ChunkState(self.citizens, self.cooldowns, self.relationships)

    def read_citizens(self, ids: set[str]) -> dict[str, CitizenState]:
        """Every citizen the run holds, after reading those of ``ids`` it has not looked up yet."""
        unread = ids - self.looked_up
        if unread:
            docs = self.documents.get_citizens(unread)
            self.citizens.update((citizen, citizen_state(doc)) for citizen, doc in docs.items())
            self.looked_up |= unread
        return self.citizens

    def absorb(self, outcome: BatchOutcome) -> None:
        """Take in a scored chunk's final states (what the sinks are about to write)."""
        self.citizens.update(outcome.citizens)
        self.cooldowns.update(((u.citizen_id, u.rule_id), u.state) for u in outcome.cooldowns)
        self.relationships.update((c, list(edges)) for c, edges in outcome.relationships.items())
