"""The pure reference pipeline: what the final scores must be, computed without any store."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from ddss_platform.scoring.batch import score_batch
from ddss_platform.scoring.effects import apply_effects
from ddss_platform.scoring.model import Rule, ScoringConfig
from ddss_platform.scoring.state import CitizenState, CooldownState, Edge, RoutedEffect, SourcedEvent


def reference_scores(
    events_by_partition: Mapping[str, Sequence[SourcedEvent]],
    rules: Sequence[Rule],
    config: ScoringConfig,
    citizens: Mapping[str, CitizenState],
    edges: Iterable[Edge] = (),
    batch_size: int | None = None,
) -> dict[str, float]:
    """Final score of every citizen (initial and created) after scoring each topic-partition in turn.

    ``events_by_partition`` maps "topic/partition" to its events; partitions are processed one after
    another in the mapping's order, each in offset order, in batches of ``batch_size`` (default: one
    batch), carrying citizens, cooldowns and edges from batch to batch like the stores do. The association
    effects are applied last, each once, to the targets that exist by then (effects are additive, so when
    no score reaches a bound this is what any interleaving gives)."""
    state = dict(citizens)
    cooldowns: dict[tuple[str, str], CooldownState] = {}
    relationships: dict[str, tuple[Edge, ...]] = defaultdict(tuple)
    for edge in edges:
        relationships[edge.from_id] += (edge,)
    effects: list[RoutedEffect] = []
    for topic_partition, events in events_by_partition.items():
        ordered = sorted(events, key=lambda sourced: sourced.offset)
        size = batch_size or max(len(ordered), 1)
        for start in range(0, len(ordered), size):
            outcome = score_batch(
                ordered[start : start + size], rules, config, state, cooldowns, relationships, topic_partition
            )
            state.update(outcome.citizens)
            cooldowns.update({(update.citizen_id, update.rule_id): update.state for update in outcome.cooldowns})
            relationships.update(outcome.relationships)
            effects.extend(outcome.effects)
    state.update(apply_effects(effects, state, config).citizens)
    return {citizen_id: citizen.score for citizen_id, citizen in state.items()}
