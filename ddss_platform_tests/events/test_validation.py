"""validate_event: semantic rejections name the field and the reason."""

from __future__ import annotations

import copy
import math

import pytest

from ddss_platform.events.validation import MAX_FUTURE_MS, EventValidationError, validate_event
from ddss_platform_tests.events.samples import EVENTS_BY_KIND, NOW_MS


def test_every_simulated_kind_is_valid(any_event):
    validate_event(any_event, NOW_MS)


_DELETE = object()


def _set(event: dict, path: str, value) -> dict:
    event = copy.deepcopy(event)
    *parents, leaf = path.split(".")
    target = event
    for name in parents:
        target = target[name]
    if value is _DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return event


CASES = [
    ("violation", "citizenId", _DELETE, "citizenId", "missing"),
    ("violation", "eventId", "", "eventId", "non-empty"),
    ("violation", "timestamp", "yesterday", "timestamp", "milliseconds"),
    ("violation", "timestamp", NOW_MS + MAX_FUTURE_MS + 1, "timestamp", "future"),
    ("violation", "eventType", "gossip", "eventType", "unknown type"),
    ("violation", "eventSubtype", "volunteering", "eventSubtype", "not a legal subtype"),
    ("violation", "severity", math.nan, "severity", "[0, 1]"),
    ("violation", "severity", 1.01, "severity", "[0, 1]"),
    ("violation", "severity", -0.1, "severity", "[0, 1]"),
    ("violation", "severity", True, "severity", "[0, 1]"),
    ("violation", "confidence", math.inf, "confidence", "[0, 1]"),
    ("violation", "confidence", _DELETE, "confidence", "missing"),
    ("violation", "location", _DELETE, "location", "missing"),
    ("violation", "location.region", _DELETE, "location.region", "missing"),
    # fields kept as time-series tags: line protocol cannot carry these exactly
    ("violation", "citizenId", "CIT00000001\\", "citizenId", "backslash"),
    ("violation", "sourceSystem", "bank\nx=1", "sourceSystem", "line break"),
    ("violation", "location.region", "North\\", "location.region", "backslash"),
    ("violation", "location.city", "Old\r\nTown", "location.city", "line break"),
    ("violation", "location.latitude", 95.0, "location.latitude", "[-90, 90]"),
    ("violation", "payload.metadata.kind", 3, "payload.metadata.kind", "string"),
    ("payment_completed", "payload.amount", -5.0, "payload.amount", "≥ 0"),
    ("relationship_start", "relationship", None, "relationship", "needs the relationship block"),
    ("relationship_start", "relationship.relationshipType", "enemy", "relationship.relationshipType", "unknown"),
    ("relationship_start", "relationship.strength", 2.0, "relationship.strength", "[0, 1]"),
    ("relationship_start", "relationship.action", "PAUSE", "relationship.action", "START"),
    ("relationship_start", "relationship.relatedCitizenId", _DELETE, "relationship.relatedCitizenId", "missing"),
    ("registration", "newCitizen", None, "newCitizen", "needs the newCitizen block"),
    ("registration", "newCitizen.dateOfBirth", "31/12/1990", "newCitizen.dateOfBirth", "YYYY-MM-DD"),
    ("registration", "newCitizen.dateOfBirth", "2999-01-01", "newCitizen.dateOfBirth", "after the event"),
    ("registration", "newCitizen.flags", {"isVeteran": "yes"}, "newCitizen.flags.isVeteran", "true or false"),
    ("registration", "newCitizen.lastName", " ", "newCitizen.lastName", "non-empty"),
    ("volunteering", "relationship", {"relatedCitizenId": "CIT00000002"}, "relationship", "only relationship"),
]


@pytest.mark.parametrize(
    ("kind", "path", "value", "field", "reason"), CASES, ids=[f"{c[0]}:{c[1]}={c[2]!r}"[:60] for c in CASES]
)
def test_bad_events_are_refused_with_field_and_reason(kind, path, value, field, reason):
    with pytest.raises(EventValidationError) as refused:
        validate_event(_set(EVENTS_BY_KIND[kind], path, value), NOW_MS)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_related_citizen_must_differ():
    event = EVENTS_BY_KIND["relationship_start"]
    with pytest.raises(EventValidationError, match="themself"):
        validate_event(_set(event, "relationship.relatedCitizenId", event["citizenId"]), NOW_MS)


def test_slight_clock_skew_is_accepted():
    validate_event(_set(EVENTS_BY_KIND["violation"], "timestamp", NOW_MS + MAX_FUTURE_MS), NOW_MS)
