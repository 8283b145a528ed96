"""Decode and validate one chunk of bus records: scoreable events, and dead letters for the rest.

Whatever a producer sent, every record becomes exactly one of the two: nothing here raises for a record, so
no record can stop its partition. The checks, in order, and the dead letter's reason when one fails:

* ``tombstone``: the record has no value (a null value, Kafka's tombstone). The bus carries events only, and
  nothing is deleted by key (a topic compacted by key would lose history), so a tombstone is a mistake.
* the decoder's reason (``empty``, ``bad_magic``, ``truncated``, ``unknown_schema``, ``malformed_body``).
* ``invalid``: ``validate_event`` refuses the decoded event (the field and why are in the letter).
* ``key_mismatch``: the record's key is not its event's ``citizenId`` (a wrong key, or none).
* ``wrong_partition``: the key is right, but the record is not in the partition that key hashes to (Kafka's
  murmur2 over the topic's partition count, ``partitioner``): a producer that chose the partition itself, or
  used another partitioner (librdkafka's default, ``consistent_random``, hashes with CRC32).

The last two keep the one-writer-per-citizen rule: a partition's run is the only writer of its citizens
(``processor``), and it owns exactly the citizens whose ids hash to it. An event scored anywhere else would
make a second writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ddss_platform.events.codec import EventCodec, EventDecodeError
from ddss_platform.events.validation import EventValidationError, validate_event
from ddss_platform.processing.dead_letters import DeadLetter, dead_letter
from ddss_platform.scoring import SourcedEvent
from ddss_platform.stores.bus import BusRecord
from ddss_platform.stores.bus.partitioner import partition_for

TOMBSTONE = "tombstone"
KEY_MISMATCH = "key_mismatch"
WRONG_PARTITION = "wrong_partition"


@dataclass
class DecodedChunk:
    events: list[SourcedEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def decode_chunk(codec: EventCodec, records: list[BusRecord]) -> DecodedChunk:
    """Every record becomes an event or a dead letter (the checks of the module doc).

    "Now", for the check that an event's timestamp is not in the future, is the time the bus took the
    record (its record timestamp): a retried range then judges every record exactly as the first attempt."""
    out = DecodedChunk()
    valued = [record for record in records if record.value is not None]
    if len(valued) < len(records):
        out.dead_letters.extend(
            dead_letter(record, TOMBSTONE, "the record has no value (a tombstone)", None)
            for record in records
            if record.value is None
        )
    decoded = codec.decode_many([record.value for record in valued])
    for record, item in zip(valued, decoded):
        if isinstance(item, EventDecodeError):
            out.dead_letters.append(dead_letter(record, item.reason, item.detail, None))
            continue
        try:
            validate_event(item, record.timestamp_ms)
        except EventValidationError as exc:
            out.dead_letters.append(dead_letter(record, "invalid", exc.reason, exc.field))
            continue
        misplaced = misplaced_letter(record, item["citizenId"], "citizenId", "event")
        if misplaced is not None:
            out.dead_letters.append(misplaced)
            continue
        out.events.append(SourcedEvent(record.offset, item))
    out.dead_letters.sort(key=lambda letter: letter.source_offset)
    return out


def misplaced_letter(record: BusRecord, owner_id: str, field: str, what: str) -> DeadLetter | None:
    """The dead letter of a record whose key is not ``owner_id`` (the ``field`` of the decoded ``what``), or that is
    not in the partition that id hashes to; None for a record in its place."""
    if record.key != owner_id:
        detail = f"the record's key {_shown(record.key)} is not the {what}'s {field} {owner_id!r}"
        return dead_letter(record, KEY_MISMATCH, detail, field)
    owner = partition_for(owner_id, record.partition_count)
    if owner != record.partition:
        detail = (
            f"{field} {owner_id!r} hashes to partition {owner} of {record.partition_count}, "
            f"the record is in partition {record.partition}"
        )
        return dead_letter(record, WRONG_PARTITION, detail, field)
    return None


def _shown(key: str | None) -> str:
    if key is None:
        return "(none)"
    return repr(key) if len(key) <= 80 else f"{key[:80]!r}… ({len(key)} characters)"
