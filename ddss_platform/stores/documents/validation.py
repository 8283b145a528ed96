"""MongoDB ``$jsonSchema`` validators, enforced outside MongoDB (embedded documents store, seed checks).

The schema files under ``schemas/documents/`` are written in MongoDB's ``$jsonSchema`` dialect, so the
production adapter hands them to ``createCollection(validator={"$jsonSchema": ...})`` unchanged. Here the
same files are enforced with the ``jsonschema`` library: ``bsonType`` becomes a keyword of its own whose
type names mean what they mean once pymongo has encoded a Python value, so the embedded store refuses
exactly what MongoDB would refuse:

* ``double``: a Python float; ``int``: an int that fits in 32 bits (pymongo encodes those as int32);
  ``long``: an int that needs 64 bits (or a ``bson.Int64``); ``bool``, ``string``, ``object``, ``array``,
  ``null``, ``objectId`` (a ``bson.ObjectId``), ``date`` (a ``datetime``) as expected. A field that may hold
  a small or a big integer therefore says ``["int", "long"]``.

Keywords MongoDB's ``$jsonSchema`` does not accept (``$ref``, ``format``, ``default``, ...) are refused
when a schema is loaded, so a schema that passes here also installs on MongoDB.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

if TYPE_CHECKING:
    import jsonschema

_INT32 = 2**31
_INT64 = 2**63


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_int32(value: Any) -> bool:
    return _is_int(value) and type(value).__name__ != "Int64" and -_INT32 <= value < _INT32


def _is_int64(value: Any) -> bool:
    return _is_int(value) and -_INT64 <= value < _INT64 and not _is_int32(value)


BSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, Mapping),
    "string": lambda v: isinstance(v, str),
    "double": lambda v: isinstance(v, float),
    "int": _is_int32,
    "long": _is_int64,
    "bool": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, (list, tuple)),
    "null": lambda v: v is None,
    "objectId": lambda v: type(v).__name__ == "ObjectId",
    "date": lambda v: isinstance(v, datetime),
}

# Accepted by jsonschema but not by MongoDB's $jsonSchema: refused so both adapters enforce the same thing.
_UNSUPPORTED_KEYWORDS = frozenset({"$ref", "$schema", "$id", "id", "definitions", "$defs", "default", "format"})


class DocumentValidationError(ValueError):
    """A document breaks its collection's schema; ``field`` is the dotted path of the offending value."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field or '<document>'}: {message}")
        self.field = field
        self.message = message


def _type_names(expected: str | list[str]) -> list[str]:
    return [expected] if isinstance(expected, str) else list(expected)


def _bson_type_keyword(validator, expected, instance, schema):
    from jsonschema import ValidationError

    names = _type_names(expected)
    if not any(BSON_TYPES[name](instance) for name in names):
        yield ValidationError(f"{instance!r} is not of bsonType {' or '.join(names)}")


# bsonType names whose checks are exactly (or, for a Mapping or a tuple, more strictly) JSON Schema's own types:
# the compiled validator checks those natively instead of calling back into Python for each value
_JSON_TYPES = {"string": "string", "object": "object", "bool": "boolean", "array": "array", "null": "null"}
_LONG_RANGE = (-(2**63), 2**63 - 1)


def _native_check(names: list[str], node: Mapping[str, Any]) -> dict | None:
    """JSON Schema keywords that accept exactly what bsonType ``names`` accepts in ``node``, or None."""
    types = [_JSON_TYPES[name] for name in names if name in _JSON_TYPES]
    others = set(names) - _JSON_TYPES.keys()
    if not others:
        return {"type": types}
    if others == {"int", "long"} and not node.keys() & {"maximum", "exclusiveMaximum", "exclusiveMinimum"}:
        # an int32 or an int64: any integer in the int64 range
        return {
            "type": [*types, "integer"],
            "minimum": max(node.get("minimum", _LONG_RANGE[0]), _LONG_RANGE[0]),
            "maximum": _LONG_RANGE[1],
        }
    if others == {"double"} and "not" not in node:
        return {"type": [*types, "number"], "not": {"type": "integer"}}  # Draft 4: 1.0 is not an integer
    return None


