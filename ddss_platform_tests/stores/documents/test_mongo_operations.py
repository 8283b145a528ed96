"""What the pymongo adapter sends (update specs with the guard in the filter) and how it reads
MongoDB's validation and duplicate-key errors; the server round trips are in test_contract."""

from __future__ import annotations

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from ddss_platform.stores.documents import DocumentValidationError, DuplicateKeyError, SnapshotUpdate, offset_key
from ddss_platform.stores.documents.mongo import MongoDocuments, failing_field, translate

T0 = 1_735_689_600_000
P2 = offset_key("citizen-events", 2)


def test_the_guard_is_in_the_filter_and_only_creations_upsert():
    plain = SnapshotUpdate("CIT00000001", 512.5, "Standard", T0, P2, 41)
    profile = {"firstName": "A", "lastName": "B", "region": "West"}
    creating = SnapshotUpdate("CIT00000002", 500, "Standard", T0, P2, 42, profile=profile)
    ops, concerns = MongoDocuments.snapshot_operations([plain, creating], now_ms=T0 + 5)
    offset_field = "appliedOffsets.citizen-events/2"
    assert ops[0] == UpdateOne(
        {"nationalID": "CIT00000001", "$or": [{offset_field: {"$lt": 41}}, {offset_field: {"$exists": False}}]},
        {
            "$set": {
                "scoreSnapshot.currentScore": 512.5,
                "scoreSnapshot.tier": "Standard",
                "scoreSnapshot.lastCalculated": T0,
                offset_field: 41,
                "metadata.updatedAt": T0 + 5,
            },
            "$inc": {"metadata.version": 1},
        },
    )
    created = {
        "nationalID": "CIT00000002",
        "profile": profile,
        "flags": {},
        "scoreSnapshot": {"currentScore": 500.0, "tier": "Standard", "lastCalculated": T0},
        "appliedOffsets": {P2: 42},
        "metadata": {"version": 1, "createdAt": T0 + 5, "updatedAt": T0 + 5},
    }
    assert ops[1] == UpdateOne({"nationalID": "CIT00000002"}, {"$setOnInsert": created}, upsert=True)
    assert ops[2] == MongoDocuments.guarded_update(creating, T0 + 5)  # no upsert: an update never creates by itself
    assert concerns == [{"nationalID": "CIT00000001"}, created, {"nationalID": "CIT00000002"}]


NESTED_121 = {
    "operatorName": "$jsonSchema",
    "schemaRulesNotSatisfied": [
        {
            "operatorName": "properties",
            "propertiesNotSatisfied": [
                {
                    "propertyName": "multipliers",
                    "details": [
                        {
                            "operatorName": "items",
                            "itemIndex": 1,
                            "details": [
                                {
                                    "operatorName": "required",
                                    "specifiedAs": {"required": ["name", "factor"]},
                                    "missingProperties": ["factor"],
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ],
}


def test_the_failing_field_is_read_from_err_info():
    assert failing_field(NESTED_121)[0] == "multipliers.1.factor"
    extra = {
        "operatorName": "additionalProperties",
        "specifiedAs": {"additionalProperties": False},
        "additionalProperties": ["oops"],
    }
    assert failing_field({"schemaRulesNotSatisfied": [extra]})[0] == "oops"
    leaf = {
        "operatorName": "maximum",
        "specifiedAs": {"maximum": 1000},
        "reason": "comparison failed",
        "consideredValue": 5000.0,
    }
    field, reason = failing_field(
        {
            "schemaRulesNotSatisfied": [
                {
                    "operatorName": "properties",
                    "propertiesNotSatisfied": [
                        {
                            "propertyName": "scoreSnapshot",
                            "details": [
                                {
                                    "operatorName": "properties",
                                    "propertiesNotSatisfied": [{"propertyName": "currentScore", "details": [leaf]}],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
    assert field == "scoreSnapshot.currentScore" and "5000.0" in reason


def test_bulk_errors_become_the_ports_errors():
    invalid = BulkWriteError(
        {
            "writeErrors": [
                {"index": 1, "code": 121, "errmsg": "Document failed validation", "errInfo": {"details": NESTED_121}}
            ]
        }
    )
    error = translate(invalid, "scoring_rule_definitions", [{"ruleID": "R1"}, {"ruleID": "R2"}])
    assert isinstance(error, DocumentValidationError)
    assert error.field == "multipliers.1.factor" and "R2" in str(error)
    duplicate = BulkWriteError(
        {"writeErrors": [{"index": 0, "code": 11000, "keyValue": {"nationalID": "CIT00000001"}}]}
    )
    error = translate(duplicate, "citizens", [{"nationalID": "CIT00000001"}])
    assert isinstance(error, DuplicateKeyError) and error.value == "CIT00000001"


def test_a_changed_validator_is_put_back_with_coll_mod(secantus_url):
    from ddss_platform_tests.stores.documents.conftest import mongo_store

    store = mongo_store(secantus_url)
    try:
        store.ensure_schema()
        store.db.command("collMod", "citizens", validator={"$jsonSchema": {"bsonType": "object"}})
        assert store.ensure_schema() == ["documents: updated the $jsonSchema validator of citizens (collMod)"]
        assert store.ensure_schema() == []
    finally:
        store.db.client.drop_database(store.db.name)
        store.close()
