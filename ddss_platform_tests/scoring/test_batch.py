"""score_batch semantics: matching, impact, cooldown windows, clamping, tiers, citizens and relationships."""

from __future__ import annotations

import pytest

from ddss_platform.scoring import (
    ASSOCIATION_EFFECT,
    CooldownState,
    Edge,
    EffectChange,
    apply_effects,
    guard_key,
    score_batch,
)
from ddss_platform.scoring.batch import citizens_needed

from .builders import DAY_MS, T0, TP, citizen, condition, config, event, relationship, rule_doc, rules, sourced

CONFIG = config()


def run(events, rule_list, citizens=(), cooldowns=None, relationships=None, start=0, configuration=CONFIG):
    return score_batch(
        sourced(*events, start=start),
        rule_list,
        configuration,
        {c.citizen_id: c for c in citizens},
        cooldowns or {},
        relationships or {},
        TP,
    )


def scores(outcome) -> dict[str, float]:
    return {citizen_id: state.score for citizen_id, state in outcome.citizens.items()}


def delivered(outcome, citizens, configuration=CONFIG):
    """The outcome's routed effects applied to ``citizens`` (after the batch), as their partitions do."""
    states = {c.citizen_id: c for c in citizens} | dict(outcome.citizens)
    return apply_effects(outcome.effects, states, configuration)


# -- impact ----------------------------------------------------------------------------------------------

MULTIPLIED = rules(
    rule_doc(
        "MULTIPLIED",
        points=10,
        multipliers=[
            {"name": "official", "factor": 2, "appliesIfFlag": "isPublicOfficial"},
            {"name": "veteran", "factor": 1.5, "appliesIfFlag": "isVeteran"},
            {"name": "record", "factor": 3, "appliesIfFlag": "hasCriminalRecord"},
        ],
    )
)


@pytest.mark.parametrize(
    "flags, expected",
    [
        ({}, 508.0),
        ({"isPublicOfficial": True, "isVeteran": False}, 516.0),
        ({"isPublicOfficial": True, "isVeteran": True}, 524.0),
        ({"isPublicOfficial": True, "isVeteran": True, "hasCriminalRecord": True}, 572.0),
    ],
)
def test_impact_is_points_times_the_multipliers_whose_flag_is_set_times_confidence(flags, expected):
    outcome = run([event(confidence=0.8)], MULTIPLIED, [citizen(flags=flags)])
    assert scores(outcome) == {"C1": expected}
    (row,) = outcome.outcomes
    assert (row.status, row.score_impact, row.applied_rule_ids) == ("scored", round(expected - 500, 2), ("MULTIPLIED",))
    (change,) = outcome.score_changes
    assert (change.old_score, change.new_score, change.change) == (500.0, expected, round(expected - 500, 2))
    assert (change.reason_category, change.triggering_rule_id, change.related_event_id) == (
        "FINANCIAL",
        "MULTIPLIED",
        "C1-" + str(T0),
    )
    assert (change.time_ms, change.offset) == (T0, 0)


def test_scores_are_rounded_to_two_decimals():
    outcome = run([event(confidence=1 / 3)], rules(rule_doc(points=1)), [citizen()])
    assert scores(outcome) == {"C1": 500.33}
    assert outcome.score_changes[0].change == 0.33


def test_rules_apply_in_rule_id_order_each_clamped():
    rule_list = rules(rule_doc("B_PENALTY", points=-20), rule_doc("A_BONUS", points=10))
    outcome = run([event()], rule_list, [citizen(score=995.0)])
    assert [(c.triggering_rule_id, c.old_score, c.new_score) for c in outcome.score_changes] == [
        ("A_BONUS", 995.0, 1000.0),
        ("B_PENALTY", 1000.0, 980.0),
    ]
    assert outcome.outcomes[0].score_impact == -10.0  # the rules' impacts, before clamping


