"""Sample events of every kind, taken from the simulator so they stay realistic."""

from __future__ import annotations

from ddss_platform.events.simulator import CitizenEventSimulator
from ddss_platform_tests.recent import START_MS


def _first_of_each_kind() -> dict[str, dict]:
    kinds: dict[str, dict] = {}
    simulator = CitizenEventSimulator(50, seed=3, start_ms=START_MS)
    while len(kinds) < 7:
        event = simulator.next_event()
        kind = event["eventSubtype"]
        if event["relationship"]:
            kind = f"relationship_{event['relationship']['action'].lower()}"
        kinds.setdefault(kind, event)
    return kinds


EVENTS_BY_KIND = _first_of_each_kind()
NOW_MS = max(e["timestamp"] for e in EVENTS_BY_KIND.values())
