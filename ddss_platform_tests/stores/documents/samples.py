"""Small valid documents of each collection for the documents tests."""

from __future__ import annotations

from ddss_platform.stores.documents import new_citizen_document

T0 = 1_735_689_600_000  # 2025-01-01


def citizen(national_id: str, score: float = 500.0, tier: str = "Standard", region: str = "North", **flags) -> dict:
    return new_citizen_document(
        national_id,
        {
            "firstName": "Ada",
            "lastName": "Novak",
            "dateOfBirth": "1980-02-03",
            "gender": "female",
            "region": region,
            "city": "Harbor City",
            "occupation": "nurse",
        },
        {"isPublicOfficial": False, "consentForDataProcessing": True, **flags},
        score,
        tier,
        T0,
        {"email": f"{national_id.lower()}@example.org", "phone": "+00 1234"},
    )


def configuration(config_id: str = "cfg-1", status: str = "ACTIVE", updated_at: int = T0) -> dict:
    return {
        "configID": config_id,
        "name": "test configuration",
        "activeRuleSet": "default",
        "baselineScore": 500.0,
        "minScore": 0.0,
        "maxScore": 1000.0,
        "tierDefinitions": [
            {"tierName": "HighRisk", "minScore": 0.0, "maxScore": 300.0},
            {"tierName": "Caution", "minScore": 300.0, "maxScore": 500.0},
            {"tierName": "Standard", "minScore": 500.0, "maxScore": 800.0},
            {"tierName": "Exemplary", "minScore": 800.0, "maxScore": 1000.0},
        ],
        "scoreDecayPolicy": {"pointsPerDay": 1.0, "towardsBaseline": True},
        "status": status,
        "metadata": {"version": 1, "createdAt": T0, "updatedAt": updated_at, "author": "tests"},
    }


def rule(rule_id: str, points: float = -10.0, status: str = "ACTIVE", rule_set: str = "default") -> dict:
    return {
        "ruleID": rule_id,
        "name": f"rule {rule_id}",
        "category": "FINANCIAL",
        "eventType": "financial",
        "eventSubtype": ["payment_failed"],
        "conditionLogic": {
            "type": "SIMPLE",
            "conditions": [{"field": "payload.amount", "operator": "GREATER_THAN", "value": 100}],
        },
        "points": points,
        "multipliers": [{"name": "official", "factor": 1.5, "appliesIfFlag": "isPublicOfficial"}],
        "status": status,
        "ruleSet": rule_set,
        "validityPeriod": {"from": 0, "to": None},
        "metadata": {"version": 1, "createdAt": T0, "updatedAt": T0, "author": "tests"},
    }