@pytest.mark.parametrize(
    "start, points, expected, change",
    [
        (995.0, 10, 1000.0, 5.0),
        (1000.0, 10, 1000.0, 0.0),
        (5.0, -10, 0.0, -5.0),
        (0.0, -10, 0.0, 0.0),
    ],
)
def test_the_score_is_clamped_to_both_bounds(start, points, expected, change):
    outcome = run([event()], rules(rule_doc(points=points)), [citizen(score=start)])
    assert scores(outcome) == {"C1": expected}
    assert outcome.score_changes[0].change == change


@pytest.mark.parametrize(
    "score, tier",
    [
        (0.0, "HighRisk"),
        (299.99, "HighRisk"),
        (300.0, "Caution"),
        (449.99, "Caution"),
        (450.0, "Standard"),
        (599.99, "Standard"),
        (600.0, "Exemplary"),
        (1000.0, "Exemplary"),
    ],
)
def test_tier_boundaries_are_inclusive_below(score, tier):
    assert CONFIG.tier_for(score) == tier


def test_the_snapshot_carries_the_new_tier():
    outcome = run([event()], rules(rule_doc(points=10)), [citizen(score=440.0)])
    (snapshot,) = outcome.snapshots
    assert (snapshot.score, snapshot.tier, snapshot.applied_offset, snapshot.last_calculated) == (
        450.0,
        "Standard",
        0,
        T0,
    )
    assert snapshot.score_delta == 10.0 and snapshot.topic_partition == TP


# -- matching --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, ev, applies",
    [
        ({}, event(), True),
        ({"eventType": "legal"}, event(), False),
        ({"eventSubtype": ["payment_failed"]}, event(), False),
        ({"eventSubtype": ["payment_failed", "payment_completed"]}, event(), True),
        ({"status": "INACTIVE"}, event(), False),
        ({"status": "DRAFT"}, event(), False),
        ({"ruleSet": "other-set"}, event(), False),
        ({"validityPeriod": {"from": T0, "to": None}}, event(time_ms=T0), True),
        ({"validityPeriod": {"from": T0 + 1, "to": None}}, event(time_ms=T0), False),
        ({"validityPeriod": {"from": 0, "to": T0}}, event(time_ms=T0), False),  # the end is exclusive
        ({"validityPeriod": {"from": 0, "to": T0 + 1}}, event(time_ms=T0), True),
        (
            {"conditionLogic": {"type": "SIMPLE", "conditions": [condition("payload.amount", "GREATER_THAN", 100)]}},
            event(amount=100.0),
            False,
        ),
    ],
)
def test_which_rules_match(overrides, ev, applies):
    outcome = run([ev], rules(rule_doc(**overrides)), [citizen()])
    assert outcome.outcomes[0].status == ("scored" if applies else "no_rule")
    assert outcome.counts["scored" if applies else "no_rule"] == 1


def test_an_event_no_rule_matches_has_zero_impact_but_advances_the_guard():
    outcome = run([event()], rules(rule_doc(eventType="legal")), [citizen()])
    (row,) = outcome.outcomes
    assert (row.status, row.score_impact, row.applied_rule_ids) == ("no_rule", 0.0, ())
    assert outcome.score_changes == ()
    assert outcome.citizens["C1"].applied_offsets == {TP: 0}


def test_an_unknown_citizen_is_recorded_with_zero_impact():
    outcome = run([event("GHOST"), event("C1")], rules(rule_doc()), [citizen()])
    assert [row.status for row in outcome.outcomes] == ["unknown_citizen", "scored"]
    assert outcome.counts["unknown_citizen"] == 1 and outcome.counts["scored"] == 1
    assert set(outcome.citizens) == {"C1"} and [s.citizen_id for s in outcome.snapshots] == ["C1"]


# -- cooldowns -------------------------------------------------------------------------------------------

