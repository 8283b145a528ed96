"""Every operator, coercion rule and combinator of rule conditions."""

from __future__ import annotations

import pytest

from ddss_platform.scoring.conditions import parse_condition_logic

from .builders import condition, event

EVENT = event(
    severity=0.7,
    amount=250.0,
    metadata={"failure_reason": "insufficient_funds", "hours": "8", "ratio": "0.25", "flag": "TRUE"},
    tags=["urgent", "night"],
)


def matches(field, operator, value, ev=EVENT) -> bool:
    group = parse_condition_logic({"type": "SIMPLE", "conditions": [condition(field, operator, value)]})
    return group.matches(ev)


@pytest.mark.parametrize(
    "field, operator, value, expected",
    [
        # EQUALS / NOT_EQUALS, with numeric coercion of metadata strings
        ("payload.metadata.failure_reason", "EQUALS", "insufficient_funds", True),
        ("payload.metadata.failure_reason", "EQUALS", "card_expired", False),
        ("payload.metadata.hours", "EQUALS", 8, True),
        ("payload.metadata.hours", "EQUALS", "8.0", True),
        ("payload.amount", "EQUALS", 250, True),
        ("payload.metadata.flag", "EQUALS", True, True),
        ("payload.amount", "EQUALS", True, False),
        ("payload.metadata.failure_reason", "NOT_EQUALS", "card_expired", True),
        ("payload.metadata.failure_reason", "NOT_EQUALS", "insufficient_funds", False),
        ("location.region", "EQUALS", "North", True),
        # ordering, numeric fields and numeric strings
        ("payload.amount", "GREATER_THAN", 249.99, True),
        ("payload.amount", "GREATER_THAN", 250, False),
        ("payload.amount", "GREATER_OR_EQUAL", 250, True),
        ("payload.amount", "GREATER_OR_EQUAL", 250.01, False),
        ("severity", "LESS_THAN", 0.7, False),
        ("severity", "LESS_THAN", 0.71, True),
        ("severity", "LESS_OR_EQUAL", 0.7, True),
        ("severity", "LESS_OR_EQUAL", 0.69, False),
        ("payload.metadata.hours", "GREATER_THAN", 5, True),
        ("payload.metadata.ratio", "LESS_THAN", 0.5, True),
        ("payload.metadata.failure_reason", "GREATER_THAN", 0, False),  # not a number: false
        # IN
        ("payload.metadata.failure_reason", "IN", ["card_expired", "insufficient_funds"], True),
        ("payload.metadata.failure_reason", "IN", ["card_expired"], False),
        ("payload.metadata.hours", "IN", [4, 8], True),
        ("severity", "IN", [0.5, 0.7], True),
        # CONTAINS: substring, list element, map key
        ("payload.metadata.failure_reason", "CONTAINS", "funds", True),
        ("payload.metadata.failure_reason", "CONTAINS", "Funds", False),
        ("tags", "CONTAINS", "night", True),
        ("tags", "CONTAINS", "day", False),
        ("payload.metadata", "CONTAINS", "failure_reason", True),
        ("payload.metadata", "CONTAINS", "method", False),
        # EXISTS
        ("payload.metadata.failure_reason", "EXISTS", True, True),
        ("payload.metadata.method", "EXISTS", True, False),
        ("payload.metadata.method", "EXISTS", False, True),
        ("location.latitude", "EXISTS", False, True),  # null counts as absent
        ("payload.amount", "EXISTS", False, False),
        # REGEX_MATCH (search semantics)
        ("payload.metadata.failure_reason", "REGEX_MATCH", "^insufficient", True),
        ("payload.metadata.failure_reason", "REGEX_MATCH", "expired$", False),
        ("payload.amount", "REGEX_MATCH", "250", False),  # not a string
    ],
)
def test_operator(field, operator, value, expected):
    assert matches(field, operator, value) is expected


@pytest.mark.parametrize(
    "operator, value",
    [
        ("EQUALS", "x"),
        ("NOT_EQUALS", "x"),
        ("GREATER_THAN", 0),
        ("GREATER_OR_EQUAL", 0),
        ("LESS_THAN", 1e9),
        ("LESS_OR_EQUAL", 1e9),
        ("IN", ["x"]),
        ("CONTAINS", "x"),
        ("REGEX_MATCH", "."),
    ],
)
def test_a_missing_field_makes_every_comparison_false(operator, value):
    assert matches("payload.metadata.absent", operator, value) is False
    assert matches("payload.amount.deeper", operator, value) is False  # path runs through a number
    assert matches("location.latitude", operator, value) is False  # null


def test_and_or_groups_nest():
    logic = {
        "type": "AND",
        "conditions": [
            condition("severity", "GREATER_OR_EQUAL", 0.5),
            {
                "type": "OR",
                "conditions": [
                    condition("payload.metadata.failure_reason", "EQUALS", "fraud"),
                    {
                        "type": "AND",
                        "conditions": [
                            condition("payload.amount", "GREATER_THAN", 200),
                            condition("location.region", "IN", ["North", "South"]),
                        ],
                    },
                ],
            },
        ],
    }
    group = parse_condition_logic(logic)
    assert group.matches(EVENT)
    assert not group.matches(event(severity=0.7, amount=150.0, metadata={"failure_reason": "x"}))
    assert group.matches(event(severity=0.7, amount=150.0, metadata={"failure_reason": "fraud"}))
    assert not group.matches(event(severity=0.2, amount=900.0))


def test_or_is_false_when_no_member_matches_and_and_needs_all():
    first, second = condition("severity", "GREATER_THAN", 0.9), condition("payload.amount", "LESS_THAN", 10)
    assert not parse_condition_logic({"type": "OR", "conditions": [first, second]}).matches(EVENT)
    assert parse_condition_logic({"type": "OR", "conditions": [first, condition("severity", "LESS_THAN", 1)]}).matches(
        EVENT
    )
    assert not parse_condition_logic(
        {"type": "AND", "conditions": [condition("severity", "LESS_THAN", 1), second]}
    ).matches(EVENT)
