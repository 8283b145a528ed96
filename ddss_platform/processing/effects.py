"""Association effects on the target's side: parking them for citizens not registered yet, and applying the
parked ones when their citizen registers (``docs/effects.md``).

An effect reaches its target's partition on citizen-effects. When the target is not registered, the effect is
parked in the document store (idempotent by its identity). When a new_citizen event of that partition registers
the citizen, the chunk applies every parked effect whose source event is no older than the park window before
the registration (``DDSS_EFFECT_PARK_WINDOW_S``, event time), in source order, under the same per-source guard
as a delivered effect, and records the older ones as expired. Effects still parked when the partition's event
time has moved a window past them are recorded as expired by the partition's next chunk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ddss_platform.scoring import (
    CitizenState,
    EffectChange,
    EffectsOutcome,
    RoutedEffect,
    ScoringConfig,
    SourcedEvent,
    apply_effects,
)
from ddss_platform.scoring.batch import NEW_CITIZEN
from ddss_platform.stores.documents import DocumentStore, ParkedEffect


def parked(effect: RoutedEffect, target_partition: int) -> ParkedEffect:
    return ParkedEffect(
        effect.target_id,
        target_partition,
        effect.source,
        effect.source_offset,
        effect.event_id,
        effect.time_ms,
        tuple((c.rule_id, c.amount) for c in effect.changes),
    )


def routed(effect: ParkedEffect) -> RoutedEffect:
    return RoutedEffect(
        effect.target_id,
        effect.source,
        effect.source_offset,
        effect.event_id,
        effect.time_ms,
        tuple(EffectChange(rule_id, points) for rule_id, points in effect.changes),
    )


@dataclass(frozen=True)
class Registrations:
    """What a chunk's registrations do to the effects parked for them."""

    outcome: EffectsOutcome  # the parked effects applied to the citizens registered by the chunk
    settled: list[str]  # effect ids their target now holds (applied now, or by a failed attempt of the range)
    expired: list[str]  # effect ids older than the window at their target's registration


def registrations(
    documents: DocumentStore,
    events: Sequence[SourcedEvent],
    citizens: Mapping[str, CitizenState],
    config: ScoringConfig,
    window_ms: int,
) -> Registrations:
    """Apply the effects parked for the citizens that the chunk's new_citizen events registered (``citizens``:
    the run's state after scoring the chunk). A retried chunk finds the same parked effects, and their target's
    guard drops those its failed attempt applied."""
    registered = {
        event["citizenId"]: event["timestamp"]
        for _offset, event in events
        if event["eventType"] == NEW_CITIZEN and event["citizenId"] in citizens
    }
    waiting = documents.parked_effects(registered) if registered else []
    fresh = [e for e in waiting if registered[e.target_id] - e.time_ms <= window_ms]
    outcome = apply_effects([routed(e) for e in fresh], citizens, config)
    return Registrations(
        outcome,
        [e.effect_id for e in fresh],
        [e.effect_id for e in waiting if registered[e.target_id] - e.time_ms > window_ms],
    )