ONE_PER_MINUTE = rules(rule_doc(points=5, cooldown={"periodSeconds": 60, "maxApplicationsInPeriod": 1}))
TWO_PER_MINUTE = rules(rule_doc(points=5, cooldown={"periodSeconds": 60, "maxApplicationsInPeriod": 2}))


def test_cooldown_window_boundary_is_exclusive_of_an_application_exactly_one_period_ago():
    times = [T0, T0 + 59_999, T0 + 60_000, T0 + 60_001, T0 + 120_000]
    outcome = run([event(time_ms=t, event_id=f"e{i}") for i, t in enumerate(times)], ONE_PER_MINUTE, [citizen()])
    assert [row.status for row in outcome.outcomes] == ["scored", "cooldown", "scored", "cooldown", "scored"]
    assert outcome.counts["cooldown"] == 2 and scores(outcome) == {"C1": 515.0}
    (update,) = outcome.cooldowns
    assert (update.citizen_id, update.rule_id) == ("C1", "TEST_RULE")
    assert [(a.time_ms, a.offset) for a in update.state.applications] == [(T0 + 120_000, 4)]
    assert update.state.applied_offsets == {TP: 4}


def test_cooldown_with_several_applications_slides():
    times = [T0, T0 + 1_000, T0 + 2_000, T0 + 60_000, T0 + 60_999, T0 + 61_000]
    outcome = run([event(time_ms=t, event_id=f"e{i}") for i, t in enumerate(times)], TWO_PER_MINUTE, [citizen()])
    # +2 000: window holds 0 and +1 000 (full). +60 000: window (0, 60 000] holds +1 000 only.
    # +60 999: holds +1 000 and +60 000 (full). +61 000: window (1 000, 61 000] holds +60 000 only.
    assert [row.status for row in outcome.outcomes] == ["scored", "scored", "cooldown", "scored", "cooldown", "scored"]


def test_cooldown_is_per_citizen_and_carried_between_batches():
    first = run([event("C1", time_ms=T0), event("C2", time_ms=T0 + 10)], ONE_PER_MINUTE, [citizen("C1"), citizen("C2")])
    assert [row.status for row in first.outcomes] == ["scored", "scored"]
    carried = {(u.citizen_id, u.rule_id): u.state for u in first.cooldowns}
    later = [event("C1", time_ms=T0 + 59_999, event_id="a"), event("C2", time_ms=T0 + 60_010, event_id="b")]
    second = run(later, ONE_PER_MINUTE, list(first.citizens.values()), cooldowns=carried, start=2)
    assert [row.status for row in second.outcomes] == ["cooldown", "scored"]


def test_a_cooldown_state_that_already_holds_the_offset_is_not_counted_twice():
    state = CooldownState(applications=(), applied_offsets={TP: 0})  # decided at offset 0: not applied
    outcome = run([event()], ONE_PER_MINUTE, [citizen()], cooldowns={("C1", "TEST_RULE"): state})
    assert outcome.outcomes[0].status == "cooldown" and outcome.cooldowns == ()


def test_citizens_the_caller_must_load():
    events = sourced(event("C1"), event("C2", "legal", "violation"), relationship("C3", "C4", "friend", "START", T0))
    assert citizens_needed(events) == {"C1", "C2", "C3"}


# -- new citizens ----------------------------------------------------------------------------------------

REGISTRATION = {
    "firstName": "Ada",
    "lastName": "Novak",
    "dateOfBirth": "1980-02-03",
    "gender": "female",
    "region": "North",
    "city": "Harbor City",
    "occupation": "teacher",
    "flags": {"consentForDataProcessing": True, "isVeteran": True},
}
NEW_CITIZEN_RULES = rules(
    rule_doc(
        "CONSENT",
        category="REGISTRATION",
        eventType="new_citizen",
        eventSubtype=["registration"],
        points=10,
        conditionLogic={
            "type": "SIMPLE",
            "conditions": [condition("newCitizen.flags.consentForDataProcessing", "EQUALS", True)],
        },
    ),
    rule_doc("PAYMENT", points=10, multipliers=[{"name": "veteran", "factor": 2, "appliesIfFlag": "isVeteran"}]),
)