def _natively_typed(schema: Any) -> Any:
    """A copy of ``schema`` for jsonschema_rs in which each bsonType that _native_check can express is plain JSON
    Schema."""
    if isinstance(schema, list):
        return [_natively_typed(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    copy = {key: value if key == "enum" else _natively_typed(value) for key, value in schema.items()}
    names = _type_names(copy.get("bsonType", []))
    native = _native_check(names, copy) if names and "type" not in copy else None
    if native is not None:
        del copy["bsonType"]
        copy.update(native)
    return copy


class _CompiledBsonType:
    """The bsonType keyword for jsonschema_rs (the same checks)."""

    def __init__(self, parent_schema: Mapping[str, Any], value: str | list[str], schema_path: list):
        self.checks = [BSON_TYPES[name] for name in _type_names(value)]

    def validate(self, instance: Any) -> None:
        if not any(check(instance) for check in self.checks):
            raise ValueError("bsonType")


@functools.cache
def _explaining_validator() -> type:
    """jsonschema's Draft 4 with bsonType, to say why a document is refused (imported when first needed: it
    costs a scoring run's process a tenth of a second to start)."""
    import jsonschema

    return jsonschema.validators.extend(jsonschema.Draft4Validator, validators={"bsonType": _bson_type_keyword})


def _check_dialect(schema: Any, where: str = "$") -> None:
    """Refuse keywords and bsonType names that MongoDB (or this translation) does not support."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            _check_dialect(item, f"{where}[{index}]")
        return
    if not isinstance(schema, Mapping):
        return
    for key, value in schema.items():
        if key in _UNSUPPORTED_KEYWORDS:
            raise ValueError(f"schema keyword {key!r} at {where} is not supported by MongoDB $jsonSchema")
        if key == "bsonType":
            for name in [value] if isinstance(value, str) else value:
                if name not in BSON_TYPES:
                    raise ValueError(f"bsonType {name!r} at {where} is not one of {sorted(BSON_TYPES)}")
        elif key in ("properties", "patternProperties"):
            for name, sub in value.items():
                _check_dialect(sub, f"{where}.{name}")
        elif key != "enum":
            _check_dialect(value, f"{where}.{key}")


def _field_of(error: jsonschema.ValidationError) -> str:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        # message: "'name' is a required property"; the field is the missing one
        missing = next(name for name in error.validator_value if name not in error.instance)
        path.append(missing)
    elif error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = error.schema.get("properties", {})
        extra = sorted(name for name in error.instance if name not in allowed)
        if extra:
            path.append(extra[0])
    return ".".join(path)


def document_validator(schema: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], None]:
    """A callable that raises DocumentValidationError when a document breaks ``schema``.

    ``schema`` is the ``$jsonSchema`` body, or a ``{"$jsonSchema": body}`` collection validator.
    """
    body = schema.get("$jsonSchema", schema)
    _check_dialect(body)
    compiled = jsonschema_rs.Draft4Validator(_natively_typed(body), keywords={"bsonType": _CompiledBsonType})

    def validate(document: Mapping[str, Any]) -> None:
        # the compiled validator passes a valid document about five times faster (a scoring run validates every
        # citizen it creates); jsonschema judges the others, so a refusal reads the same either way
        try:
            if compiled.is_valid(document):
                return
        except (ValueError, TypeError):
            pass  # a value it cannot represent (a datetime, an ObjectId): jsonschema decides
        from jsonschema.exceptions import best_match

        error = best_match(_explaining_validator()(body).iter_errors(document))
        if error is not None:
            raise DocumentValidationError(_field_of(error), error.message)

    return validate


def validator_for(schema_path: str | Path) -> Callable[[Mapping[str, Any]], None]:
    """The validator of the schema stored as JSON at ``schema_path``."""
    return document_validator(json.loads(Path(schema_path).read_text()))
