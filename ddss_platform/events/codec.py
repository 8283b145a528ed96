"""Avro codec for citizen events: every message names the schema it was written with.

Two framings, both decoded by every codec so a consumer reads any version that
was ever written:

* Avro single-object encoding (no registry): ``C3 01`` + the writer schema's
  8-byte little-endian CRC-64-AVRO fingerprint + the Avro body.
* Confluent wire format (``DDSS_SCHEMA_REGISTRY_URL`` set, e.g. Redpanda's
  registry): ``00`` + the 4-byte big-endian registry schema id + the Avro body.

Bodies are read with the newest schema as the reader schema, so older data
comes back with the newer optional fields set to their defaults.

The codec is pure; the registry is reached only through the ``SchemaRegistry``
port handed in (``ddss_platform.stores.bus.registry`` is the HTTP adapter).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any, Protocol, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from ddss_platform.events.schema import (
    CITIZEN_EVENT_SCHEMA_JSON,
    KNOWN_SCHEMAS_JSON,
    crc64_fingerprint,
)

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
SINGLE_OBJECT_HEADER_LEN = 10
CONFLUENT_MAGIC = 0
CONFLUENT_HEADER_LEN = 5

Event = dict[str, Any]


class EventDecodeError(ValueError):
    """A message that cannot be decoded. ``reason`` is a stable short code (for the DLQ and metrics);
    the message says what exactly was wrong."""

    reason = "undecodable"

    def __init__(self, detail: str):
        super().__init__(f"{self.reason}: {detail}")
        self.detail = detail


class EmptyMessageError(EventDecodeError):
    reason = "empty"


class BadMagicError(EventDecodeError):
    reason = "bad_magic"


class TruncatedMessageError(EventDecodeError):
    reason = "truncated"


class UnknownSchemaError(EventDecodeError):
    reason = "unknown_schema"


class MalformedBodyError(EventDecodeError):
    reason = "malformed_body"


class SchemaRegistry(Protocol):
    """A schema registry (Confluent REST API); ids are registry-wide."""

    def register(self, schema_json: str) -> int:
        """Register (or look up) the schema under the codec's subject; returns its id."""

    def schema(self, schema_id: int) -> str | None:
        """The schema text registered under the id, or None when the registry has no such id."""


