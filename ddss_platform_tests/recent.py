"""Recent times for the tests' data, fixed for the test session: inside every bucket's retention (the stores skip
older points), so the same arguments still give the same records within a session."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from ddss_platform.events.simulator import recent_start_ms

# A stream of up to 200,000 simulated events from here ends about an hour before the session started.
START_MS = recent_start_ms(200_000, time.time_ns() // 1_000_000)


def recent_days(count: int, ending_days_ago: int = 3) -> tuple[str, ...]:
    """``count`` consecutive whole UTC days, the last one ``ending_days_ago`` days before today."""
    last = datetime.now(UTC).date() - timedelta(days=ending_days_ago)
    return tuple((last - timedelta(days=count - 1 - i)).isoformat() for i in range(count))
