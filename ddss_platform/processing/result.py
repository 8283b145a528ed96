"""What one processed offset range did: counts for run metadata, the CLI and the benchmark."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ddss_platform.events.topics import CITIZEN_EFFECTS
from ddss_platform.processing.ranges import OffsetRange

EFFECT_COUNTS = ("produced", "delivered", "parked", "applied_late", "expired", "replayed")
"""What became of association effects, in the order every report lists them (``docs/effects.md``)."""


@dataclass
class RangeResult:
    range: OffsetRange
    records: int = 0
    scored: int = 0  # at least one rule applied (the score may still be unchanged, e.g. clamped)
    no_rule: int = 0  # a known citizen, but no active rule matched (or every match was in cooldown)
    cooldown: int = 0  # rules matched, but every one was in its cooldown window
    unknown_citizen: int = 0
    duplicate: int = 0  # already applied by a failed attempt of this range (a replay)
    dead_lettered: int = 0
    dead_letter_reasons: Counter = field(default_factory=Counter)
    score_changes: int = 0  # score_change_history points, association effects included
    net_score_change: float = 0.0
    new_citizens: int = 0
    relationship_changes: int = 0
    # association effects (``docs/effects.md``): made by scoring this range's events, and, on the target's side,
    # applied on delivery, parked for a target not registered yet, applied when the target registered, expired
    # after the park window, or dropped as a replay the target already holds
    effects_produced: int = 0
    effects_delivered: int = 0
    effects_parked: int = 0
    effects_applied_late: int = 0
    effects_expired: int = 0
    effects_replayed: int = 0
    sink_rows: Counter = field(default_factory=Counter)  # sink name -> rows written
    # time-series sink -> points not written because they are older than the bucket's retention
    beyond_retention: Counter = field(default_factory=Counter)
    event_hours_ms: set[int] = field(default_factory=set)  # hours (ms at the hour) of the events written
    already_committed: bool = False  # the group had committed past this range: nothing to do
    elapsed_s: float = 0.0
    max_rss_mb: float = 0.0

    @property
    def events(self) -> int:
        """Decoded events (every record that was not dead-lettered)."""
        return self.records - self.dead_lettered

    @property
    def events_per_s(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def effect_counts(self) -> dict[str, int]:
        return {name: getattr(self, f"effects_{name}") for name in EFFECT_COUNTS}

    def summary(self) -> str:
        if self.already_committed:
            return f"{self.range}: already committed, nothing to do"
        head = f"{self.range}: {self.records} records in {self.elapsed_s:.2f} s ({self.events_per_s:,.0f}/s): "
        effects = ", ".join(
            f"{name.replace('_', ' ')} {count}" for name, count in self.effect_counts().items() if count
        )
        if self.range.topic == CITIZEN_EFFECTS:
            return head + f"association effects {effects or 'none'}, dead-lettered {self.dead_lettered}"
        return head + (
            f"scored {self.scored}, no rule {self.no_rule}, cooldown {self.cooldown}, "
            f"unknown citizen {self.unknown_citizen}, replayed {self.duplicate}, dead-lettered {self.dead_lettered}; "
            f"{self.score_changes} score changes; association effects {effects or 'none'}"
        )
