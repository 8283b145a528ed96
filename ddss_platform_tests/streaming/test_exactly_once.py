"""Exactly-once effects: a range processed after crashes between any two sink writes ends like a clean pass,
the association effects it sends to other partitions (citizen-effects) included."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import CRASH_EXIT_CODE, OffsetRange, SinkWrites, process_range
from ddss_platform.stores import open_stores
from ddss_platform_tests.streaming.support import (
    assert_same_contents,
    produce,
    run_range_in_subprocess,
    seed_stores,
    settings_for,
    store_contents,
)


def rounds(settings, batch: int) -> list[list[OffsetRange]]:
    """The citizen-events ranges a sensor would launch over a produced backlog: per round, one per partition."""
    with open_stores(settings) as ports:
        ends = ports.bus.end_offsets(CITIZEN_EVENTS)
    return [
        [
            OffsetRange(CITIZEN_EVENTS, p, start, min(end, start + batch))
            for p, end in sorted(ends.items())
            if start < end
        ]
        for start in range(0, max(ends.values()), batch)
    ]


def effect_ranges(ports) -> list[OffsetRange]:
    """What each partition's citizen-effects lag is now (the effects the round's ranges produced), as ranges."""
    ends = ports.bus.end_offsets(CITIZEN_EFFECTS)
    committed = ports.bus.committed(SCORING_GROUP, CITIZEN_EFFECTS)
    return [OffsetRange(CITIZEN_EFFECTS, p, committed[p], end) for p, end in sorted(ends.items()) if committed[p] < end]


def schedule(settings, batch: int) -> Iterator[tuple[tuple, OffsetRange]]:
    """Every range in the order the runs take them: a round of citizen-events ranges, then the effects they sent
    (a range of citizen-effects is only known once the round's effects are produced: a retried range may produce
    an effect twice). Each with a key that names it in every pass: (round, topic, partition)."""
    with open_stores(settings) as ports:
        for number, round_ranges in enumerate(rounds(settings, batch)):
            for rng in round_ranges:
                yield (number, rng.topic, rng.partition), rng
            for rng in effect_ranges(ports):
                yield (number, rng.topic, rng.partition), rng


def prepared(tmp_path, name: str, citizens: int, events: int):
    settings = settings_for(tmp_path / name)
    seed_stores(settings, citizens)
    produce(settings, citizens, events, seed=3, bad_fraction=0.02)
    return settings


def clean_pass(settings, batch: int, chunk: int) -> dict[tuple, int]:
    """Process every range once; returns how many sink writes (the commit included) each took."""
    writes = {}
    with open_stores(settings) as ports:
        for key, rng in schedule(settings, batch):
            counter = SinkWrites()
            process_range(ports, rng, chunk_size=chunk, writes=counter)
            writes[key] = counter.count
    return writes


class Crash(Exception):
    pass


class RaisingWrites(SinkWrites):
    """Fails (in-process) just before the n-th write, as a run that dies there would."""

    def crash(self) -> None:
        raise Crash(self.count)


def test_a_range_failing_at_each_write_in_turn_ends_like_a_clean_pass(tmp_path):
    """Each attempt fails one write later than the previous one, until an attempt gets through:
    every write (the commit included) is once the first one a retry finds not done."""
    clean = prepared(tmp_path, "clean", citizens=300, events=3_000)
    ranges = clean_pass(clean, batch=600, chunk=250)
    expected = store_contents(clean)

    crashy = prepared(tmp_path, "crashy", citizens=300, events=3_000)
    failures = 0
    with open_stores(crashy) as ports:
        for _key, rng in schedule(crashy, batch=600):
            crash_at = 1
            while True:
                try:
                    process_range(ports, rng, chunk_size=250, writes=RaisingWrites(crash_at))
                    break
                except Crash:
                    failures += 1
                    crash_at += 1
    assert failures >= 4 * len(ranges)
    assert any(topic == CITIZEN_EFFECTS for _round, topic, _partition in ranges)
    assert_same_contents(expected, store_contents(crashy))


@pytest.mark.slow
def test_killed_run_processes_and_retries_end_identical_to_a_clean_pass(tmp_path):
    """20k events on 3 partitions, their association effects included; the run process is killed (exit 137) at
    ≥ 20 random sink writes (of citizen-events and of citizen-effects ranges) and retried."""
    clean = prepared(tmp_path, "clean", citizens=1_000, events=20_000)
    writes = clean_pass(clean, batch=800, chunk=300)
    expected = store_contents(clean)
    assert any(topic == CITIZEN_EFFECTS for _round, topic, _partition in writes)

    crashy = prepared(tmp_path, "crashy", citizens=1_000, events=20_000)
    assert crashy.partitions == 3
    rnd = random.Random(20)
    killed = Counter()
    for key, rng in schedule(crashy, batch=800):
        # every range is killed once at a random write, some a second time during their retry
        attempts = 2 if rnd.random() < 0.3 else 1
        for _ in range(attempts):
            code = run_range_in_subprocess(crashy, rng, crash_at=rnd.randint(1, writes[key]), chunk_size=300)
            assert code in (0, CRASH_EXIT_CODE)
            killed[rng.topic] += code == CRASH_EXIT_CODE
        # the sensor relaunches the range until a run succeeds
        assert run_range_in_subprocess(crashy, rng, chunk_size=300) == 0
    assert killed.total() >= 20 and killed[CITIZEN_EFFECTS] >= 5
    assert_same_contents(expected, store_contents(crashy))
