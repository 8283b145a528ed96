"""The daily decay: scores drift by a fixed number of points per day, pure."""

from __future__ import annotations

from ddss_platform.scoring.model import DecayPolicy, ScoringConfig


def decay(score: float, days: float, policy: DecayPolicy, config: ScoringConfig) -> float:
    """The score after ``days`` days of decay.

    towardsBaseline: move ``pointsPerDay`` x days towards baselineScore from either side, never past it.
    Otherwise: move down by that much. Either way a downward move stops at ``minimumScore`` (a score already
    below it stays put), and the result is clamped to [minScore, maxScore] and rounded to 2 decimals."""
    if days < 0:
        raise ValueError("days must be >= 0")
    step = policy.points_per_day * days
    if policy.towards_baseline:
        target = config.baseline_score
        new = max(target, score - step) if score > target else min(target, score + step)
    else:
        new = score - step
    if policy.minimum_score is not None and new < score:
        new = max(new, min(score, policy.minimum_score))
    return config.clamp(new)
