"""Cooldown decisions in event time: a sliding window over a rule's recent applications to one citizen.

A rule with cooldown (period P, max M) applies to an event at time t when fewer than M of its earlier
applications to that citizen lie in the window (t - P, t]. The window's lower end is open: an application
exactly P ms before t no longer counts, so with M = 1 the rule applies again at exactly t0 + P.
"""

from __future__ import annotations

from ddss_platform.scoring.model import Cooldown
from ddss_platform.scoring.state import Application, CooldownState, advance, applied_before


def decide(
    state: CooldownState, cooldown: Cooldown, time_ms: int, offset: int, topic_partition: str
) -> tuple[bool, CooldownState | None]:
    """(whether the rule applies to this event, the new state to store or None when nothing changes).

    When the state already holds this offset (a replay), the decision is read back from the state and
    nothing changes: the application is never counted twice.
    """
    if applied_before(state.applied_offsets, topic_partition, offset):
        return any(application.offset == offset for application in state.applications), None
    window_start = time_ms - cooldown.period_ms
    in_window = sum(1 for application in state.applications if application.time_ms > window_start)
    if in_window >= cooldown.max_applications:
        return False, None
    applications = (*state.applications, Application(time_ms, offset))[-cooldown.max_applications :]
    return True, CooldownState(applications, advance(state.applied_offsets, topic_partition, offset))
