"""Schema evolution: v2 adds optional fields, so old readers read new data and new readers read old data."""

from __future__ import annotations

from io import BytesIO

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from ddss_platform.events.codec import EventCodec
from ddss_platform.events.schema import CITIZEN_EVENT_SCHEMA, CITIZEN_EVENT_V1_SCHEMA, CITIZEN_EVENT_V1_SCHEMA_JSON

V2_ONLY = ("relationship", "newCitizen")


def _v1_view(event: dict) -> dict:
    return {k: v for k, v in event.items() if k not in V2_ONLY}


def test_old_data_decodes_with_the_new_reader(any_event):
    old_event = _v1_view(any_event)
    old_writer = EventCodec(writer_schema=CITIZEN_EVENT_V1_SCHEMA_JSON)
    value = old_writer.encode(old_event)
    decoded = EventCodec().decode(value)  # a current consumer
    assert decoded == {**old_event, "relationship": None, "newCitizen": None}


def test_new_data_decodes_with_the_old_reader(any_event):
    body = BytesIO()
    schemaless_writer(body, CITIZEN_EVENT_SCHEMA, any_event)
    body.seek(0)
    assert schemaless_reader(body, CITIZEN_EVENT_SCHEMA, CITIZEN_EVENT_V1_SCHEMA) == _v1_view(any_event)


def test_fastavro_resolution_fills_the_new_defaults_field_by_field():
    body = BytesIO()
    old_event = {
        "eventId": "e-1",
        "citizenId": "CIT00000001",
        "timestamp": 1,
        "eventType": "social",
        "sourceSystem": "civic-portal",
        "location": {"region": "North"},
        "severity": 0.1,
        "confidence": 0.9,
        "payload": {"metadata": {}},
    }
    schemaless_writer(body, CITIZEN_EVENT_V1_SCHEMA, old_event)
    body.seek(0)
    event = schemaless_reader(body, CITIZEN_EVENT_V1_SCHEMA, CITIZEN_EVENT_SCHEMA)
    assert event["relationship"] is None and event["newCitizen"] is None
    assert event["eventSubtype"] is None and event["location"]["city"] is None


def test_v2_only_adds_optional_fields_with_null_defaults():
    v1 = {f["name"]: f for f in parse_schema(CITIZEN_EVENT_V1_SCHEMA_JSON)["fields"]}
    v2 = {f["name"]: f for f in CITIZEN_EVENT_SCHEMA["fields"]}
    assert set(v2) - set(v1) == set(V2_ONLY)
    for name in V2_ONLY:
        assert v2[name]["default"] is None and v2[name]["type"][0] == "null"
