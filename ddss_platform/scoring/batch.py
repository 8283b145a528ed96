"""Scoring one offset range of one topic-partition: a pure function from (events, state) to effects.

Per event, in offset order:

1. Unknown citizen: a ``new_citizen`` event creates it at the baseline score (profile and flags from its
   ``newCitizen`` block); any other event is ``unknown_citizen`` with zero impact.
2. A ``relationship`` event upserts (START: strength, start = event time, no end) or ends (END: end = event
   time) the edge event citizen -> related citizen of its type, before rules run; later events in the batch
   see the change. Edges are valid for start <= t < end.
3. Rules: ACTIVE rules of the configured rule set, of the event's type, in ruleID order, whose subtypes,
   validity and conditions match. A rule with a cooldown applies only if its window has room (``cooldown``).
   Impact = points x every multiplier whose citizen flag is true x event confidence. Each applied rule moves
   the score by its impact rounded to 2 decimals, clamped to [minScore, maxScore]; one ScoreChange each.
   Status: ``scored`` (a rule applied), ``cooldown`` (rules matched, all in cooldown), ``no_rule``. The
   citizen's guard advances to the event's offset in each of these cases.
4. Association effect: for each applied rule that has one, each citizen reached by an outgoing edge of the
   event citizen, of a listed type, valid at the event time, is owed impact x factor x strength (reason
   ASSOCIATION_EFFECT). The batch does not apply it: it emits one ``RoutedEffect`` per target, which the
   target's partition applies (``scoring.effects``), so a citizen's state has one writer.

Replay guard: every effect lands on a state with its own guard (citizen snapshot, cooldown state). An event
whose offset the event citizen's guard already holds is ``duplicate``: no score change for that citizen, but
effects on other states whose guards are older are still produced (cooldown), routed effects are emitted
again (their targets' guards drop the replay) and relationship changes are always re-emitted (idempotent
upserts), so a retried range converges whatever sink writes the failed attempt completed. This holds when
the caller writes the sinks in this order: routed effects -> keyed rows (archive and raw events of
non-duplicate outcomes, score changes) -> created citizens and snapshots -> cooldown states -> relationship
changes -> commit the offset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, cast

from ddss_platform.scoring.cooldown import decide as decide_cooldown
from ddss_platform.scoring.model import Cooldown, Rule, ScoringConfig, round_score
from ddss_platform.scoring.state import CitizenState, CooldownState, Edge, EffectChange, RoutedEffect, SourcedEvent

NEW_CITIZEN = "new_citizen"
RELATIONSHIP = "relationship"
ASSOCIATION_EFFECT = "ASSOCIATION_EFFECT"

SCORED = "scored"
COOLDOWN = "cooldown"  # rules matched, every one of them was in its cooldown window
NO_RULE = "no_rule"
UNKNOWN_CITIZEN = "unknown_citizen"
DUPLICATE = "duplicate"  # the citizen's snapshot already holds this offset
STATUSES = (SCORED, COOLDOWN, NO_RULE, UNKNOWN_CITIZEN, DUPLICATE)
# created citizens; routed effects emitted (one per source event and target)
EXTRA_COUNTS = ("created", "effects")

_NO_APPLICATIONS = CooldownState()
_PROFILE_FIELDS = ("firstName", "lastName", "dateOfBirth", "gender", "region", "city", "occupation")


# The records made per event or per changed citizen are NamedTuples: as immutable as a frozen dataclass, and
# built in a third of the time (a frozen dataclass's __init__ calls object.__setattr__ for each field)
class EventOutcome(NamedTuple):
    offset: int
    event: Mapping[str, Any]
    status: str  # one of STATUSES
    score_impact: float  # sum of the applied rules' impacts on the event citizen, before clamping
    applied_rule_ids: tuple[str, ...]


class ScoreChange(NamedTuple):
    citizen_id: str
    old_score: float
    new_score: float
    change: float
    reason_category: str  # the rule's category, or ASSOCIATION_EFFECT
    triggering_rule_id: str
    related_event_id: str
    time_ms: int  # event time
    offset: int


class ScoredSnapshot(NamedTuple):
    """A citizen's snapshot after the batch; apply only if the stored guard for topic_partition is older."""

    citizen_id: str
    score: float
    tier: str
    last_calculated: int
    topic_partition: str
    applied_offset: int
    score_delta: float  # net change made by this batch, for stores that apply deltas under the guard


