"""What the bus says about the pipeline: the scoring group's lag, the dead-letter count, and the time of
the newest event the scoring runs have committed."""
from __future__ import annotations

from typing import Any

from ddss_platform.events.topics import CITIZEN_EVENTS, CITIZEN_EVENTS_DLQ, SCORING_GROUP
from ddss_platform.processing.ranges import lag
from ddss_platform.stores.bus import OffsetRangeError, UnknownTopicError


def lag_by_partition(bus: Any) -> dict[int, int] | None:
    """partition -> records of citizen-events the group ddss-scoring has not committed; None before the
    topic exists."""
    try:
        ends = bus.end_offsets(CITIZEN_EVENTS)
    except UnknownTopicError:
        return None
    return dict(sorted(lag(ends, bus.committed(SCORING_GROUP, CITIZEN_EVENTS)).items()))


def dead_letters(bus: Any) -> int:
    """Records ever written to the dead-letter topic."""
    try:
        return sum(bus.end_offsets(CITIZEN_EVENTS_DLQ).values())
    except UnknownTopicError:
        return 0


def newest_scored_ms(bus: Any) -> int | None:
    """The record timestamp (the event time, as the producers set it) of the newest committed record."""
    try:
        committed = bus.committed(SCORING_GROUP, CITIZEN_EVENTS)
    except UnknownTopicError:
        return None
    times = []
    for partition, offset in committed.items():
        if offset > 0:
            try:
                times += [r.timestamp_ms for r in bus.read_range(CITIZEN_EVENTS, partition, offset - 1, offset)]
            except OffsetRangeError:  # the record is past the topic's retention
                continue
    return max(times, default=None)
