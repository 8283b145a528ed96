"""Association effects as messages: made by the source citizen's partition, applied by the target's (pure).

Scoring an event whose applied rule has an association effect makes one ``RoutedEffect`` per target citizen:
every amount that event gives that target (one per rule and relationship type, in rule order). The source
partition does not touch the target; the processor sends the effect to the target's partition (the effects
topic, keyed by the target), whose owner applies it with ``apply_effects``.

An effect's identity is its source: (source topic-partition, source offset). A target's snapshot guards the
effects of each source partition with its own ``appliedOffsets`` key (``guard_key``): the highest source
offset applied. Effects of one source partition reach one target in source-offset order (one producer per
source partition, one consumer per target partition, both in order), so an effect at or below the guard is
a replay (a retried source range produced it again) and changes nothing.

Effects are additive: each moves the score by its amount in whole hundredths (then clamped), and a tier is a
function of the score. With no score reaching a bound, a citizen's final score is therefore the same
whatever order its own events and its effects are applied in (``docs/effects.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ddss_platform.scoring.batch import ASSOCIATION_EFFECT, ScoreChange, ScoredSnapshot
from ddss_platform.scoring.model import ScoringConfig, round_score
from ddss_platform.scoring.state import CitizenState, RoutedEffect

_GUARD_PREFIX = "effects-from/"


@dataclass(frozen=True)
class EffectsOutcome:
    score_changes: tuple[ScoreChange, ...]
    # one per (target, source partition) that changed: topic_partition is the guard key, applied_offset the
    # highest source offset applied
    snapshots: tuple[ScoredSnapshot, ...]
    applied: tuple[RoutedEffect, ...]
    unknown_target: tuple[RoutedEffect, ...]  # targets not in ``citizens``: for the caller to park
    replayed: tuple[RoutedEffect, ...]  # already held by the target's guard
    citizens: Mapping[str, CitizenState]  # final state of every changed target


def guard_key(source: str) -> str:
    """The appliedOffsets key guarding a target against replays of ``source``'s effects."""
    return _GUARD_PREFIX + source


def apply_effects(
    effects: Iterable[RoutedEffect], citizens: Mapping[str, CitizenState], config: ScoringConfig
) -> EffectsOutcome:
    """Apply ``effects`` in the order given to the targets in ``citizens`` (each target's current state)."""
    states: dict[str, CitizenState] = {}
    deltas: dict[tuple[str, str], float] = {}  # (target, guard key) -> net change
    changes: list[ScoreChange] = []
    applied, unknown, replayed = [], [], []
    for effect in effects:
        state = states.get(effect.target_id) or citizens.get(effect.target_id)
        if state is None:
            unknown.append(effect)
            continue
        key = guard_key(effect.source)
        if state.applied_offsets.get(key, -1) >= effect.source_offset:
            replayed.append(effect)
            continue
        score = before = state.score
        for change in effect.changes:
            old, score = score, config.clamp(score + round_score(change.amount))
            changes.append(
                ScoreChange(
                    effect.target_id,
                    old,
                    score,
                    round_score(score - old),
                    ASSOCIATION_EFFECT,
                    change.rule_id,
                    effect.event_id,
                    effect.time_ms,
                    effect.source_offset,
                )
            )
        last = state.last_calculated
        states[effect.target_id] = CitizenState(
            state.citizen_id,
            score,
            config.tier_for(score),
            state.flags,
            {**state.applied_offsets, key: effect.source_offset},
            effect.time_ms if last is None or last < effect.time_ms else last,
        )
        deltas[effect.target_id, key] = deltas.get((effect.target_id, key), 0.0) + (score - before)
        applied.append(effect)
    snapshots = tuple(
        ScoredSnapshot(
            target,
            states[target].score,
            states[target].tier,
            states[target].last_calculated or 0,
            key,
            states[target].applied_offsets[key],
            round_score(delta),
        )
        for (target, key), delta in deltas.items()
    )
    return EffectsOutcome(tuple(changes), snapshots, tuple(applied), tuple(unknown), tuple(replayed), states)