@dataclass(frozen=True, slots=True)
class CreatedCitizen:
    """A citizen created by a new_citizen event, as it stands after that event (its guard = that offset)."""

    citizen_id: str
    profile: Mapping[str, Any]
    flags: Mapping[str, bool]
    score: float
    tier: str
    created_ms: int
    topic_partition: str
    offset: int


@dataclass(frozen=True, slots=True)
class CooldownUpdate:
    citizen_id: str
    rule_id: str
    state: CooldownState


@dataclass(frozen=True, slots=True)
class RelationshipChange:
    action: str  # START | END
    edge: Edge  # the edge after the change
    offset: int


@dataclass(frozen=True)
class BatchOutcome:
    topic_partition: str
    outcomes: tuple[EventOutcome, ...]
    score_changes: tuple[ScoreChange, ...]
    snapshots: tuple[ScoredSnapshot, ...]  # one per citizen whose state changed
    created: tuple[CreatedCitizen, ...]
    cooldowns: tuple[CooldownUpdate, ...]  # final state per changed (citizen, rule)
    relationship_changes: tuple[RelationshipChange, ...]
    effects: tuple[RoutedEffect, ...]  # association effects owed to related citizens, in offset order
    counts: Mapping[str, int]  # every status and EXTRA_COUNTS
    citizens: Mapping[str, CitizenState] = field(repr=False)  # final state of every changed citizen
    relationships: Mapping[str, tuple[Edge, ...]] = field(repr=False)  # final outgoing edges where changed


def active_rules_by_type(rules: Iterable[Rule], config: ScoringConfig) -> dict[str, tuple[Rule, ...]]:
    """ACTIVE rules of the configured rule set, grouped by eventType, in ruleID order."""
    grouped: dict[str, list[Rule]] = defaultdict(list)
    for rule in sorted(rules, key=lambda rule: rule.rule_id):
        if rule.status == "ACTIVE" and rule.rule_set == config.active_rule_set:
            grouped[rule.event_type].append(rule)
    return {event_type: tuple(group) for event_type, group in grouped.items()}


def citizens_needed(events: Iterable[SourcedEvent]) -> set[str]:
    """Every citizen a batch reads or changes: the event citizens (related citizens are reached by effects)."""
    return {event["citizenId"] for _offset, event in events}


def score_batch(
    events: Sequence[SourcedEvent],
    rules: Iterable[Rule],
    config: ScoringConfig,
    citizens: Mapping[str, CitizenState],
    cooldowns: Mapping[tuple[str, str], CooldownState],
    relationships: Mapping[str, Sequence[Edge]],
    topic_partition: str,
) -> BatchOutcome:
    """Score ``events`` (sorted here by offset) of ``topic_partition``; see the module doc for the semantics.

    ``citizens`` must hold every existing citizen of ``citizens_needed``; ``cooldowns`` the existing states of the
    event citizens; ``relationships`` the outgoing edges of the event citizens (each may hold more)."""
    scorer = _BatchScorer(rules, config, citizens, cooldowns, relationships, topic_partition)
    for sourced in sorted(events, key=lambda sourced: sourced.offset):
        scorer.score(sourced.offset, sourced.event)
    return scorer.outcome()


@dataclass(slots=True)
class _Citizen:
    """The batch's working copy of a citizen (mutable, so scoring an event allocates little)."""

    score: float
    tier: str
    flags: Mapping[str, bool]
    applied_offsets: dict[str, int]
    last_calculated: int | None
    score_before: float  # for the snapshot's delta

    @classmethod
    def of(cls, state: CitizenState) -> _Citizen:
        return cls(
            state.score, state.tier, state.flags, dict(state.applied_offsets), state.last_calculated, state.score
        )

    def frozen(self, citizen_id: str) -> CitizenState:
        return CitizenState(
            citizen_id, self.score, self.tier, self.flags, dict(self.applied_offsets), self.last_calculated
        )


