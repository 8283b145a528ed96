"""Dead letters: records a scoring run could not decode or validate, kept on citizen-events-dlq.

A dead letter is a JSON envelope (reason, the field when validation refused it, source topic,
partition, offset, key and timestamp, and the original bytes in base64). Its bus key names the
source partition, so every dead letter of one source partition lands in one DLQ partition in
source-offset order; a retried range reads that partition's tail to skip what it already wrote.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from ddss_platform.events.topics import CITIZEN_EVENTS_DLQ
from ddss_platform.stores.bus import EventBus
from ddss_platform.stores.bus.partitioner import partition_for

TAIL_BLOCK = 1_000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str  # a short stable code: bad_magic, truncated, unknown_schema, malformed_body, invalid, ...
    detail: str
    field: str | None  # the offending field when validation refused a decoded event
    source_topic: str
    source_partition: int
    source_offset: int
    source_key: str | None
    source_timestamp_ms: int
    original: bytes

    @property
    def bus_key(self) -> str:
        return dlq_key(self.source_topic, self.source_partition)

    def encode(self) -> bytes:
        body = asdict(self)
        body["original"] = base64.b64encode(self.original).decode("ascii")
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> DeadLetter:
        body = json.loads(value)
        body["original"] = base64.b64decode(body["original"])
        return cls(**body)


def dlq_key(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


def already_dead_lettered(bus: EventBus, topic: str, partition: int, first_offset: int) -> set[int]:
    """Source offsets ≥ first_offset of topic/partition already on the DLQ (left by a failed attempt).

    Reads the DLQ partition backwards in blocks and stops at the first dead letter of this source
    partition older than first_offset: ranges of a partition run in order, so nothing older follows."""
    key = dlq_key(topic, partition)
    dlq_partition = partition_for(key, len(bus.partitions(CITIZEN_EVENTS_DLQ)))
    position = bus.end_offsets(CITIZEN_EVENTS_DLQ)[dlq_partition]
    found: set[int] = set()
    while position > 0:
        low = max(0, position - TAIL_BLOCK)
        for record in reversed(bus.read_range(CITIZEN_EVENTS_DLQ, dlq_partition, low, position)):
            if record.key != key:
                continue
            offset = DeadLetter.decode(record.value).source_offset
            if offset < first_offset:
                return found
            found.add(offset)
        position = low
    return found


def produce_dead_letters(bus: EventBus, letters: Iterable[DeadLetter]) -> int:
    """Append the dead letters (each stamped with its source record's timestamp, so a retry writes the same bytes)."""
    return bus.produce(CITIZEN_EVENTS_DLQ, [(d.bus_key, d.encode(), d.source_timestamp_ms) for d in letters])


def read_dead_letters(bus: EventBus) -> list[DeadLetter]:
    """Every dead letter on the DLQ (for reports and tests; the DLQ is small by design)."""
    letters = []
    for partition, end in sorted(bus.end_offsets(CITIZEN_EVENTS_DLQ).items()):
        for chunk in bus.iter_range(CITIZEN_EVENTS_DLQ, partition, 0, end):
            letters.extend(DeadLetter.decode(record.value) for record in chunk)
    return letters
