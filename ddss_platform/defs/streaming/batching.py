"""When a partition's lag is worth a scoring run: at least the minimum batch, or its oldest unscored record has
waited the maximum delay (DDSS_SCORING_MIN_BATCH, DDSS_SCORING_MAX_DELAY_S), or no record arrived since the last
tick. A run worker costs seconds of CPU whatever its size, so while records keep coming in a trickle the sensor
gathers them instead of launching one run of a few records every tick; once the partition is quiet there is
nothing to gather, and the last records are scored at once instead of after the delay. A backlog, or a relaunch
of a failed range, is launched at once.

The age is the bus record's timestamp (its produce time, unless the producer gave one) against the sensor's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ddss_platform.settings import Settings


@dataclass(frozen=True)
class Batching:
    min_batch: int
    max_delay_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Batching:
        return cls(settings.scoring_min_batch, settings.scoring_max_delay_s)

    def wait_reason(self, lag: int, growing: bool, oldest_ms: Callable[[], int], now_ms: int) -> str | None:
        """Why the lag waits for more records, or None when a run should be launched now; ``growing``: records
        arrived since the last tick. ``oldest_ms`` (the oldest unscored record's timestamp) is read only when the
        lag is below the minimum batch and growing."""
        if lag >= self.min_batch or not growing:
            return None
        waited_s = max(0.0, (now_ms - oldest_ms()) / 1000)
        if waited_s >= self.max_delay_s:
            return None
        return (
            f"lag {lag} < minimum batch {self.min_batch}, oldest record waiting {waited_s:.0f} s "
            f"(launching at {self.max_delay_s:g} s)"
        )
