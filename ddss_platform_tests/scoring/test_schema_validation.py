"""MongoDB $jsonSchema enforced with jsonschema: bsonType means what it means after pymongo encodes."""

from __future__ import annotations

import json

import pytest

from ddss_platform.stores.documents.validation import (
    DocumentValidationError,
    _natively_typed,
    document_validator,
    validator_for,
)

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


@pytest.mark.parametrize(
    "change, field",
    [
        ({"score": 2}, "score"),  # an int is not a double
        ({"count": 2.0}, "count"),  # a float is not an int
        ({"count": True}, "count"),  # a bool is not an int
        ({"count": 2**40}, "count"),  # pymongo sends this as a long
        ({"when": 5}, "when"),  # ... and this as an int
        ({"score": 1001.0}, "score"),
        ({"kind": "c"}, "kind"),
        ({"flags": {"f": "yes"}}, "flags.f"),
        ({"flags": {"f": 1}}, "flags.f"),  # an int is not a bool
        ({"flags": ["f"]}, "flags"),
        ({"name": 5}, "name"),
        ({"items": {"x": 1}}, "items"),
        ({"items": [{"y": 1}]}, "items.0.x"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(change, field):
    assert refused_field(dict(GOOD, **change)) == field


def test_a_missing_required_field_is_named():
    doc = dict(GOOD)
    del doc["when"]
    assert refused_field(doc) == "when"


@pytest.mark.parametrize(
    "schema",
    [
        {"bsonType": "object", "properties": {"a": {"$ref": "#/x"}}},
        {"bsonType": "object", "properties": {"a": {"bsonType": "string", "format": "email"}}},
        {"bsonType": "decimal128"},
    ],
)
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


def test_the_compiled_validator_checks_bson_types_natively_where_json_schema_can_say_them():
    """Without a Python callback for each value: what plain JSON Schema can say exactly (a double is a number that
    is not an integer, int or long is an integer in the int64 range); int alone and long alone keep theirs."""
    native = _natively_typed(SCHEMA)
    assert native["type"] == ["object"] and "bsonType" not in native
    properties = native["properties"]
    assert properties["name"] == {"type": ["string"]}
    assert properties["flags"]["additionalProperties"] == {"type": ["boolean"]}
    assert properties["items"]["items"]["type"] == ["object"]
    assert properties["score"] == {"type": ["number"], "not": {"type": "integer"}, "minimum": 0, "maximum": 1000}
    assert properties["either"] == {"type": ["null", "integer"], "minimum": -(2**63), "maximum": 2**63 - 1}
    assert properties["count"] == {"bsonType": "int"} and properties["when"] == {"bsonType": "long"}
    assert SCHEMA["properties"]["name"] == {"bsonType": "string"}  # the schema itself is left alone


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 1.0, True, "1"])
def test_int_or_long_refuses_what_pymongo_cannot_send_as_either(value):
    assert refused_field(dict(GOOD, either=value)) == "either"
