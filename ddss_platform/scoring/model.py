"""The loaded forms of rule and configuration documents: frozen, checked, ready to evaluate."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ddss_platform.scoring.conditions import ConditionGroup

SCORE_DECIMALS = 2
"""Every score is rounded to this many decimals, so all stores hold (and compare) the same numbers."""


def round_score(value: float) -> float:
    return round(float(value), SCORE_DECIMALS)


class ScoringDocumentError(ValueError):
    """A rule or configuration document is refused: names the document and the field."""

    kind = "document"

    def __init__(self, document_id: str, field: str, message: str):
        super().__init__(f"{self.kind} {document_id!r}, field {field!r}: {message}")
        self.document_id = document_id
        self.field = field
        self.message = message


class RuleError(ScoringDocumentError):
    kind = "rule"

    @property
    def rule_id(self) -> str:
        return self.document_id


class ConfigurationError(ScoringDocumentError):
    kind = "configuration"


@dataclass(frozen=True, slots=True)
class Multiplier:
    name: str
    factor: float
    applies_if_flag: str


@dataclass(frozen=True, slots=True)
class Cooldown:
    period_ms: int
    max_applications: int


@dataclass(frozen=True, slots=True)
class AssociationEffect:
    relationship_types: frozenset[str]
    factor: float


@dataclass(frozen=True, slots=True)
class ValidityPeriod:
    start_ms: int
    end_ms: int | None  # exclusive; None: no end

    def covers(self, time_ms: int) -> bool:
        return self.start_ms <= time_ms and (self.end_ms is None or time_ms < self.end_ms)


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    name: str
    category: str
    event_type: str
    event_subtypes: frozenset[str]  # empty: every subtype
    condition: ConditionGroup
    points: float
    multipliers: tuple[Multiplier, ...]
    cooldown: Cooldown | None
    association_effect: AssociationEffect | None
    tags: tuple[str, ...]
    status: str
    rule_set: str
    validity: ValidityPeriod
    version: int

    def applies_to(self, event: Mapping[str, Any]) -> bool:
        """Subtype, validity and conditions (the caller has matched eventType, status and rule set)."""
        time_ms, validity = event["timestamp"], self.validity
        if time_ms < validity.start_ms or (validity.end_ms is not None and time_ms >= validity.end_ms):
            return False
        if self.event_subtypes and event.get("eventSubtype") not in self.event_subtypes:
            return False
        return self.condition.matches(event)

    def multiplier_for(self, flags: Mapping[str, bool]) -> float:
        product = 1.0
        for multiplier in self.multipliers:
            if flags.get(multiplier.applies_if_flag) is True:
                product *= multiplier.factor
        return product


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    min_score: float  # inclusive
    max_score: float  # exclusive, except for the highest tier


@dataclass(frozen=True, slots=True)
class DecayPolicy:
    points_per_day: float
    towards_baseline: bool
    minimum_score: float | None


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    config_id: str
    active_rule_set: str
    baseline_score: float
    min_score: float
    max_score: float
    tiers: tuple[Tier, ...]  # ascending, contiguous, covering [min_score, max_score]
    decay: DecayPolicy
    status: str
    _tier_floors: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_tier_floors", tuple(tier.min_score for tier in self.tiers))

    def clamp(self, score: float) -> float:
        """The score within [min_score, max_score], rounded to SCORE_DECIMALS."""
        return round_score(min(self.max_score, max(self.min_score, score)))

    def tier_for(self, score: float) -> str:
        """Tier i holds min_i <= score < max_i; the highest tier also holds its max (= max_score)."""
        index = bisect.bisect_right(self._tier_floors, score) - 1
        return self.tiers[max(index, 0)].name