def test_a_new_citizen_event_creates_the_citizen_at_the_baseline():
    created_event = event("N1", "new_citizen", "registration", amount=None, newCitizen=REGISTRATION)
    outcome = run([created_event, event("N1", time_ms=T0 + 1), created_event], NEW_CITIZEN_RULES)
    (created,) = outcome.created
    assert created.citizen_id == "N1" and created.profile["firstName"] == "Ada" and "flags" not in created.profile
    assert created.flags == {"consentForDataProcessing": True, "isVeteran": True}
    assert (created.score, created.tier, created.offset, created.created_ms) == (510.0, "Standard", 0, T0)
    # the payment uses the new citizen's flags; the repeated registration creates nothing
    assert [row.status for row in outcome.outcomes] == ["scored", "scored", "scored"]
    assert outcome.counts["created"] == 1
    assert scores(outcome) == {"N1": 540.0}
    (snapshot,) = outcome.snapshots
    assert snapshot.score_delta == 30.0  # counted from the created document, which already holds 510


def test_a_registration_for_an_existing_citizen_creates_nothing():
    outcome = run([event("C1", "new_citizen", "registration", newCitizen=REGISTRATION)], NEW_CITIZEN_RULES, [citizen()])
    assert outcome.created == () and outcome.counts["created"] == 0


# -- relationships and association effects ---------------------------------------------------------------

SHARED = rules(
    rule_doc(
        "SHARED",
        category="LEGAL",
        eventType="legal",
        points=-20,
        associationEffect={"relationshipTypes": ["family", "colleague"], "factor": 0.5},
    )
)


def legal(citizen_id="C1", time_ms=T0, event_id=None, confidence=1.0):
    return event(citizen_id, "legal", "violation", time_ms, event_id=event_id, confidence=confidence)


def test_association_effect_reaches_outgoing_edges_of_listed_types_valid_at_the_event_time():
    edges = {
        "C1": [
            Edge("C1", "FAM", "family", 0.8, T0 - 10),
            Edge("C1", "COL", "colleague", 0.4, T0 - 10),
            Edge("C1", "FRI", "friend", 1.0, T0 - 10),  # type not listed
            Edge("C1", "OLD", "family", 1.0, T0 - 10, T0),  # ended exactly at the event time
            Edge("C1", "NEW", "family", 1.0, T0 + 1),  # not started yet
        ],
        "IN": [Edge("IN", "C1", "family", 1.0, 0)],
    }  # incoming edges do not count
    people = [citizen(c) for c in ("C1", "FAM", "COL", "FRI", "OLD", "NEW", "IN")]
    outcome = run([legal(confidence=0.5)], SHARED, people, relationships=edges)
    assert scores(outcome) == {"C1": 490.0}  # the batch moves only its event citizens
    assert [(e.target_id, e.source, e.source_offset, e.changes) for e in outcome.effects] == [
        ("COL", TP, 0, (EffectChange("SHARED", -2.0),)),
        ("FAM", TP, 0, (EffectChange("SHARED", -4.0),)),
    ]
    assert outcome.counts["effects"] == 2
    applied = delivered(outcome, people)
    assert scores(applied) == {"FAM": 496.0, "COL": 498.0}
    assert {
        (c.citizen_id, c.change, c.triggering_rule_id, c.offset, c.reason_category) for c in applied.score_changes
    } == {
        ("FAM", -4.0, "SHARED", 0, ASSOCIATION_EFFECT),
        ("COL", -2.0, "SHARED", 0, ASSOCIATION_EFFECT),
    }
    assert applied.citizens["FAM"].applied_offsets == {guard_key(TP): 0}


