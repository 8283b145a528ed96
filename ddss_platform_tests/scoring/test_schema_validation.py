"""MongoDB $jsonSchema enforced with jsonschema: bsonType means what it means after pymongo encodes."""
from __future__ import annotations

import json

import pytest

from ddss_platform.schema_validation import DocumentValidationError, document_validator, validator_for

SCHEMA = {
    "bsonType": "object",
    "required": ["name", "score", "count", "when"],
    "additionalProperties": False,
    "properties": {
        "_id": {},
        "name": {"bsonType": "string"},
        "score": {"bsonType": "double", "minimum": 0, "maximum": 1000},
        "count": {"bsonType": "int"},
        "when": {"bsonType": "long"},
        "either": {"bsonType": ["int", "long", "null"]},
        "flags": {"bsonType": "object", "additionalProperties": {"bsonType": "bool"}},
        "kind": {"enum": ["a", "b"]},
        "items": {"bsonType": "array", "items": {"bsonType": "object", "required": ["x"]}},
    },
}
GOOD = {"name": "n", "score": 1.5, "count": 3, "when": 1_735_689_600_000}


def refused_field(doc, schema=SCHEMA) -> str:
    with pytest.raises(DocumentValidationError) as refused:
        document_validator(schema)(doc)
    return refused.value.field


def test_a_good_document_passes():
    document_validator(SCHEMA)(dict(GOOD, either=None, flags={"f": True}, kind="a", items=[{"x": 1}]))
    document_validator({"$jsonSchema": SCHEMA})(GOOD)  # a collection validator works too


@pytest.mark.parametrize("change, field", [
    ({"score": 2}, "score"),  # an int is not a double
    ({"count": 2.0}, "count"),  # a float is not an int
    ({"count": True}, "count"),  # a bool is not an int
    ({"count": 2**40}, "count"),  # pymongo sends this as a long
    ({"when": 5}, "when"),  # ... and this as an int
    ({"score": 1001.0}, "score"),
    ({"kind": "c"}, "kind"),
    ({"flags": {"f": "yes"}}, "flags.f"),
    ({"items": [{"y": 1}]}, "items.0.x"),
    ({"extra": 1}, "extra"),
])
def test_a_bad_value_is_refused_naming_the_field(change, field):
    assert refused_field(dict(GOOD, **change)) == field


def test_a_missing_required_field_is_named():
    doc = dict(GOOD)
    del doc["when"]
    assert refused_field(doc) == "when"


@pytest.mark.parametrize("schema", [
    {"bsonType": "object", "properties": {"a": {"$ref": "#/x"}}},
    {"bsonType": "object", "properties": {"a": {"bsonType": "string", "format": "email"}}},
    {"bsonType": "decimal128"},
])
def test_keywords_mongodb_does_not_accept_are_refused(schema):
    with pytest.raises(ValueError):
        document_validator(schema)


def test_validator_for_reads_the_schema_file(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    validate = validator_for(path)
    validate(GOOD)
    with pytest.raises(DocumentValidationError):
        validate({})
