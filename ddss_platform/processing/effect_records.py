"""The citizen-effects topic's records: routed effects as Avro CitizenEffect, keyed by the target citizen.

Decoding mirrors ``decoding``: every record becomes exactly one routed effect or one dead letter, so no
record can stop its partition. Reasons: the codec's (``empty``, ``bad_magic``, ``truncated``,
``unknown_schema``, ``malformed_body``), ``tombstone``, ``key_mismatch`` (the key is not the record's
target) and ``wrong_partition`` (the target does not hash to the record's partition: its owner is elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ddss_platform.events.codec import EventCodec, EventDecodeError
from ddss_platform.events.schema import CITIZEN_EFFECT_SCHEMA_JSON
from ddss_platform.processing.dead_letters import DeadLetter, dead_letter
from ddss_platform.processing.decoding import TOMBSTONE, misplaced_letter
from ddss_platform.scoring import EffectChange, RoutedEffect
from ddss_platform.stores.bus import BusRecord, ProduceRecord

EFFECT_CODEC = EventCodec(
    writer_schema=CITIZEN_EFFECT_SCHEMA_JSON,
    known_schemas=(CITIZEN_EFFECT_SCHEMA_JSON,),
    reader_schema=CITIZEN_EFFECT_SCHEMA_JSON,
)


def effect_records(effects: Sequence[RoutedEffect]) -> list[ProduceRecord]:
    encode = EFFECT_CODEC.encode
    return [
        (
            e.target_id,
            encode(
                {
                    "targetCitizenId": e.target_id,
                    "source": e.source,
                    "sourceOffset": e.source_offset,
                    "sourceEventId": e.event_id,
                    "eventTime": e.time_ms,
                    "changes": [{"ruleId": c.rule_id, "points": c.amount} for c in e.changes],
                }
            ),
        )
        for e in effects
    ]


@dataclass
class DecodedEffects:
    effects: list[RoutedEffect] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def decode_effects(records: list[BusRecord]) -> DecodedEffects:
    out = DecodedEffects()
    for record in records:
        if record.value is None:
            out.dead_letters.append(dead_letter(record, TOMBSTONE, "the record has no value (a tombstone)", None))
            continue
        try:
            body = EFFECT_CODEC.decode(record.value)
        except EventDecodeError as exc:
            out.dead_letters.append(dead_letter(record, exc.reason, exc.detail, None))
            continue
        target = body["targetCitizenId"]
        misplaced = misplaced_letter(record, target, "targetCitizenId", "effect")
        if misplaced is not None:
            out.dead_letters.append(misplaced)
            continue
        changes = tuple(EffectChange(c["ruleId"], c["points"]) for c in body["changes"])
        out.effects.append(
            RoutedEffect(
                target, body["source"], body["sourceOffset"], body["sourceEventId"], body["eventTime"], changes
            )
        )
    return out
