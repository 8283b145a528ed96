"""What the scoring reads and writes besides events and rules: citizens, cooldowns, relationship edges.

Each carries its own replay guard: the last applied offset per topic-partition (``"citizen-events/0"``).
An effect of the event at offset ``o`` is applied to a state only when its guard for that topic-partition is
below ``o``; afterwards the guard is ``o``. A replayed range therefore changes nothing already applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class SourcedEvent(NamedTuple):
    """A decoded event and its offset in the topic-partition being scored."""

    offset: int
    event: Mapping[str, Any]


class EffectChange(NamedTuple):
    rule_id: str
    amount: float  # impact x factor x strength, before rounding


class RoutedEffect(NamedTuple):
    """What one source event does to one related citizen (``scoring.effects``)."""

    target_id: str
    source: str  # the source topic-partition, as an appliedOffsets key ("citizen-events/0")
    source_offset: int
    event_id: str
    time_ms: int  # the source event's time
    changes: tuple[EffectChange, ...]  # one per rule and relationship type, in rule order


def applied_before(guard: Mapping[str, int], topic_partition: str, offset: int) -> bool:
    """True when the state already holds the effects of ``offset`` (its guard is not older)."""
    return guard.get(topic_partition, -1) >= offset


def advance(guard: Mapping[str, int], topic_partition: str, offset: int) -> dict[str, int]:
    return {**guard, topic_partition: max(offset, guard.get(topic_partition, -1))}


@dataclass(frozen=True, slots=True)
class CitizenState:
    """The scoring view of a citizen document (flags feed multipliers, the snapshot is what changes)."""

    citizen_id: str
    score: float
    tier: str
    flags: Mapping[str, bool] = field(default_factory=dict)
    applied_offsets: Mapping[str, int] = field(default_factory=dict)
    last_calculated: int | None = None


class Application(NamedTuple):
    """One application of a cooldown rule to a citizen: event time and offset."""

    time_ms: int
    offset: int


@dataclass(frozen=True, slots=True)
class CooldownState:
    """Recent applications of one rule to one citizen (its most recent ``maxApplicationsInPeriod``, by offset).

    All events of a citizen come from one partition (key = citizenId) in non-decreasing event time, so the
    last ``max`` applications decide whether the window is full.
    """

    applications: tuple[Application, ...] = ()
    applied_offsets: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Edge:
    """A directed, typed relationship; valid for start_ms <= t < end_ms (no end: open)."""

    from_id: str
    to_id: str
    relationship_type: str
    strength: float
    start_ms: int
    end_ms: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.from_id, self.to_id, self.relationship_type

    def valid_at(self, time_ms: int) -> bool:
        return self.start_ms <= time_ms and (self.end_ms is None or time_ms < self.end_ms)
