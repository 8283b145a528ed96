"""The pure scoring core: rules, conditions, cooldowns, tiers, decay and association effects; no I/O.

Load documents with ``load_rules`` / ``load_configuration`` (refusing bad ones with RuleError /
ConfigurationError), then ``score_batch`` one offset range of one topic-partition at a time; the association
effects it emits are applied on their targets' partitions with ``apply_effects``.
"""

from ddss_platform.scoring.batch import (
    ASSOCIATION_EFFECT,
    STATUSES,
    BatchOutcome,
    CooldownUpdate,
    CreatedCitizen,
    EventOutcome,
    RelationshipChange,
    ScoreChange,
    ScoredSnapshot,
    active_rules_by_type,
    citizens_needed,
    score_batch,
)
from ddss_platform.scoring.conditions import Condition, ConditionGroup, Logic, Operator
from ddss_platform.scoring.decay import decay
from ddss_platform.scoring.effects import EffectsOutcome, apply_effects, guard_key
from ddss_platform.scoring.loading import load_configuration, load_rule, load_rules
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
    round_score,
)
from ddss_platform.scoring.reference import reference_scores
from ddss_platform.scoring.safe_regex import MAX_PATTERN_CHARS, MAX_SUBJECT_CHARS, UnsafePatternError, compile_safe
from ddss_platform.scoring.state import (
    Application,
    CitizenState,
    CooldownState,
    Edge,
    EffectChange,
    RoutedEffect,
    SourcedEvent,
)

__all__ = [
    "ASSOCIATION_EFFECT",
    "MAX_PATTERN_CHARS",
    "MAX_SUBJECT_CHARS",
    "STATUSES",
    "Application",
    "AssociationEffect",
    "BatchOutcome",
    "CitizenState",
    "Condition",
    "ConditionGroup",
    "ConfigurationError",
    "Cooldown",
    "CooldownState",
    "CooldownUpdate",
    "CreatedCitizen",
    "DecayPolicy",
    "Edge",
    "EffectChange",
    "EffectsOutcome",
    "EventOutcome",
    "Logic",
    "Multiplier",
    "Operator",
    "RelationshipChange",
    "RoutedEffect",
    "Rule",
    "RuleError",
    "ScoreChange",
    "ScoredSnapshot",
    "ScoringConfig",
    "ScoringDocumentError",
    "SourcedEvent",
    "Tier",
    "UnsafePatternError",
    "ValidityPeriod",
    "active_rules_by_type",
    "apply_effects",
    "citizens_needed",
    "compile_safe",
    "decay",
    "guard_key",
    "load_configuration",
    "load_rule",
    "load_rules",
    "reference_scores",
    "round_score",
    "score_batch",
]
