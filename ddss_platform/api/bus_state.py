"""What the bus says about the pipeline: the scoring group's lag, the dead-letter count, and the event time
of the newest record the scoring runs have committed."""

from __future__ import annotations

from ddss_platform.events.codec import EventCodec, EventDecodeError
from ddss_platform.events.topics import CITIZEN_EVENTS, CITIZEN_EVENTS_DLQ, SCORING_GROUP
from ddss_platform.stores.bus import EventBus, OffsetRangeError, UnknownTopicError, lag


def lag_by_partition(bus: EventBus) -> dict[int, int] | None:
    """partition -> records of citizen-events the group ddss-scoring has not committed; None before the
    topic exists."""
    try:
        ends = bus.end_offsets(CITIZEN_EVENTS)
    except UnknownTopicError:
        return None
    return dict(sorted(lag(ends, bus.committed(SCORING_GROUP, CITIZEN_EVENTS)).items()))


def dead_letters(bus: EventBus) -> int:
    """Records ever written to the dead-letter topic."""
    try:
        return sum(bus.end_offsets(CITIZEN_EVENTS_DLQ).values())
    except UnknownTopicError:
        return 0


def newest_scored_ms(bus: EventBus, codec: EventCodec) -> int | None:
    """The event time of the newest record the scoring group has committed (the last committed record
    of each partition, decoded; a partition whose last record was dead-lettered is passed over)."""
    try:
        committed = bus.committed(SCORING_GROUP, CITIZEN_EVENTS)
    except UnknownTopicError:
        return None
    times = []
    for partition, offset in committed.items():
        if offset > 0:
            try:
                record = bus.read_range(CITIZEN_EVENTS, partition, offset - 1, offset)[0]
                times.append(codec.decode(record.value)["timestamp"])
            except (OffsetRangeError, EventDecodeError):  # past the retention, or a dead letter
                continue
    return max(times, default=None)