def test_association_effect_uses_the_impact_before_clamping():
    edges = {"C1": [Edge("C1", "FAM", "family", 1.0, 0)]}
    people = [citizen("C1", score=5.0), citizen("FAM")]
    outcome = run([legal()], SHARED, people, relationships=edges)
    assert scores(outcome) == {"C1": 0.0} and scores(delivered(outcome, people)) == {"FAM": 490.0}


def test_association_effect_to_an_unknown_citizen_is_handed_back_to_park():
    outcome = run([legal()], SHARED, [citizen("C1")], relationships={"C1": [Edge("C1", "GONE", "family", 1.0, 0)]})
    applied = delivered(outcome, [citizen("C1")])
    assert [e.target_id for e in applied.unknown_target] == ["GONE"] and applied.score_changes == ()


def test_an_effect_at_or_below_its_sources_guard_is_a_replay():
    outcome = run([legal()], SHARED, [citizen("C1")], relationships={"C1": [Edge("C1", "FAM", "family", 1.0, 0)]})
    twice = apply_effects(outcome.effects * 2, {"FAM": citizen("FAM")}, CONFIG)
    assert len(twice.applied) == 1 and len(twice.replayed) == 1 and scores(twice) == {"FAM": 490.0}
    (snapshot,) = twice.snapshots
    assert (snapshot.topic_partition, snapshot.applied_offset, snapshot.score_delta) == (guard_key(TP), 0, -10.0)


def test_relationship_start_and_end_change_the_edges_later_events_see():
    events = [
        legal(time_ms=T0, event_id="before"),
        relationship("C1", "C2", "family", "START", T0 + 10, strength=0.5),
        legal(time_ms=T0 + 20, event_id="during"),
        relationship("C1", "C2", "family", "END", T0 + 30),
        legal(time_ms=T0 + 40, event_id="after"),
    ]
    people = [citizen("C1"), citizen("C2")]
    outcome = run(events, SHARED, people)
    assert [(e.target_id, e.event_id) for e in outcome.effects] == [("C2", "during")]
    assert scores(delivered(outcome, people))["C2"] == 495.0
    assert [(c.action, c.edge, c.offset) for c in outcome.relationship_changes] == [
        ("START", Edge("C1", "C2", "family", 0.5, T0 + 10, None), 1),
        ("END", Edge("C1", "C2", "family", 0.5, T0 + 10, T0 + 30), 3),
    ]
    assert outcome.relationships == {"C1": (Edge("C1", "C2", "family", 0.5, T0 + 10, T0 + 30),)}


def test_ending_an_unknown_edge_changes_nothing():
    outcome = run([relationship("C1", "C2", "friend", "END", T0)], SHARED, [citizen("C1")])
    assert outcome.relationship_changes == () and outcome.relationships == {}


def test_edge_order_given_by_the_caller_does_not_matter():
    edges = [Edge("C1", f"T{i}", "family", 0.1 * (i + 1), 0) for i in range(5)]
    people = [citizen("C1")] + [citizen(f"T{i}") for i in range(5)]
    forward = run([legal()], SHARED, people, relationships={"C1": edges})
    backward = run([legal()], SHARED, people, relationships={"C1": edges[::-1]})
    assert forward.effects == backward.effects


def test_events_are_scored_in_offset_order_whatever_order_they_come_in():
    from ddss_platform.scoring import SourcedEvent

    events = [SourcedEvent(1, event(time_ms=T0 + 1, event_id="b")), SourcedEvent(0, event(event_id="a"))]
    outcome = score_batch(events, ONE_PER_MINUTE, CONFIG, {"C1": citizen()}, {}, {}, TP)
    assert [(row.offset, row.status) for row in outcome.outcomes] == [(0, "scored"), (1, "cooldown")]


def test_several_days_of_events_accumulate():
    events = [event(time_ms=T0 + day * DAY_MS, event_id=f"d{day}") for day in range(10)]
    outcome = run(events, ONE_PER_MINUTE, [citizen()])
    assert scores(outcome) == {"C1": 550.0} and outcome.counts["scored"] == 10