class EventCodec:
    """Encodes events with one writer schema; decodes messages written with any known schema, read as
    ``reader_schema`` (CitizenEvent by default; the effects topic's codec reads CitizenEffect)."""

    def __init__(
        self,
        registry: SchemaRegistry | None = None,
        writer_schema: dict = CITIZEN_EVENT_SCHEMA_JSON,
        known_schemas: Iterable[dict] = KNOWN_SCHEMAS_JSON,
        reader_schema: dict = CITIZEN_EVENT_SCHEMA_JSON,
    ):
        self.registry = registry
        self._writer_json = writer_schema
        self._writer = parse_schema(writer_schema)
        self._reader = cast(dict, parse_schema(reader_schema))
        self._reader_fingerprint = crc64_fingerprint(reader_schema)
        # fingerprint -> (parsed writer schema, reader schema for fastavro; None = same as writer, no resolution)
        self._by_fingerprint: dict[bytes, tuple[dict, dict | None]] = {}
        for schema_json in (writer_schema, *known_schemas):
            self._by_fingerprint[crc64_fingerprint(schema_json)] = self._reading_pair(schema_json)
        self._by_id: dict[int, tuple[dict, dict | None]] = {}
        self._header: bytes | None = None

    def _reading_pair(self, schema_json: dict) -> tuple[dict, dict | None]:
        if crc64_fingerprint(schema_json) == self._reader_fingerprint:
            return self._reader, None
        return cast(dict, parse_schema(schema_json)), self._reader

    @property
    def header(self) -> bytes:
        """The framing prefix of every message this codec writes (registers the schema on first use)."""
        if self._header is None:
            if self.registry is None:
                self._header = SINGLE_OBJECT_MAGIC + crc64_fingerprint(self._writer_json)
            else:
                schema_id = self.registry.register(json.dumps(self._writer_json))
                self._by_id[schema_id] = self._reading_pair(self._writer_json)
                self._header = bytes([CONFLUENT_MAGIC]) + schema_id.to_bytes(4, "big")
        return self._header

    def encode(self, event: Event) -> bytes:
        """Frame + Avro body. The event must conform to the writer schema (see ``validate_event``)."""
        out = BytesIO()
        out.write(self.header)
        schemaless_writer(out, self._writer, event)
        return out.getvalue()

    def decode(self, value: bytes) -> Event:
        """The event as a dict of the newest schema's shape; raises an ``EventDecodeError`` subclass."""
        writer, reader, start = self._writer_for(value)
        fo = BytesIO(value)
        fo.seek(start)
        try:
            event = cast(Event, schemaless_reader(fo, writer, reader))
        except EOFError:
            raise TruncatedMessageError(f"the Avro body ends early ({len(value)} bytes)") from None
        except SchemaResolutionError as exc:
            raise UnknownSchemaError(f"the writer schema cannot be read as {self._reader['name']}: {exc}") from None
        except Exception as exc:  # fastavro raises many types (UnicodeDecodeError, IndexError, …) on garbage
            raise MalformedBodyError(f"{type(exc).__name__}: {exc}") from None
        if fo.tell() != len(value):
            raise MalformedBodyError(f"{len(value) - fo.tell()} bytes left after the record")
        return event

    def decode_many(self, values: Iterable[bytes]) -> list[Event | EventDecodeError]:
        """Decode a batch: one entry per value, the event or the error that value raised."""
        out: list[Event | EventDecodeError] = []
        append = out.append
        decode = self.decode
        with _gc_paused():
            for value in values:
                try:
                    append(decode(value))
                except EventDecodeError as exc:
                    append(exc)
        return out

    def _writer_for(self, value: bytes) -> tuple[dict, dict | None, int]:
        if not value:
            raise EmptyMessageError("the message has no bytes")
        magic = value[0]
        if magic == SINGLE_OBJECT_MAGIC[0]:
            if len(value) < SINGLE_OBJECT_HEADER_LEN:
                if len(value) > 1 and value[1] != SINGLE_OBJECT_MAGIC[1]:
                    raise BadMagicError(f"single-object marker C3 followed by {value[1]:02X}, expected 01")
                raise TruncatedMessageError(f"{len(value)} bytes, shorter than the single-object header")
            if value[1] != SINGLE_OBJECT_MAGIC[1]:
                raise BadMagicError(f"single-object marker C3 followed by {value[1]:02X}, expected 01")
            pair = self._by_fingerprint.get(value[2:SINGLE_OBJECT_HEADER_LEN])
            if pair is None:
                raise UnknownSchemaError(f"no known schema has fingerprint {value[2:10].hex()}")
            return pair[0], pair[1], SINGLE_OBJECT_HEADER_LEN
        if magic == CONFLUENT_MAGIC:
            if len(value) < CONFLUENT_HEADER_LEN:
                raise TruncatedMessageError(f"{len(value)} bytes, shorter than the wire-format header")
            schema_id = int.from_bytes(value[1:CONFLUENT_HEADER_LEN], "big")
            pair = self._by_id.get(schema_id) or self._fetch(schema_id)
            return pair[0], pair[1], CONFLUENT_HEADER_LEN
        raise BadMagicError(f"first byte {magic:02X} is neither single-object (C3) nor wire-format (00)")

    def _fetch(self, schema_id: int) -> tuple[dict, dict | None]:
        if self.registry is None:
            raise UnknownSchemaError(f"wire-format schema id {schema_id}, but no schema registry is configured")
        # Registry I/O errors propagate as they are: an unreachable registry is not a bad message.
        text = self.registry.schema(schema_id)
        if text is None:
            raise UnknownSchemaError(f"the registry has no schema id {schema_id}")
        try:
            pair = self._reading_pair(json.loads(text))
        except Exception as exc:
            raise UnknownSchemaError(f"registry schema id {schema_id} is unusable: {exc}") from None
        self._by_id[schema_id] = pair
        return pair


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector during a bulk decode. A batch allocates a burst of
    dicts that triggers generational passes (about a fifth of the decode time), yet decoded events
    hold no reference cycles, so those passes free nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
