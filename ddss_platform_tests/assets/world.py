"""A small embedded world spread over three days, scored by real score_events runs.

`ddss init`'s code loads the seed configuration, rules, citizens and social graph; the simulator's events
(its clock stretched so they cover DAYS) go to the bus; the score_events job scores every partition in ranges
of RANGE_SIZE offsets, executed in process against the test's Dagster instance so the runs' materializations
(with their offset ranges) are there for the checks and the lineage.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from ddss_platform.cli.store_commands import SEED_DIR, initialise
from ddss_platform.defs.resources import StoresResource
from ddss_platform.defs.streaming.job import score_events
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.events.simulator import CitizenEventSimulator
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS
from ddss_platform.settings import Settings
from ddss_platform.stores.archive import DAY_MS, day_start_ms
from ddss_platform.stores.bus import open_bus, open_codec
from ddss_platform_tests.recent import recent_days

DAYS = recent_days(3)  # whole days, recent: inside every retention
CITIZENS = 150
EVENTS = 1_200
RANGE_SIZE = 200


@dataclass(frozen=True)
class World:
    settings: Settings
    days: tuple[str, ...]
    events: int


def stretched_events(citizens: int, events: int, seed: int) -> list[dict]:
    """The simulator's events with their times mapped linearly onto DAYS (order, hence each citizen's
    non-decreasing times, is kept); the last event falls an hour before the end of the last day."""
    simulator = CitizenEventSimulator(citizens, seed, start_ms=day_start_ms(DAYS[0]))
    stream = [simulator.next_event() for _ in range(events)]
    first, last = stream[0]["timestamp"], stream[-1]["timestamp"]
    span = len(DAYS) * DAY_MS - 3_600_000
    for event in stream:
        event["timestamp"] = day_start_ms(DAYS[0]) + (event["timestamp"] - first) * span // max(1, last - first)
    return stream


def build_world(settings: Settings, instance: dg.DagsterInstance, seed: int = 11) -> World:
    initialise(settings, CITIZENS, seed, SEED_DIR / "system_configuration.json", SEED_DIR / "scoring_rules.json")
    codec = open_codec(settings)
    bus = open_bus(settings)
    try:
        bus.produce(
            CITIZEN_EVENTS, [(e["citizenId"], codec.encode(e)) for e in stretched_events(CITIZENS, EVENTS, seed)]
        )
        ends = bus.end_offsets(CITIZEN_EVENTS)
    finally:
        bus.close()
    resources = {"stores": StoresResource.from_settings(settings), "scoring": ScoringTuning()}
    for partition, end in sorted(ends.items()):
        for start in range(0, end, RANGE_SIZE):
            config = {"partition": partition, "start": start, "end": min(end, start + RANGE_SIZE)}
            result = score_events.execute_in_process(
                run_config={"ops": {"score_range": {"config": config}}}, instance=instance, resources=resources
            )
            assert result.success, f"score_events failed on partition {partition} [{start}, {config['end']})"
    # then the association effects those runs sent to each partition, as the sensor's next runs would apply them
    bus = open_bus(settings)
    try:
        effects = bus.end_offsets(CITIZEN_EFFECTS)
    finally:
        bus.close()
    for partition, end in sorted(effects.items()):
        config = {"topic": CITIZEN_EFFECTS, "partition": partition, "start": 0, "end": end}
        result = score_events.execute_in_process(
            run_config={"ops": {"score_range": {"config": config}}}, instance=instance, resources=resources
        )
        assert result.success, f"score_events failed on {CITIZEN_EFFECTS} partition {partition} [0, {end})"
    return World(settings, DAYS, EVENTS)
