"""The seed rules and configuration load, pass their collection schemas, and cover the whole vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddss_platform.events.vocabulary import EVENT_TYPES
from ddss_platform.scoring import Operator, load_configuration, load_rules
from ddss_platform.scoring.conditions import Condition
from ddss_platform.stores.documents.validation import DocumentValidationError, validator_for

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
RULES = json.loads((SCHEMAS / "seed" / "scoring_rules.json").read_text())
CONFIGURATION = json.loads((SCHEMAS / "seed" / "system_configuration.json").read_text())


def _conditions(group):
    for member in group.members:
        if isinstance(member, Condition):
            yield member
        else:
            yield from _conditions(member)


@pytest.mark.parametrize("doc", RULES, ids=[doc["ruleID"] for doc in RULES])
def test_every_seed_rule_passes_the_collection_schema(doc):
    validator_for(SCHEMAS / "documents" / "scoring_rule_definitions.schema.json")(doc)


def test_the_seed_configuration_passes_its_schema_and_loads():
    validator_for(SCHEMAS / "documents" / "system_configuration.schema.json")(CONFIGURATION)
    loaded = load_configuration(CONFIGURATION)
    assert (loaded.baseline_score, loaded.min_score, loaded.max_score) == (500.0, 0.0, 1000.0)
    assert {tier.name for tier in loaded.tiers} == {"Exemplary", "Standard", "Caution", "HighRisk"}


def test_the_seed_rules_load_and_cover_every_event_kind_and_operator():
    rules = load_rules(RULES)
    configuration = load_configuration(CONFIGURATION)
    active = [rule for rule in rules if rule.status == "ACTIVE" and rule.rule_set == configuration.active_rule_set]
    assert len(rules) >= 12
    assert {rule.event_type for rule in active} == set(EVENT_TYPES)
    assert {condition.operator for rule in active for condition in _conditions(rule.condition)} == set(Operator)
    assert any(rule.association_effect for rule in active) and any(rule.cooldown for rule in active)
    assert any(rule.multipliers for rule in active)


def test_the_rule_schema_refuses_a_broken_document_naming_the_field():
    validate = validator_for(SCHEMAS / "documents" / "scoring_rule_definitions.schema.json")
    broken = dict(RULES[0], status="LIVE")
    with pytest.raises(DocumentValidationError) as refused:
        validate(broken)
    assert refused.value.field == "status"
