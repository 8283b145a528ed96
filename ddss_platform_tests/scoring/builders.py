"""Small builders of rule/config documents, events and states for the scoring tests."""

from __future__ import annotations

import copy
from typing import Any

from ddss_platform.scoring import CitizenState, SourcedEvent, load_configuration, load_rules

TP = "citizen-events/0"
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
DAY_MS = 86_400_000

CONFIG_DOC: dict[str, Any] = {
    "configID": "test-config",
    "activeRuleSet": "test-set",
    "baselineScore": 500.0,
    "minScore": 0.0,
    "maxScore": 1000.0,
    "tierDefinitions": [
        {"tierName": "Exemplary", "minScore": 600.0, "maxScore": 1000.0},
        {"tierName": "HighRisk", "minScore": 0.0, "maxScore": 300.0},
        {"tierName": "Standard", "minScore": 450.0, "maxScore": 600.0},
        {"tierName": "Caution", "minScore": 300.0, "maxScore": 450.0},
    ],
    "scoreDecayPolicy": {"pointsPerDay": 2.0, "towardsBaseline": True, "minimumScore": None},
    "status": "ACTIVE",
    "metadata": {"version": 1, "createdAt": T0, "updatedAt": T0, "author": "tests"},
}


def config_doc(**overrides: Any) -> dict[str, Any]:
    doc = copy.deepcopy(CONFIG_DOC)
    doc.update(overrides)
    return doc


def config(**overrides: Any):
    return load_configuration(config_doc(**overrides))


def condition(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def rule_doc(rule_id: str = "TEST_RULE", **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ruleID": rule_id,
        "name": rule_id.replace("_", " ").title(),
        "category": "FINANCIAL",
        "eventType": "financial",
        "eventSubtype": [],
        "conditionLogic": {"type": "SIMPLE", "conditions": [condition("payload.amount", "EXISTS", True)]},
        "points": 10.0,
        "multipliers": [],
        "tags": [],
        "status": "ACTIVE",
        "ruleSet": "test-set",
        "validityPeriod": {"from": 0, "to": None},
        "metadata": {"version": 1, "createdAt": T0, "updatedAt": T0, "author": "tests"},
    }
    doc.update(overrides)
    return doc


def rules(*docs: dict[str, Any]):
    return load_rules(docs)


def event(
    citizen: str = "C1",
    event_type: str = "financial",
    subtype: str | None = "payment_completed",
    time_ms: int = T0,
    event_id: str | None = None,
    confidence: float = 1.0,
    severity: float = 0.5,
    amount: float | None = 100.0,
    metadata: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    doc = {
        "eventId": event_id or f"{citizen}-{time_ms}",
        "citizenId": citizen,
        "timestamp": time_ms,
        "eventType": event_type,
        "eventSubtype": subtype,
        "sourceSystem": "tests",
        "location": {"region": "North", "city": "Harbor City", "latitude": None, "longitude": None},
        "severity": severity,
        "confidence": confidence,
        "payload": {"amount": amount, "description": "test event", "metadata": dict(metadata or {})},
        "relationship": None,
        "newCitizen": None,
    }
    doc.update(extra)
    return doc


def sourced(*events: dict[str, Any], start: int = 0) -> list[SourcedEvent]:
    return [SourcedEvent(start + index, ev) for index, ev in enumerate(events)]


def citizen(
    citizen_id: str = "C1",
    score: float = 500.0,
    flags: dict[str, bool] | None = None,
    applied: dict[str, int] | None = None,
) -> CitizenState:
    return CitizenState(citizen_id, score, "Standard", dict(flags or {}), dict(applied or {}))


def relationship(citizen_id: str, related: str, kind: str, action: str, time_ms: int, strength: float = 0.5):
    return event(
        citizen_id,
        "relationship",
        kind,
        time_ms,
        amount=None,
        relationship={"relatedCitizenId": related, "relationshipType": kind, "strength": strength, "action": action},
    )
