"""In-memory stand-ins for the sinks, with the same guards the real stores apply; for replay tests."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from ddss_platform.scoring import BatchOutcome, CitizenState, apply_effects


class MemoryStores:
    def __init__(self, citizens: dict[str, CitizenState], edges=()):
        self.citizens = dict(citizens)
        self.cooldowns = {}
        self.edges = {edge.key: edge for edge in edges}
        self.history = {}  # keyed rows, like the time-series store
        self.raw_events = {}
        self.effects_topic = []  # routed effects produced, in order (duplicates included, like the bus)
        self.delivered = 0  # effects of effects_topic consumed

    def inputs(self):
        """What a run loads: citizens, cooldown states and outgoing edges."""
        relationships = defaultdict(list)
        for edge in self.edges.values():
            relationships[edge.from_id].append(edge)
        return dict(self.citizens), dict(self.cooldowns), dict(relationships)

    def sink_writes(self, outcome: BatchOutcome) -> list:
        """The writes of one run, in the order the scoring job performs them; snapshots in two halves
        (a bulk update that is not atomic can stop half-way)."""
        half = len(outcome.snapshots) // 2
        return [
            lambda: self.effects_topic.extend(outcome.effects),
            lambda: self._rows(outcome),
            lambda: self._created(outcome),
            lambda: self._snapshots(outcome.snapshots[:half]),
            lambda: self._snapshots(outcome.snapshots[half:]),
            lambda: self._cooldowns(outcome),
            lambda: self._graph(outcome),
        ]

    def write_all(self, outcome: BatchOutcome) -> None:
        for write in self.sink_writes(outcome):
            write()

    def deliver(self, config) -> list:
        """Consume the effects produced so far, as the targets' partitions do; returns those whose target is
        unknown (they stay on the topic, to be delivered again: a stand-in for parking)."""
        pending = self.effects_topic[self.delivered :]
        outcome = apply_effects(pending, self.citizens, config)
        for change in outcome.score_changes:
            self.history[(change.citizen_id, change.offset, change.triggering_rule_id, change.reason_category)] = change
        self.citizens.update(outcome.citizens)
        self.effects_topic[self.delivered :] = outcome.unknown_target
        self.delivered = len(self.effects_topic) - len(outcome.unknown_target)
        return list(outcome.unknown_target)

    def content(self):
        return self.citizens, self.cooldowns, self.edges, self.history, self.raw_events

    def _rows(self, outcome):
        for row in outcome.outcomes:
            if row.status != "duplicate":
                self.raw_events[row.event["eventId"]] = (row.status, row.score_impact, row.applied_rule_ids)
        for change in outcome.score_changes:
            self.history[(change.citizen_id, change.offset, change.triggering_rule_id, change.reason_category)] = change

    def _created(self, outcome):
        for created in outcome.created:
            self.citizens.setdefault(
                created.citizen_id,
                CitizenState(
                    created.citizen_id,
                    created.score,
                    created.tier,
                    dict(created.flags),
                    {created.topic_partition: created.offset},
                    created.created_ms,
                ),
            )

    def _snapshots(self, snapshots):
        for update in snapshots:
            stored = self.citizens[update.citizen_id]
            if stored.applied_offsets.get(update.topic_partition, -1) < update.applied_offset:
                self.citizens[update.citizen_id] = replace(
                    stored,
                    score=update.score,
                    tier=update.tier,
                    last_calculated=update.last_calculated,
                    applied_offsets={**stored.applied_offsets, update.topic_partition: update.applied_offset},
                )

    def _cooldowns(self, outcome):
        tp = outcome.topic_partition
        for update in outcome.cooldowns:
            key = (update.citizen_id, update.rule_id)
            stored = self.cooldowns.get(key)
            if stored is None or stored.applied_offsets.get(tp, -1) < update.state.applied_offsets[tp]:
                self.cooldowns[key] = update.state

    def _graph(self, outcome):
        for change in outcome.relationship_changes:
            self.edges[change.edge.key] = change.edge
