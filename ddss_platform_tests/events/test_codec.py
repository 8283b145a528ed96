"""Codec: round trips of every event kind, schema identity in each message, rejection of garbage."""

from __future__ import annotations

import pytest

from ddss_platform.events.codec import (
    BadMagicError,
    EmptyMessageError,
    EventCodec,
    EventDecodeError,
    MalformedBodyError,
    TruncatedMessageError,
    UnknownSchemaError,
)
from ddss_platform.events.schema import CITIZEN_EVENT_SCHEMA_JSON, CITIZEN_EVENT_V1_SCHEMA_JSON, crc64_fingerprint
from ddss_platform_tests.events.samples import EVENTS_BY_KIND

codec = EventCodec()


def test_every_event_kind_round_trips(any_event):
    assert codec.decode(codec.encode(any_event)) == any_event


def test_single_object_header_names_the_schema(any_event):
    value = codec.encode(any_event)
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == crc64_fingerprint(CITIZEN_EVENT_SCHEMA_JSON)


def test_fingerprint_is_crc64_avro_of_the_canonical_form():
    # Avro spec: the fingerprint of the schema "int" is 0x7275d51a3f395c8f (written little-endian).
    assert crc64_fingerprint("int") == (0x7275D51A3F395C8F).to_bytes(8, "little")
    assert crc64_fingerprint(CITIZEN_EVENT_SCHEMA_JSON) != crc64_fingerprint(CITIZEN_EVENT_V1_SCHEMA_JSON)


def test_decode_many_returns_an_entry_per_value():
    good = [codec.encode(e) for e in EVENTS_BY_KIND.values()]
    results = codec.decode_many([good[0], b"", b"garbage", good[1]])
    assert results[0] == codec.decode(good[0]) and results[3] == codec.decode(good[1])
    assert isinstance(results[1], EmptyMessageError) and isinstance(results[2], BadMagicError)


def _valid() -> bytes:
    return codec.encode(EVENTS_BY_KIND["violation"])


@pytest.mark.parametrize(
    ("value", "error", "reason"),
    [
        (b"", EmptyMessageError, "empty"),
        (b'{"citizenId": "CIT00000001"}', BadMagicError, "bad_magic"),
        (b"\xc3\x02" + bytes(8) + b"\x00", BadMagicError, "bad_magic"),
        (b"\xc3", TruncatedMessageError, "truncated"),
        (b"\xc3\x01\x00\x01", TruncatedMessageError, "truncated"),
        (b"\xc3\x01" + bytes(8) + b"\x02ab", UnknownSchemaError, "unknown_schema"),
        (b"\x00\x00\x00", TruncatedMessageError, "truncated"),
        (b"\x00\x00\x00\x00\x07\x02ab", UnknownSchemaError, "unknown_schema"),  # wire format, no registry
        (_valid()[:-3], TruncatedMessageError, "truncated"),
        (_valid()[:10], TruncatedMessageError, "truncated"),
        (_valid() + b"\x00\x01", MalformedBodyError, "malformed_body"),
        # eventId declared as 2 bytes that are not UTF-8
        (_valid()[:10] + b"\x04\xff\xfe" + _valid()[12:], MalformedBodyError, "malformed_body"),
    ],
    ids=[
        "empty",
        "json",
        "bad-second-magic",
        "one-byte",
        "short-header",
        "unknown-fingerprint",
        "short-wire-header",
        "wire-without-registry",
        "cut-body",
        "header-only",
        "trailing-bytes",
        "bad-utf8",
    ],
)
def test_garbage_is_rejected_with_a_typed_reason(value, error, reason):
    with pytest.raises(error) as raised:
        codec.decode(value)
    assert isinstance(raised.value, EventDecodeError)
    assert raised.value.reason == reason
    assert str(raised.value).startswith(reason)


def test_random_bytes_never_decode():
    import random

    rng = random.Random(11)
    for _ in range(2000):
        value = rng.randbytes(rng.randint(0, 120))
        with pytest.raises(EventDecodeError):
            codec.decode(value)


def test_valid_avro_of_a_foreign_schema_is_an_unknown_schema():
    foreign = {"type": "record", "name": "Other", "fields": [{"name": "x", "type": "long"}]}
    writer = EventCodec(writer_schema=foreign, known_schemas=())
    with pytest.raises(UnknownSchemaError):
        codec.decode(writer.encode({"x": 1}))


def test_a_double_field_keeps_nan_for_validation_to_reject():
    event = {**EVENTS_BY_KIND["violation"], "severity": float("nan")}
    decoded = codec.decode(codec.encode(event))
    assert decoded["severity"] != decoded["severity"]


def test_encoded_body_is_plain_avro_after_the_header():
    from io import BytesIO

    from fastavro import schemaless_reader

    event = EVENTS_BY_KIND["payment_failed"]
    body = codec.encode(event)[10:]
    assert schemaless_reader(BytesIO(body), CITIZEN_EVENT_SCHEMA_JSON, None) == event
