"""The CitizenEvent Avro schemas (files under ``schemas/``) and their fingerprints.

Version 2 (``citizen_event.avsc``) is what we write and read; version 1 is the
original producer's schema, kept because data written with it must stay readable.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def load_schema_json(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text())


def crc64_fingerprint(schema_json: dict) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of the schema's parsing canonical form,
    as Avro single-object encoding writes it."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema_json), "CRC-64-AVRO"))


CITIZEN_EVENT_SCHEMA_JSON: dict = load_schema_json("citizen_event.avsc")
CITIZEN_EVENT_V1_SCHEMA_JSON: dict = load_schema_json("citizen_event.v1.avsc")

CITIZEN_EVENT_SCHEMA = parse_schema(CITIZEN_EVENT_SCHEMA_JSON)
CITIZEN_EVENT_V1_SCHEMA = parse_schema(CITIZEN_EVENT_V1_SCHEMA_JSON)

CITIZEN_EFFECT_SCHEMA_JSON: dict = load_schema_json("citizen_effect.avsc")
"""The citizen-effects topic's records (single-object encoded: the topic is internal to the scoring runs)."""

# Every version a consumer can decode without a registry, newest first.
KNOWN_SCHEMAS_JSON: tuple[dict, ...] = (CITIZEN_EVENT_SCHEMA_JSON, CITIZEN_EVENT_V1_SCHEMA_JSON)
