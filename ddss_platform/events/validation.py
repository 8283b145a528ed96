"""Semantic checks of a decoded (or hand-written) event, beyond what the Avro schema enforces.

A record can be valid Avro and still be nonsense for scoring: a severity of 7,
a timestamp next week, a relationship event without the related citizen.
``validate_event`` refuses those with the offending field and the reason.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from ddss_platform.events.vocabulary import EVENT_SUBTYPES, RELATIONSHIP_ACTIONS, RELATIONSHIP_TYPES

MAX_FUTURE_MS = 5 * 60 * 1000
"""How far past "now" an event's timestamp may lie (clock skew between producers)."""

_NEW_CITIZEN_TEXT_FIELDS = ("firstName", "lastName", "gender", "region", "city", "occupation")


class EventValidationError(ValueError):
    """An event refused by ``validate_event``: ``field`` is a dotted path, ``reason`` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _is_mapping(value: Any) -> bool:
    # decoded events are plain dicts: test for dict first, since the Mapping ABC check is ~20x slower
    return isinstance(value, dict) or isinstance(value, Mapping)


def validate_event(event: Mapping[str, Any], now_ms: int) -> None:
    """Raise ``EventValidationError`` for the first problem found; return None for a sound event."""
    if not _is_mapping(event):
        raise EventValidationError("event", f"expected an object, got {type(event).__name__}")
    for name in ("eventId", "citizenId", "sourceSystem"):
        _text(event, name, name)
    for name in ("citizenId", "sourceSystem"):
        _tag_safe(event[name], name)
    timestamp = _required(event, "timestamp", "timestamp")
    if not _is_int(timestamp) or timestamp < 0:
        raise EventValidationError("timestamp", f"expected epoch milliseconds ≥ 0, got {timestamp!r}")
    if timestamp > now_ms + MAX_FUTURE_MS:
        raise EventValidationError(
            "timestamp",
            f"{timestamp} is {(timestamp - now_ms) / 1000:.0f} s in the future (limit {MAX_FUTURE_MS // 1000} s)",
        )
    event_type = _required(event, "eventType", "eventType")
    if event_type not in EVENT_SUBTYPES:
        raise EventValidationError(
            "eventType", f"unknown type {event_type!r}; expected one of {sorted(EVENT_SUBTYPES)}"
        )
    subtype = event.get("eventSubtype")
    if subtype is not None and subtype not in EVENT_SUBTYPES[event_type]:
        raise EventValidationError(
            "eventSubtype",
            f"{subtype!r} is not a {event_type} subtype; expected one of {list(EVENT_SUBTYPES[event_type])}",
        )
    _unit_interval(event, "severity", "severity")
    _unit_interval(event, "confidence", "confidence")
    _check_location(event)
    _check_payload(event)
    _check_relationship(event, event_type)
    _check_new_citizen(event, event_type)


def _check_location(event: Mapping[str, Any]) -> None:
    location = _record(event, "location", "location")
    _text(location, "region", "location.region")
    _optional_text(location, "city", "location.city")
    for name in ("region", "city"):
        _tag_safe(location.get(name), f"location.{name}")
    for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
        value = location.get(name)
        if value is not None and not (_is_number(value) and -bound <= value <= bound):
            raise EventValidationError(
                f"location.{name}", f"expected a number in [-{bound:g}, {bound:g}], got {value!r}"
            )


def _check_payload(event: Mapping[str, Any]) -> None:
    payload = _record(event, "payload", "payload")
    amount = payload.get("amount")
    if amount is not None and not (_is_number(amount) and amount >= 0):
        raise EventValidationError("payload.amount", f"expected a finite number ≥ 0, got {amount!r}")
    _optional_text(payload, "description", "payload.description")
    _map_of(payload, "metadata", "payload.metadata", str, "a string")


def _type_block(event: Mapping[str, Any], event_type: str, name: str, owner_type: str) -> Mapping[str, Any] | None:
    """The event's ``name`` block: required on ``owner_type`` events, refused on any other type."""
    block = event.get(name)
    if event_type != owner_type:
        if block is not None:
            raise EventValidationError(name, f"only {owner_type} events carry it, this is {event_type}")
        return None
    if block is None:
        raise EventValidationError(name, f"a {owner_type} event needs the {name} block")
    return _record(event, name, name)


