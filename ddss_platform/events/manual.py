"""Hand-written events (``ddss emit``): complete them, then refuse anything the scoring would choke on."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from fastavro.validation import ValidationError, validate

from ddss_platform.events.codec import Event
from ddss_platform.events.schema import CITIZEN_EVENT_SCHEMA, CITIZEN_EVENT_SCHEMA_JSON
from ddss_platform.events.validation import EventValidationError, validate_event
from ddss_platform.events.vocabulary import MANUAL_SOURCE_SYSTEM


def parse_event_json(text: str) -> Mapping[str, Any]:
    """One event from JSON text; malformed JSON is a validation error of the whole event."""
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventValidationError("event", f"not valid JSON ({exc})") from None
    if not isinstance(event, dict):
        raise EventValidationError("event", f"expected a JSON object, got {type(event).__name__}")
    return event


def prepare_manual_event(raw: Mapping[str, Any], now_ms: int, new_event_id: Callable[[], str]) -> Event:
    """The event ready to encode: eventId, timestamp, sourceSystem and the schema's defaults filled in
    where absent; raises ``EventValidationError`` (field, reason) when it is not a sound event."""
    event = dict(raw)
    event.setdefault("eventId", new_event_id())
    event.setdefault("timestamp", now_ms)
    event.setdefault("sourceSystem", MANUAL_SOURCE_SYSTEM)
    event.setdefault("payload", {})
    _refuse_unknown_fields(event, CITIZEN_EVENT_SCHEMA_JSON, "")
    event = _with_defaults(event, CITIZEN_EVENT_SCHEMA_JSON)
    validate_event(event, now_ms)
    try:
        validate(event, CITIZEN_EVENT_SCHEMA, raise_errors=True)
    except ValidationError as exc:
        problem = exc.errors[0]
        raise EventValidationError(str(problem.field), f"{problem.datum!r} does not fit the schema type") from None
    return event


def _records_in(schema: Any) -> list[dict]:
    """The record schemas a field's type allows (itself, or the record branches of a union)."""
    branches = schema if isinstance(schema, list) else [schema]
    return [b for b in branches if isinstance(b, dict) and b.get("type") == "record"]


def _refuse_unknown_fields(datum: Any, schema: Any, path: str) -> None:
    """A misspelt field would be dropped silently by the Avro writer; refuse it instead."""
    if not isinstance(datum, Mapping):
        return
    for record in _records_in(schema):
        fields = {f["name"]: f["type"] for f in record["fields"]}
        for key, value in datum.items():
            if key not in fields:
                raise EventValidationError(f"{path}{key}", f"unknown field; expected one of {sorted(fields)}")
            _refuse_unknown_fields(value, fields[key], f"{path}{key}.")


def _with_defaults(datum: Any, schema: Any) -> Any:
    if not isinstance(datum, Mapping):
        return datum
    for record in _records_in(schema):
        out = dict(datum)
        for field in record["fields"]:
            name = field["name"]
            if name in out:
                out[name] = _with_defaults(out[name], field["type"])
            elif "default" in field:
                out[name] = copy.deepcopy(field["default"])
        return out
    return datum
