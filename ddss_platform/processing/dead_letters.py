"""Dead letters: records a scoring run could not decode or validate, kept on citizen-events-dlq.

A dead letter is a JSON envelope (reason, the field when validation refused it, source topic,
partition, offset, key and timestamp, and the original bytes in base64). Its bus key names the
source partition, so every dead letter of one source partition lands in one DLQ partition in
source-offset order; a retried range reads that partition's tail to skip what it already wrote.

A letter whose envelope would exceed ``MAX_LETTER_BYTES`` (the original near the broker's message limit, or a
huge key) is cut to fit: it keeps the first ``KEPT_ORIGINAL_BYTES`` of the original with the original's length
(``original_length``) and SHA-256 (``original_sha256``), the first ``KEPT_TEXT_CHARS`` of its key, detail and
field, and its detail says what was cut. Both fields are null in a letter that holds its original whole. The
cut is a function of the record alone, so a retried range writes the same bytes and finds them on the tail.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

from ddss_platform.events.topics import CITIZEN_EVENTS_DLQ
from ddss_platform.stores.bus import BusRecord, EventBus
from ddss_platform.stores.bus.partitioner import partition_for

TAIL_BLOCK = 1_000
MAX_LETTER_BYTES = 512 * 1024
"""The largest envelope produced whole. Kafka refuses larger messages at about 1 MB (the broker's
message.max.bytes, 1048588 by default; librdkafka's, 1000000), and base64 makes the original 4/3 as large: a
record near the broker's limit cannot come back whole. Half a megabyte stays clear of both limits."""
KEPT_ORIGINAL_BYTES = 64 * 1024
KEPT_TEXT_CHARS = 1_024


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
    original_length: int | None = None  # set when the letter keeps only a prefix of the original
    original_sha256: str | None = None

    @property
    def cut(self) -> bool:
        """Whether the letter keeps only a prefix of the original (see the module doc)."""
        return self.original_length is not None

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


def dead_letter(record: BusRecord, reason: str, detail: str, field: str | None) -> DeadLetter:
    """The dead letter of ``record``, cut to fit ``MAX_LETTER_BYTES`` when it must be."""
    original = record.value or b""
    letter = DeadLetter(
        reason=reason,
        detail=detail,
        field=field,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_key=record.key,
        source_timestamp_ms=record.timestamp_ms,
        original=bytes(original),
    )
    if len(letter.encode()) <= MAX_LETTER_BYTES:
        return letter
    key = record.key or ""
    cuts = [f"the first {min(len(original), KEPT_ORIGINAL_BYTES)} of {len(original)} original bytes"]
    if len(key) > KEPT_TEXT_CHARS:
        cuts.append(f"the first {KEPT_TEXT_CHARS} of {len(key)} key characters")
    return replace(
        letter,
        detail=f"{_prefix(detail)} (dead letter cut to fit the bus: it keeps {' and '.join(cuts)})",
        field=None if field is None else _prefix(field),
        source_key=None if record.key is None else _prefix(record.key),
        original=letter.original[:KEPT_ORIGINAL_BYTES],
        original_length=len(original),
        original_sha256=hashlib.sha256(original).hexdigest(),
    )


def _prefix(text: str) -> str:
    return text if len(text) <= KEPT_TEXT_CHARS else text[:KEPT_TEXT_CHARS] + "…"


def _readable(value: bytes | None) -> DeadLetter | None:
    """The dead letter in a DLQ record; None for a record that is not one (another producer's, a tombstone):
    the DLQ is a topic like any other, and what others write there must not stop a run."""
    try:
        return DeadLetter.decode(value or b"")
    except (ValueError, TypeError, KeyError):  # binascii.Error and JSONDecodeError are ValueErrors
        return None


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
            letter = _readable(record.value) if record.key == key else None
            if letter is None:
                continue
            if letter.source_offset < first_offset:
                return found
            found.add(letter.source_offset)
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
            letters.extend(letter for record in chunk if (letter := _readable(record.value)) is not None)
    return letters
