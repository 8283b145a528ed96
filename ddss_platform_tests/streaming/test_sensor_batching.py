"""An hour of steady traffic at 5 events/s, on a simulated clock: the scoring sensor's plan makes at most one run
per partition per maximum delay, and no record waits much longer than that delay."""

from __future__ import annotations

import random
from collections import defaultdict

import dagster as dg
import pytest

from ddss_platform.defs.streaming.batching import Batching
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.defs.streaming.sensor import plan
from ddss_platform.events.topics import CITIZEN_EVENTS
from ddss_platform.processing import OffsetRange
from ddss_platform.settings import DEFAULT_SCORING_MAX_DELAY_S, DEFAULT_SCORING_MIN_BATCH

PARTITIONS = 2
RATE = 5.0  # events per second, what `ddss up` produces
HOUR_S = 3600
TICK_S = 5  # the daemon's sensor loop


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as instance:  # no runs in flight: each launched run finishes before the next tick
        yield instance


def simulate_hour(instance, batching: Batching) -> tuple[dict[int, list[int]], list[float]]:
    """(partition -> the seconds its runs were launched at, each record's wait from produce to launch)."""
    rng = random.Random(7)
    times: dict[int, list[int]] = defaultdict(list)  # partition -> record timestamps (ms), offset = index
    committed = dict.fromkeys(range(PARTITIONS), 0)
    launches: dict[int, list[int]] = defaultdict(list)
    waits: list[float] = []
    produced_ms = 0.0
    previous_ends: dict[str, dict[int, int]] = {}
    for now_s in range(TICK_S, HOUR_S + TICK_S, TICK_S):
        while produced_ms + 1000 / RATE <= now_s * 1000:
            produced_ms += 1000 / RATE
            times[rng.randrange(PARTITIONS)].append(int(produced_ms))
        ends = {CITIZEN_EVENTS: {p: len(times[p]) for p in range(PARTITIONS)}}
        requests, _ = plan(
            instance,
            ends,
            {CITIZEN_EVENTS: committed},
            ScoringTuning(),
            batching,
            lambda _topic, partition, offset: times[partition][offset],
            now_s * 1000,
            previous_ends,
        )
        previous_ends = ends
        for request in requests:
            scored = OffsetRange.parse(request.tags["ddss/range"])
            launches[scored.partition].append(now_s)
            waits += [now_s - t / 1000 for t in times[scored.partition][scored.start : scored.end]]
            committed[scored.partition] = scored.end
    return launches, waits


def test_an_hour_at_5_events_per_second_makes_one_run_per_partition_per_max_delay(instance):
    batching = Batching(DEFAULT_SCORING_MIN_BATCH, DEFAULT_SCORING_MAX_DELAY_S)
    launches, waits = simulate_hour(instance, batching)
    assert set(launches) == set(range(PARTITIONS))
    for partition, seconds in launches.items():
        gaps = [later - earlier for earlier, later in zip(seconds, seconds[1:], strict=False)]
        assert min(gaps) >= batching.max_delay_s, f"partition {partition}: two runs within {min(gaps)} s"
    runs = sum(len(seconds) for seconds in launches.values())
    assert runs <= PARTITIONS * HOUR_S / batching.max_delay_s
    assert max(waits) <= batching.max_delay_s + TICK_S  # launched at the first tick after the delay


def test_the_last_records_of_a_burst_are_scored_at_the_next_quiet_tick(instance):
    batching = Batching(DEFAULT_SCORING_MIN_BATCH, DEFAULT_SCORING_MAX_DELAY_S)
    ends, committed = {CITIZEN_EVENTS: {0: 40}}, {CITIZEN_EVENTS: {0: 0}}

    def ask(previous_ends):
        return plan(
            instance, ends, committed, ScoringTuning(), batching, lambda *_: 0, 1000, {CITIZEN_EVENTS: previous_ends}
        )

    waiting, notes = ask({0: 20})  # still arriving, below the minimum batch, young: gather more
    assert not waiting and "lag 40 < minimum batch" in notes[0]
    quiet, _ = ask({0: 40})  # nothing arrived since the last tick: nothing more to gather
    assert [r.tags["ddss/range"] for r in quiet] == ["citizen-events/0/0-40"]


def test_without_a_minimum_batch_every_tick_launches_a_run(instance):
    launches, _ = simulate_hour(instance, Batching(min_batch=1, max_delay_s=DEFAULT_SCORING_MAX_DELAY_S))
    assert sum(len(seconds) for seconds in launches.values()) >= PARTITIONS * HOUR_S / TICK_S * 0.9
