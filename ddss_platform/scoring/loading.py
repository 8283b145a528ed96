"""Rule and configuration documents -> checked, frozen model objects; a bad document is refused whole.

Every refusal is a RuleError / ConfigurationError naming the document and the field (dotted path), so
``ddss init`` and the scoring runs can say exactly what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NoReturn, overload

from ddss_platform.events.vocabulary import EVENT_SUBTYPES, RELATIONSHIP_TYPES
from ddss_platform.scoring.conditions import ConditionError, parse_condition_logic
from ddss_platform.scoring.model import (
    AssociationEffect,
    ConfigurationError,
    Cooldown,
    DecayPolicy,
    Multiplier,
    Rule,
    RuleError,
    ScoringConfig,
    ScoringDocumentError,
    Tier,
    ValidityPeriod,
)

RULE_STATUSES = ("ACTIVE", "INACTIVE", "DRAFT")
CONFIG_STATUSES = ("ACTIVE", "INACTIVE", "DRAFT")
_RULE_KEYS = frozenset(
    {
        "_id",
        "ruleID",
        "name",
        "description",
        "category",
        "eventType",
        "eventSubtype",
        "conditionLogic",
        "points",
        "multipliers",
        "cooldown",
        "associationEffect",
        "tags",
        "status",
        "ruleSet",
        "validityPeriod",
        "metadata",
    }
)
_CONFIG_KEYS = frozenset(
    {
        "_id",
        "configID",
        "name",
        "description",
        "activeRuleSet",
        "baselineScore",
        "minScore",
        "maxScore",
        "tierDefinitions",
        "scoreDecayPolicy",
        "status",
        "metadata",
    }
)


class _Fields:
    """Typed access to one (sub)document; every failure raises the document's error naming the field."""

    def __init__(self, doc: Any, error: type[ScoringDocumentError], doc_id: str, where: str = ""):
        self.error, self.doc_id, self.where = error, doc_id, where
        if not isinstance(doc, Mapping):
            self.fail("", "must be an object")
        self.doc = doc

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where and key else (key or self.where)

    def fail(self, key: str, message: str) -> NoReturn:
        raise self.error(self.doc_id, self.path(key), message)

    def only(self, allowed: frozenset[str]) -> None:
        unknown = sorted(set(self.doc) - allowed)
        if unknown:
            self.fail(unknown[0], "unknown field")

    def raw(self, key: str, required: bool = True) -> Any:
        if self.doc.get(key) is None:
            if required:
                self.fail(key, "is required")
            return None
        return self.doc[key]

    @overload
    def string(self, key: str, required: Literal[True] = ..., choices: Iterable[str] | None = None) -> str: ...
    @overload
    def string(self, key: str, required: bool, choices: Iterable[str] | None = None) -> str | None: ...
    def string(self, key: str, required: bool = True, choices: Iterable[str] | None = None) -> str | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty string")
        if choices is not None and value not in choices:
            self.fail(key, f"{value!r} is not one of {sorted(choices)}")
        return value

    @overload
    def number(self, key: str, required: Literal[True] = ..., minimum: float | None = None) -> float: ...
    @overload
    def number(self, key: str, required: bool, minimum: float | None = None) -> float | None: ...
    def number(self, key: str, required: bool = True, minimum: float | None = None) -> float | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(key, "must be a finite number")
        if minimum is not None and value < minimum:
            self.fail(key, f"must be >= {minimum}")
        return float(value)

    @overload
    def integer(self, key: str, required: Literal[True] = ..., minimum: int | None = None) -> int: ...
    @overload
    def integer(self, key: str, required: bool, minimum: int | None = None) -> int | None: ...
    def integer(self, key: str, required: bool = True, minimum: int | None = None) -> int | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "must be an integer")
        if minimum is not None and value < minimum:
            self.fail(key, f"must be >= {minimum}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value

    def strings(self, key: str, choices: Iterable[str] | None = None) -> tuple[str, ...]:
        value = self.raw(key, required=False) or []
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            self.fail(key, "must be a list of non-empty strings")
        if choices is not None:
            for index, item in enumerate(value):
                if item not in choices:
                    self.fail(f"{key}.{index}", f"{item!r} is not one of {sorted(choices)}")
        return tuple(value)

    @overload
    def sub(self, key: str, required: Literal[True] = ...) -> _Fields: ...
    @overload
    def sub(self, key: str, required: bool) -> _Fields | None: ...
    def sub(self, key: str, required: bool = True) -> _Fields | None:
        value = self.raw(key, required)
        return None if value is None else _Fields(value, self.error, self.doc_id, self.path(key))

    def items(self, key: str) -> list[_Fields]:
        value = self.raw(key, required=False) or []
        if not isinstance(value, list):
            self.fail(key, "must be a list")
        return [_Fields(item, self.error, self.doc_id, self.path(f"{key}.{index}")) for index, item in enumerate(value)]


# -- rules ---------------------------------------------------------------------------------------------


def load_rules(docs: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """Every document as a Rule, ordered by ruleID (the order rules apply within one event).

    Raises RuleError for the first bad document (including a ruleID used twice)."""
    rules: dict[str, Rule] = {}
    for doc in docs:
        rule = load_rule(doc)
        if rule.rule_id in rules:
            raise RuleError(rule.rule_id, "ruleID", "used by two rule documents")
        rules[rule.rule_id] = rule
    return [rules[rule_id] for rule_id in sorted(rules)]


def load_rule(doc: Mapping[str, Any]) -> Rule:
    rule_id = doc.get("ruleID") if isinstance(doc, Mapping) else None
    fields = _Fields(doc, RuleError, rule_id if isinstance(rule_id, str) else "<no ruleID>")
    checked_id = fields.string("ruleID")
    fields.only(_RULE_KEYS)
    event_type = fields.string("eventType", choices=EVENT_SUBTYPES)
    try:
        condition = parse_condition_logic(fields.raw("conditionLogic"))
    except ConditionError as exc:
        fields.fail(exc.field, str(exc))
    validity = fields.sub("validityPeriod")
    start = validity.integer("from", minimum=0)
    end = validity.integer("to", required=False)
    if end is not None and end <= start:
        validity.fail("to", "must be after from (or null for no end)")
    metadata = fields.sub("metadata")
    return Rule(
        rule_id=checked_id,
        name=fields.string("name"),
        category=fields.string("category"),
        event_type=event_type,
        event_subtypes=frozenset(fields.strings("eventSubtype", choices=EVENT_SUBTYPES[event_type])),
        condition=condition,
        points=fields.number("points"),
        multipliers=tuple(_multiplier(item) for item in fields.items("multipliers")),
        cooldown=_cooldown(fields.sub("cooldown", required=False)),
        association_effect=_association(fields.sub("associationEffect", required=False)),
        tags=fields.strings("tags"),
        status=fields.string("status", choices=RULE_STATUSES),
        rule_set=fields.string("ruleSet"),
        validity=ValidityPeriod(start, end),
        version=metadata.integer("version", minimum=1),
    )


def _multiplier(fields: _Fields) -> Multiplier:
    fields.only(frozenset({"name", "factor", "appliesIfFlag"}))
    return Multiplier(fields.string("name"), fields.number("factor", minimum=0), fields.string("appliesIfFlag"))


def _cooldown(fields: _Fields | None) -> Cooldown | None:
    if fields is None:
        return None
    fields.only(frozenset({"periodSeconds", "maxApplicationsInPeriod"}))
    return Cooldown(
        fields.integer("periodSeconds", minimum=1) * 1000, fields.integer("maxApplicationsInPeriod", minimum=1)
    )


def _association(fields: _Fields | None) -> AssociationEffect | None:
    if fields is None:
        return None
    fields.only(frozenset({"relationshipTypes", "factor"}))
    types = fields.strings("relationshipTypes", choices=RELATIONSHIP_TYPES)
    if not types:
        fields.fail("relationshipTypes", "must name at least one relationship type")
    return AssociationEffect(frozenset(types), fields.number("factor"))


# -- configuration -------------------------------------------------------------------------------------


def load_configuration(doc: Mapping[str, Any]) -> ScoringConfig:
    """The configuration document as a ScoringConfig, or ConfigurationError naming the field.

    Tiers must tile [minScore, maxScore] with no gap or overlap: sorted by minScore, the first starts at
    minScore, each starts where the previous ends, the last ends at maxScore. Tier i holds
    minScore_i <= score < maxScore_i; the highest tier also holds maxScore."""
    config_id = doc.get("configID") if isinstance(doc, Mapping) else None
    fields = _Fields(doc, ConfigurationError, config_id if isinstance(config_id, str) else "<no configID>")
    checked_id = fields.string("configID")
    fields.only(_CONFIG_KEYS)
    low, high = fields.number("minScore"), fields.number("maxScore")
    if high <= low:
        fields.fail("maxScore", "must be greater than minScore")
    baseline = fields.number("baselineScore")
    if not low <= baseline <= high:
        fields.fail("baselineScore", "must lie within [minScore, maxScore]")
    decay = fields.sub("scoreDecayPolicy")
    decay.only(frozenset({"pointsPerDay", "towardsBaseline", "minimumScore"}))
    return ScoringConfig(
        config_id=checked_id,
        active_rule_set=fields.string("activeRuleSet"),
        baseline_score=baseline,
        min_score=low,
        max_score=high,
        tiers=_tiers(fields, low, high),
        decay=DecayPolicy(
            decay.number("pointsPerDay", minimum=0),
            decay.boolean("towardsBaseline"),
            decay.number("minimumScore", required=False),
        ),
        status=fields.string("status", choices=CONFIG_STATUSES),
    )


def _tiers(fields: _Fields, low: float, high: float) -> tuple[Tier, ...]:
    tiers = []
    for item in fields.items("tierDefinitions"):
        item.only(frozenset({"tierName", "minScore", "maxScore", "description"}))
        tier = Tier(item.string("tierName"), item.number("minScore"), item.number("maxScore"))
        if tier.max_score <= tier.min_score:
            item.fail("maxScore", "must be greater than the tier's minScore")
        tiers.append(tier)
    if not tiers:
        fields.fail("tierDefinitions", "must define at least one tier")
    if len({tier.name for tier in tiers}) != len(tiers):
        fields.fail("tierDefinitions", "tier names must be unique")
    tiers.sort(key=lambda tier: tier.min_score)
    if tiers[0].min_score != low or tiers[-1].max_score != high:
        fields.fail("tierDefinitions", f"tiers must cover [{low}, {high}] exactly")
    for lower, upper in zip(tiers, tiers[1:]):
        if upper.min_score != lower.max_score:
            fields.fail(
                "tierDefinitions",
                f"tiers are not contiguous: {lower.name} ends at {lower.max_score}, "
                f"{upper.name} starts at {upper.min_score}",
            )
    return tuple(tiers)
