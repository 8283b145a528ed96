"""Rule and configuration documents: loaded into frozen objects, or refused naming the rule and field."""

from __future__ import annotations

import dataclasses

import pytest

from ddss_platform.scoring import ConfigurationError, RuleError, load_configuration, load_rules

from .builders import condition, config, config_doc, rule_doc


def test_a_full_rule_loads_into_frozen_objects():
    (rule,) = load_rules(
        [
            rule_doc(
                "LEGAL_X",
                category="LEGAL",
                eventType="legal",
                eventSubtype=["violation"],
                points=-12,
                multipliers=[{"name": "official", "factor": 2, "appliesIfFlag": "isPublicOfficial"}],
                cooldown={"periodSeconds": 60, "maxApplicationsInPeriod": 2},
                associationEffect={"relationshipTypes": ["family"], "factor": 0.5},
                validityPeriod={"from": 10, "to": 20},
            )
        ]
    )
    assert (rule.rule_id, rule.event_type, rule.event_subtypes, rule.points) == (
        "LEGAL_X",
        "legal",
        {"violation"},
        -12.0,
    )
    assert rule.cooldown.period_ms == 60_000 and rule.cooldown.max_applications == 2
    assert rule.association_effect.relationship_types == {"family"} and rule.association_effect.factor == 0.5
    assert rule.validity.covers(10) and rule.validity.covers(19) and not rule.validity.covers(20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.points = 1.0


def test_rules_come_back_in_rule_id_order():
    assert [rule.rule_id for rule in load_rules([rule_doc("B_RULE"), rule_doc("A_RULE")])] == ["A_RULE", "B_RULE"]


def _logic(*conditions):
    return {"type": "AND", "conditions": list(conditions)}


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"points": None}, "points"),
        ({"points": "ten"}, "points"),
        ({"points": float("nan")}, "points"),
        ({"eventType": "shopping"}, "eventType"),
        ({"eventSubtype": ["volunteering"]}, "eventSubtype.0"),  # not a financial subtype
        ({"status": "TESTING"}, "status"),
        ({"ruleSet": ""}, "ruleSet"),
        ({"cooldowns": {}}, "cooldowns"),  # unknown field (typo)
        ({"conditionLogic": {"type": "XOR", "conditions": []}}, "conditionLogic.type"),
        ({"conditionLogic": {"type": "AND", "conditions": []}}, "conditionLogic.conditions"),
        (
            {"conditionLogic": {"type": "SIMPLE", "conditions": [condition("severity", "EXISTS", True)] * 2}},
            "conditionLogic.conditions",
        ),
        ({"conditionLogic": _logic(condition("severity", "LIKE", "x"))}, "conditionLogic.conditions.0.operator"),
        (
            {"conditionLogic": _logic(condition("severity", "GREATER_THAN", "high"))},
            "conditionLogic.conditions.0.value",
        ),
        ({"conditionLogic": _logic(condition("severity", "IN", "North"))}, "conditionLogic.conditions.0.value"),
        ({"conditionLogic": _logic(condition("severity", "EXISTS", "yes"))}, "conditionLogic.conditions.0.value"),
        ({"conditionLogic": _logic(condition("a..b", "EQUALS", 1))}, "conditionLogic.conditions.0.field"),
        ({"conditionLogic": _logic({"field": "severity", "operator": "EQUALS"})}, "conditionLogic.conditions.0.value"),
        (
            {
                "conditionLogic": _logic(
                    condition("severity", "GREATER_THAN", 0),
                    {"type": "OR", "conditions": [condition("payload.metadata.kind", "REGEX_MATCH", "(a+)+$")]},
                )
            },
            "conditionLogic.conditions.1.conditions.0.value",
        ),
        (
            {"conditionLogic": _logic(condition("payload.metadata.kind", "REGEX_MATCH", "(x|x)*"))},
            "conditionLogic.conditions.0.value",
        ),
        (
            {"conditionLogic": _logic(condition("payload.metadata.kind", "REGEX_MATCH", r"(a)\1"))},
            "conditionLogic.conditions.0.value",
        ),
        (
            {"conditionLogic": _logic(condition("payload.metadata.kind", "REGEX_MATCH", "[unclosed"))},
            "conditionLogic.conditions.0.value",
        ),
        ({"multipliers": [{"name": "m", "factor": -1, "appliesIfFlag": "isVeteran"}]}, "multipliers.0.factor"),
        ({"multipliers": [{"name": "m", "factor": 2}]}, "multipliers.0.appliesIfFlag"),
        ({"cooldown": {"periodSeconds": 0, "maxApplicationsInPeriod": 1}}, "cooldown.periodSeconds"),
        ({"cooldown": {"periodSeconds": 60, "maxApplicationsInPeriod": 0}}, "cooldown.maxApplicationsInPeriod"),
        ({"cooldown": {"periodSeconds": 60}}, "cooldown.maxApplicationsInPeriod"),
        (
            {"associationEffect": {"relationshipTypes": ["neighbour"], "factor": 0.1}},
            "associationEffect.relationshipTypes.0",
        ),
        ({"associationEffect": {"relationshipTypes": [], "factor": 0.1}}, "associationEffect.relationshipTypes"),
        ({"validityPeriod": {"from": 100, "to": 100}}, "validityPeriod.to"),
        ({"validityPeriod": {"to": None}}, "validityPeriod.from"),
        ({"metadata": {"createdAt": 1}}, "metadata.version"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_the_field(overrides, field):
    with pytest.raises(RuleError) as refused:
        load_rules([rule_doc("GOOD_RULE"), rule_doc("BAD_RULE", **overrides)])
    assert refused.value.rule_id == "BAD_RULE"
    assert refused.value.field == field
    assert "BAD_RULE" in str(refused.value) and field in str(refused.value)


def test_a_rule_id_used_twice_is_refused():
    with pytest.raises(RuleError, match="two rule documents") as refused:
        load_rules([rule_doc("SAME"), rule_doc("SAME")])
    assert refused.value.field == "ruleID"


def test_a_rule_without_id_is_refused():
    doc = rule_doc()
    del doc["ruleID"]
    with pytest.raises(RuleError) as refused:
        load_rules([doc])
    assert refused.value.field == "ruleID"


def test_tiers_are_sorted_and_bounded():
    loaded = config()
    assert [tier.name for tier in loaded.tiers] == ["HighRisk", "Caution", "Standard", "Exemplary"]
    assert (loaded.baseline_score, loaded.min_score, loaded.max_score) == (500.0, 0.0, 1000.0)


def _tiers(*bounds):
    names = ["HighRisk", "Caution", "Standard", "Exemplary"]
    return [{"tierName": names[i], "minScore": low, "maxScore": high} for i, (low, high) in enumerate(bounds)]


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"tierDefinitions": _tiers((0, 300), (301, 1000))}, "tierDefinitions", "not contiguous"),  # gap
        ({"tierDefinitions": _tiers((0, 300), (299, 1000))}, "tierDefinitions", "not contiguous"),  # overlap
        ({"tierDefinitions": _tiers((10, 500), (500, 1000))}, "tierDefinitions", "cover"),
        ({"tierDefinitions": _tiers((0, 500), (500, 900))}, "tierDefinitions", "cover"),
        ({"tierDefinitions": _tiers((0, 500), (500, 500), (500, 1000))}, "tierDefinitions.1.maxScore", "greater"),
        ({"tierDefinitions": []}, "tierDefinitions", "at least one"),
        ({"baselineScore": 1200}, "baselineScore", "within"),
        ({"maxScore": 0}, "maxScore", "greater"),
        ({"activeRuleSet": None}, "activeRuleSet", "required"),
        ({"scoreDecayPolicy": {"pointsPerDay": -1, "towardsBaseline": True}}, "scoreDecayPolicy.pointsPerDay", ">="),
        (
            {"scoreDecayPolicy": {"pointsPerDay": 1, "towardsBaseline": "yes"}},
            "scoreDecayPolicy.towardsBaseline",
            "true or false",
        ),
        ({"status": "LIVE"}, "status", "not one of"),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_field(overrides, field, message):
    with pytest.raises(ConfigurationError, match=message) as refused:
        load_configuration(config_doc(**overrides))
    assert refused.value.field == field
    assert refused.value.document_id == "test-config"
