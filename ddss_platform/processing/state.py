"""Loading what a chunk's scoring reads: touched citizens, their outgoing edges, cooldown states (one query each)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ddss_platform.scoring import (
    Application,
    CitizenState,
    CooldownState,
    Edge,
    Rule,
    ScoringConfig,
    SourcedEvent,
    citizens_needed,
    cooldown_keys_needed,
)
from ddss_platform.stores import archive as archive_port
from ddss_platform.stores.graph import Edge as GraphEdge

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


def scoring_cooldown(state: archive_port.CooldownState) -> CooldownState:
    return CooldownState(
        tuple(Application(t, _UNKNOWN_OFFSET) for t in state.applied_times), dict(state.guard_offsets)
    )


def load_chunk_state(documents, graph, archive, events: Sequence[SourcedEvent],
                     rules: Sequence[Rule], config: ScoringConfig) -> ChunkState:
    event_citizens = {event["citizenId"] for _offset, event in events}
    relationships = {
        citizen: [scoring_edge(e) for e in edges]
        for citizen, edges in graph.outgoing(event_citizens).items() if edges
    }
    docs = documents.get_citizens(citizens_needed(events, relationships))
    keys = cooldown_keys_needed(events, rules, config)
    stored = archive.load_cooldowns({citizen for citizen, _rule in keys}) if keys else {}
    return ChunkState(
        citizens={citizen: citizen_state(doc) for citizen, doc in docs.items()},
        cooldowns={key: scoring_cooldown(state) for key, state in stored.items() if key in keys},
        relationships=relationships,
    )