class _BatchScorer:
    def __init__(self, rules, config, citizens, cooldowns, relationships, topic_partition):
        self.rules = active_rules_by_type(rules, config)
        self.config = config
        self.tp = topic_partition
        self.loaded_citizens: Mapping[str, CitizenState] = citizens
        self.citizens: dict[str, _Citizen] = {}  # every citizen read so far
        self.cooldowns: dict[tuple[str, str], CooldownState] = dict(cooldowns)
        self.loaded_edges = relationships
        self.edges: dict[str, dict[tuple[str, str, str], Edge]] = {}  # every citizen whose edges were read
        self.ordered_edges: dict[str, tuple[Edge, ...]] = {}  # _edges_of, until the citizen's edges change
        self.outcomes: list[EventOutcome] = []
        self.changes: list[ScoreChange] = []
        self.created: list[CreatedCitizen] = []
        self.relationship_changes: list[RelationshipChange] = []
        self.effects: list[RoutedEffect] = []
        self.changed_citizens: dict[str, None] = {}  # insertion-ordered set
        self.changed_cooldowns: set[tuple[str, str]] = set()
        self.changed_edges: set[str] = set()
        self.counts: dict[str, int] = dict.fromkeys((*STATUSES, *EXTRA_COUNTS), 0)

    def _citizen(self, citizen_id: str) -> _Citizen | None:
        citizen = self.citizens.get(citizen_id)
        if citizen is None:
            loaded = self.loaded_citizens.get(citizen_id)
            if loaded is None:
                return None
            citizen = self.citizens[citizen_id] = _Citizen.of(loaded)
        return citizen

    # -- per event -----------------------------------------------------------------------------

    def score(self, offset: int, event: Mapping[str, Any]) -> None:
        citizen_id = event["citizenId"]
        citizen = self._citizen(citizen_id)
        created = False
        if citizen is None and event["eventType"] == NEW_CITIZEN and event.get("newCitizen"):
            citizen = self._create(citizen_id, event)
            created = True
        if citizen is None:
            self._record(offset, event, UNKNOWN_CITIZEN, 0.0, ())
            return
        duplicate = citizen.applied_offsets.get(self.tp, -1) >= offset
        if event["eventType"] == RELATIONSHIP and event.get("relationship"):
            self._change_relationship(citizen_id, event, offset)
        matched, applied = self._apply_rules(citizen_id, citizen, event, offset)
        if duplicate:
            self._record(offset, event, DUPLICATE, 0.0, ())
        else:
            total, rule_ids = 0.0, []
            for rule, impact in applied:
                self._move(citizen_id, citizen, impact, rule.category, rule.rule_id, event, offset)
                total += impact
                rule_ids.append(rule.rule_id)
            self._mark_applied(citizen_id, citizen, offset, event["timestamp"])
            status = SCORED if applied else COOLDOWN if matched else NO_RULE
            self._record(offset, event, status, round_score(total), tuple(rule_ids))
        if created:
            self._note_created(citizen_id, citizen, event, offset)
        self._associate(citizen_id, applied, event, offset)

    def _apply_rules(self, citizen_id, citizen, event, offset) -> tuple[bool, list[tuple[Rule, float]]]:
        """(whether any rule matched, [(rule, impact)] of those that apply after cooldowns)."""
        matched = False
        applied: list[tuple[Rule, float]] = []
        for rule in self.rules.get(event["eventType"], ()):
            if not rule.applies_to(event):
                continue
            matched = True
            if rule.cooldown and not self._cooldown_allows(citizen_id, rule.rule_id, rule.cooldown, event, offset):
                continue
            applied.append((rule, rule.points * rule.multiplier_for(citizen.flags) * event["confidence"]))
        return matched, applied

    def _cooldown_allows(self, citizen_id: str, rule_id: str, cooldown: Cooldown, event, offset: int) -> bool:
        key = (citizen_id, rule_id)
        allowed, new_state = decide_cooldown(
            self.cooldowns.get(key, _NO_APPLICATIONS), cooldown, event["timestamp"], offset, self.tp
        )
        if new_state is not None:
            self.cooldowns[key] = new_state
            self.changed_cooldowns.add(key)
        return allowed

    def _associate(self, citizen_id: str, applied, event, offset: int) -> None:
        """The routed effects of this event: one per target, its amounts in rule then edge order."""
        effects: dict[str, list[EffectChange]] = defaultdict(list)
        time_ms = event["timestamp"]
        for rule, impact in applied:
            effect = rule.association_effect
            if effect is None:
                continue
            for edge in self._edges_of(citizen_id):
                if edge.relationship_type in effect.relationship_types and edge.valid_at(time_ms):
                    effects[edge.to_id].append(EffectChange(rule.rule_id, impact * effect.factor * edge.strength))
        for target_id, changes in effects.items():
            self.effects.append(RoutedEffect(target_id, self.tp, offset, event["eventId"], time_ms, tuple(changes)))
        self.counts["effects"] += len(effects)

    # -- state changes -------------------------------------------------------------------------

    def _move(
        self, citizen_id: str, citizen: _Citizen, amount: float, reason: str, rule_id: str, event, offset: int
    ) -> None:
        old_score = citizen.score
        # the amount in whole hundredths: a citizen's unclamped score is then the same whatever order
        # the runs of different partitions apply their changes in
        new_score = citizen.score = self.config.clamp(old_score + round_score(amount))
        citizen.tier = self.config.tier_for(new_score)
        self.changes.append(
            ScoreChange(
                citizen_id,
                old_score,
                new_score,
                round_score(new_score - old_score),
                reason,
                rule_id,
                event["eventId"],
                event["timestamp"],
                offset,
            )
        )

    def _mark_applied(self, citizen_id: str, citizen: _Citizen, offset: int, time_ms: int) -> None:
        self.changed_citizens[citizen_id] = None
        citizen.applied_offsets[self.tp] = max(offset, citizen.applied_offsets.get(self.tp, -1))
        if citizen.last_calculated is None or citizen.last_calculated < time_ms:
            citizen.last_calculated = time_ms

    def _create(self, citizen_id: str, event) -> _Citizen:
        baseline = self.config.clamp(self.config.baseline_score)
        flags = dict(event["newCitizen"].get("flags") or {})
        citizen = self.citizens[citizen_id] = _Citizen(
            baseline, self.config.tier_for(baseline), flags, {}, None, baseline
        )
        return citizen

    def _note_created(self, citizen_id: str, citizen: _Citizen, event, offset: int) -> None:
        block = event["newCitizen"]
        citizen.score_before = citizen.score  # the snapshot's delta counts from the created document
        self.created.append(
            CreatedCitizen(
                citizen_id,
                {name: block[name] for name in _PROFILE_FIELDS if block.get(name) is not None},
                dict(citizen.flags),
                citizen.score,
                citizen.tier,
                event["timestamp"],
                self.tp,
                offset,
            )
        )
        self.counts["created"] += 1

    def _edges_of(self, citizen_id: str) -> tuple[Edge, ...]:
        """Outgoing edges as of now, in a fixed order (target, type) whatever order the caller loaded them in."""
        edges = self.ordered_edges.get(citizen_id)
        if edges is None:
            edges = self.ordered_edges[citizen_id] = tuple(
                sorted(self._edge_map(citizen_id).values(), key=lambda edge: (edge.to_id, edge.relationship_type))
            )
        return edges

    def _edge_map(self, citizen_id: str) -> dict[tuple[str, str, str], Edge]:
        if citizen_id not in self.edges:
            self.edges[citizen_id] = {edge.key: edge for edge in self.loaded_edges.get(citizen_id, ())}
        return self.edges[citizen_id]

    def _change_relationship(self, citizen_id: str, event, offset: int) -> None:
        relationship = event["relationship"]
        target_id = relationship["relatedCitizenId"]
        if target_id == citizen_id:
            return
        edges = self._edge_map(citizen_id)
        key = (citizen_id, target_id, relationship["relationshipType"])
        action = relationship["action"]
        if action == "START":
            edge = Edge(*key, float(relationship["strength"]), event["timestamp"], None)
        elif key in edges:
            edge = replace(edges[key], end_ms=event["timestamp"])
        else:
            return  # END of an edge that never existed: nothing to end
        edges[key] = edge
        self.ordered_edges.pop(citizen_id, None)
        self.changed_edges.add(citizen_id)
        self.relationship_changes.append(RelationshipChange(action, edge, offset))

    def _record(self, offset, event, status, impact, rule_ids) -> None:
        self.outcomes.append(EventOutcome(offset, event, status, impact, rule_ids))
        self.counts[status] += 1

    # -- result --------------------------------------------------------------------------------

    def outcome(self) -> BatchOutcome:
        snapshots = tuple(
            ScoredSnapshot(
                citizen_id,
                citizen.score,
                citizen.tier,
                cast(int, citizen.last_calculated),  # set by the event that changed the citizen
                self.tp,
                citizen.applied_offsets[self.tp],
                round_score(citizen.score - citizen.score_before),
            )
            for citizen_id, citizen in ((cid, self.citizens[cid]) for cid in self.changed_citizens)
        )
        return BatchOutcome(
            topic_partition=self.tp,
            outcomes=tuple(self.outcomes),
            score_changes=tuple(self.changes),
            snapshots=snapshots,
            created=tuple(self.created),
            cooldowns=tuple(CooldownUpdate(*key, self.cooldowns[key]) for key in sorted(self.changed_cooldowns)),
            relationship_changes=tuple(self.relationship_changes),
            effects=tuple(self.effects),
            counts=dict(self.counts),
            citizens={citizen_id: self.citizens[citizen_id].frozen(citizen_id) for citizen_id in self.changed_citizens},
            relationships={citizen_id: self._edges_of(citizen_id) for citizen_id in sorted(self.changed_edges)},
        )
