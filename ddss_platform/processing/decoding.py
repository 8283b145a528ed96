"""Decode and validate one chunk of bus records: scoreable events, and dead letters for the rest."""

from __future__ import annotations

from dataclasses import dataclass, field

from ddss_platform.events.codec import EventCodec, EventDecodeError
from ddss_platform.events.validation import EventValidationError, validate_event
from ddss_platform.processing.dead_letters import DeadLetter
from ddss_platform.scoring import SourcedEvent
from ddss_platform.stores.bus import BusRecord


@dataclass
class DecodedChunk:
    events: list[SourcedEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def decode_chunk(codec: EventCodec, records: list[BusRecord]) -> DecodedChunk:
    """Every record becomes an event or a dead letter.

    "Now", for the check that an event's timestamp is not in the future, is the time the bus took the
    record (its record timestamp): a retried range then judges every record exactly as the first attempt."""
    out = DecodedChunk()
    decoded = codec.decode_many([record.value for record in records])
    for record, item in zip(records, decoded):
        if isinstance(item, EventDecodeError):
            out.dead_letters.append(_dead_letter(record, item.reason, item.detail, None))
            continue
        try:
            validate_event(item, record.timestamp_ms)
        except EventValidationError as exc:
            out.dead_letters.append(_dead_letter(record, "invalid", exc.reason, exc.field))
            continue
        out.events.append(SourcedEvent(record.offset, item))
    return out


def _dead_letter(record: BusRecord, reason: str, detail: str, field_: str | None) -> DeadLetter:
    return DeadLetter(
        reason=reason,
        detail=detail,
        field=field_,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_key=record.key,
        source_timestamp_ms=record.timestamp_ms,
        original=bytes(record.value),
    )