def _check_relationship(event: Mapping[str, Any], event_type: str) -> None:
    relationship = _type_block(event, event_type, "relationship", "relationship")
    if relationship is None:
        return
    related = _text(relationship, "relatedCitizenId", "relationship.relatedCitizenId")
    if related == event["citizenId"]:
        raise EventValidationError("relationship.relatedCitizenId", "a citizen cannot be related to themself")
    kind = _required(relationship, "relationshipType", "relationship.relationshipType")
    if kind not in RELATIONSHIP_TYPES:
        raise EventValidationError(
            "relationship.relationshipType", f"unknown type {kind!r}; expected one of {list(RELATIONSHIP_TYPES)}"
        )
    subtype = event.get("eventSubtype")
    if subtype is not None and subtype != kind:
        raise EventValidationError("eventSubtype", f"{subtype!r} differs from relationship.relationshipType {kind!r}")
    _unit_interval(relationship, "strength", "relationship.strength")
    action = _required(relationship, "action", "relationship.action")
    if action not in RELATIONSHIP_ACTIONS:
        raise EventValidationError(
            "relationship.action", f"expected one of {list(RELATIONSHIP_ACTIONS)}, got {action!r}"
        )


def _check_new_citizen(event: Mapping[str, Any], event_type: str) -> None:
    profile = _type_block(event, event_type, "newCitizen", "new_citizen")
    if profile is None:
        return
    for name in _NEW_CITIZEN_TEXT_FIELDS:
        _text(profile, name, f"newCitizen.{name}")
    born = _text(profile, "dateOfBirth", "newCitizen.dateOfBirth")
    try:
        birth = dt.date.fromisoformat(born) if len(born) == 10 else None
    except ValueError:
        birth = None
    if birth is None:
        raise EventValidationError("newCitizen.dateOfBirth", f"expected a YYYY-MM-DD date, got {born!r}")
    if birth > dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.UTC).date():
        raise EventValidationError("newCitizen.dateOfBirth", f"{born} is after the event's date")
    _map_of(profile, "flags", "newCitizen.flags", bool, "true or false")


def _required(record: Mapping[str, Any], name: str, path: str) -> Any:
    value = record.get(name)
    if value is None:
        raise EventValidationError(path, "required field is missing")
    return value


def _text(record: Mapping[str, Any], name: str, path: str) -> str:
    value = _required(record, name, path)
    if not isinstance(value, str) or not value.strip():
        raise EventValidationError(path, f"expected a non-empty string, got {value!r}")
    return value


def _optional_text(record: Mapping[str, Any], name: str, path: str) -> None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise EventValidationError(path, f"expected a string or null, got {value!r}")


def unsafe_tag_value(value: str | None) -> bool:
    """A value the time series cannot keep as a tag exactly: line protocol cannot carry a line break or a trailing
    backslash in one (a trailing backslash escapes the separator and swallows the next tag)."""
    return bool(value and (value.endswith("\\") or "\n" in value or "\r" in value))


def _tag_safe(value: str | None, path: str) -> None:
    if unsafe_tag_value(value):
        raise EventValidationError(path, f"{value!r}: cannot end with a backslash or hold a line break")


def _record(record: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    value = _required(record, name, path)
    if not _is_mapping(value):
        raise EventValidationError(path, f"expected an object, got {type(value).__name__}")
    return value


def _map_of(record: Mapping[str, Any], name: str, path: str, value_type: type, expected: str) -> None:
    """An optional Avro map: an object whose values are all of ``value_type``."""
    values = record.get(name, {})
    if not _is_mapping(values):
        raise EventValidationError(path, f"expected an object whose values are {expected}, got {type(values).__name__}")
    for key, value in values.items():
        if not isinstance(value, value_type):
            raise EventValidationError(f"{path}.{key}", f"expected {expected}, got {value!r}")


def _unit_interval(record: Mapping[str, Any], name: str, path: str) -> None:
    value = _required(record, name, path)
    if not (_is_number(value) and 0.0 <= value <= 1.0):
        raise EventValidationError(path, f"expected a number in [0, 1], got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (bool is not a number here; NaN and ±inf are not finite)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
