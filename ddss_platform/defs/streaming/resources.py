"""Tuning of the scoring sensor and runs (a resource, so the UI shows it and a deployment can override it)."""

import dagster as dg

from ddss_platform.processing.ranges import DEFAULT_BATCH_SIZE


class ScoringTuning(dg.ConfigurableResource):
    batch_size: int = DEFAULT_BATCH_SIZE
    """Most records one score_events run takes."""
    dead_letter_threshold: float = 0.10
    """The dead_letter_rate check fails above this share of dead-lettered records..."""
    dead_letter_window: int = 20
    """...over the records of this many most recent runs."""
    retry_backoff_s: float = 5.0
    """Wait before relaunching a failed range; doubles with each failed attempt (at most 5 minutes)."""
