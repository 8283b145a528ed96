"""Rule conditions: operators on event fields reached by dotted path, combined by nested AND/OR groups.

Semantics (the same in every run, so the reference and the pipeline agree):

* A path walks mappings (``payload.metadata.failure_reason``). A field that is absent or null is *missing*;
  every comparison on a missing field is false (``NOT_EQUALS`` included). ``EXISTS true`` is true when the
  field is present and not null, ``EXISTS false`` the opposite.
* Numbers: an int or float, or a string that parses as a finite number (event metadata values are strings,
  e.g. ``hours: "8"``). Ordering operators coerce both sides and are false when either is not a number.
  ``EQUALS`` compares numerically when both sides are numbers, else by value; a bool rule value also
  matches the strings ``"true"``/``"false"`` (any case).
* ``IN``: the field equals (as ``EQUALS``) one of the listed values. ``CONTAINS``: substring of a string
  field, element of a list field, or key of a map field (``payload.metadata CONTAINS "failure_reason"``).
* ``REGEX_MATCH``: RE2 search on a string field (see ``safe_regex``); false for non-strings.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ddss_platform.scoring.safe_regex import UnsafePatternError, compile_safe

_MISSING = object()
Scalar = str | int | float | bool


class Operator(str, Enum):  # noqa: UP042 (a StrEnum would change str() of a member)
    EQUALS = "EQUALS"
    NOT_EQUALS = "NOT_EQUALS"
    GREATER_THAN = "GREATER_THAN"
    GREATER_OR_EQUAL = "GREATER_OR_EQUAL"
    LESS_THAN = "LESS_THAN"
    LESS_OR_EQUAL = "LESS_OR_EQUAL"
    IN = "IN"
    CONTAINS = "CONTAINS"
    EXISTS = "EXISTS"
    REGEX_MATCH = "REGEX_MATCH"


class Logic(str, Enum):  # noqa: UP042 (as Operator)
    SIMPLE = "SIMPLE"
    AND = "AND"
    OR = "OR"


class ConditionError(ValueError):
    """A condition document is malformed; ``field`` is its path inside the rule (e.g.
    conditionLogic.conditions.1.value)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def as_number(value: Any) -> float | None:
    """The value as a finite float, or None (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _equals_test(expected: Scalar) -> Callable[[Any], bool]:
    if isinstance(expected, bool):
        return lambda actual: _as_bool(actual) is expected
    number = as_number(expected)
    if number is None:
        return lambda actual: actual == expected
    return lambda actual: not isinstance(actual, bool) and as_number(actual) == number


def _in_test(options: tuple[Scalar, ...]) -> Callable[[Any], bool]:
    if all(isinstance(option, str) and as_number(option) is None for option in options):
        names = frozenset(options)  # the common case: a set lookup
        return lambda actual: isinstance(actual, str) and actual in names
    tests = tuple(_equals_test(option) for option in options)
    return lambda actual: any(test(actual) for test in tests)


def _contains(actual: Any, expected: Scalar) -> bool:
    if isinstance(actual, (str, Mapping)):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, (list, tuple)):
        equals = _equals_test(expected)
        return any(equals(item) for item in actual)
    return False


def _ordering_test(compare: Callable[[float, float], bool], bound: float) -> Callable[[Any], bool]:
    def test(actual: Any) -> bool:
        number = as_number(actual)
        return number is not None and compare(number, bound)

    return test


_ORDERING = {
    Operator.GREATER_THAN: operator.gt,
    Operator.GREATER_OR_EQUAL: operator.ge,
    Operator.LESS_THAN: operator.lt,
    Operator.LESS_OR_EQUAL: operator.le,
}


def _test_for(op: Operator, value: Any) -> Callable[[Any], bool]:
    """The predicate on a present field value (a missing field never reaches it)."""
    if op is Operator.EXISTS:
        return lambda actual: value
    if op in _ORDERING:
        return _ordering_test(_ORDERING[op], value)
    if op is Operator.EQUALS:
        return _equals_test(value)
    if op is Operator.NOT_EQUALS:
        equals = _equals_test(value)
        return lambda actual: not equals(actual)
    if op is Operator.IN:
        return _in_test(value)
    if op is Operator.CONTAINS:
        return lambda actual: _contains(actual, value)
    return lambda actual: isinstance(actual, str) and value.search(actual)  # REGEX_MATCH


def resolve(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in ``event``, or the _MISSING marker (absent, or null on the way)."""
    value: Any = event
    for part in path:
        try:
            value = value[part]
        except (KeyError, TypeError, IndexError):  # absent, or not a mapping on the way
            return _MISSING
        if value is None:
            return _MISSING
    return value


Matcher = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Condition:
    path: tuple[str, ...]
    operator: Operator
    value: Any  # a scalar; a tuple of scalars for IN; a bool for EXISTS; a SafePattern for REGEX_MATCH
    # ``condition.matches(event)``: a closure built from the fields when the rule is loaded (see _matcher)
    matches: Matcher = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ConditionGroup:
    logic: Logic  # AND or OR (a SIMPLE group is an AND of one condition)
    members: tuple[Condition | ConditionGroup, ...]
    matches: Matcher = field(compare=False, repr=False)  # see _group_matcher


# Every active rule of an event's type is tried on every event: a closure per condition and group, built once,
# saves the attribute lookups and method calls of walking the dataclasses each time.


def _matcher(path: tuple[str, ...], op: Operator, value: Any) -> Matcher:
    test = _test_for(op, value)
    when_missing = op is Operator.EXISTS and not value
    if len(path) == 1:
        (name,) = path

        def match_field(event: Mapping[str, Any]) -> bool:
            actual = event.get(name)
            return when_missing if actual is None else test(actual)

        return match_field

    def match_path(event: Mapping[str, Any]) -> bool:
        actual = resolve(event, path)
        return when_missing if actual is _MISSING else test(actual)

    return match_path


def _group_matcher(logic: Logic, members: tuple[Condition | ConditionGroup, ...]) -> Matcher:
    matchers = tuple(member.matches for member in members)
    if len(matchers) == 1:
        return matchers[0]
    if logic is Logic.OR:

        def match_any(event: Mapping[str, Any]) -> bool:
            for match in matchers:
                if match(event):
                    return True
            return False

        return match_any

    def match_all(event: Mapping[str, Any]) -> bool:
        for match in matchers:
            if not match(event):
                return False
        return True

    return match_all


# -- parsing -------------------------------------------------------------------------------------------

_MAX_DEPTH = 8


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool))


def parse_condition_logic(doc: Any, where: str = "conditionLogic", depth: int = 0) -> ConditionGroup:
    """A ``{type, conditions}`` document as a ConditionGroup (SIMPLE is a group of exactly one condition)."""
    if not isinstance(doc, Mapping):
        raise ConditionError(where, "must be an object {type, conditions}")
    if depth > _MAX_DEPTH:
        raise ConditionError(where, f"condition groups nest deeper than {_MAX_DEPTH} levels")
    unknown = set(doc) - {"type", "conditions"}
    if unknown:
        raise ConditionError(f"{where}.{sorted(unknown)[0]}", "unknown key in a condition group")
    try:
        logic = Logic(doc.get("type"))
    except ValueError:
        raise ConditionError(f"{where}.type", f"must be one of {[m.value for m in Logic]}") from None
    members = doc.get("conditions")
    if not isinstance(members, list) or not members:
        raise ConditionError(f"{where}.conditions", "must be a non-empty list")
    if logic is Logic.SIMPLE and len(members) != 1:
        raise ConditionError(f"{where}.conditions", "a SIMPLE group holds exactly one condition")
    parsed = tuple(_parse_member(member, f"{where}.conditions.{index}", depth) for index, member in enumerate(members))
    logic = Logic.AND if logic is Logic.SIMPLE else logic
    return ConditionGroup(logic, parsed, _group_matcher(logic, parsed))


def _parse_member(doc: Any, where: str, depth: int) -> Condition | ConditionGroup:
    if isinstance(doc, Mapping) and "type" in doc:
        return parse_condition_logic(doc, where, depth + 1)
    return parse_condition(doc, where)


def parse_condition(doc: Any, where: str) -> Condition:
    if not isinstance(doc, Mapping):
        raise ConditionError(where, "must be an object {field, operator, value}")
    unknown = set(doc) - {"field", "operator", "value"}
    if unknown:
        raise ConditionError(f"{where}.{sorted(unknown)[0]}", "unknown key in a condition")
    path = doc.get("field")
    if not isinstance(path, str) or not all(part.strip() for part in path.split(".")):
        raise ConditionError(f"{where}.field", "must be a dotted path like payload.amount")
    try:
        op = Operator(doc.get("operator"))
    except ValueError:
        raise ConditionError(f"{where}.operator", f"unknown operator {doc.get('operator')!r}") from None
    if "value" not in doc:
        raise ConditionError(f"{where}.value", "is required")
    value = _parse_value(op, doc["value"], f"{where}.value")
    path = tuple(path.split("."))
    return Condition(path, op, value, _matcher(path, op, value))


def _parse_value(op: Operator, value: Any, where: str) -> Any:
    if op is Operator.EXISTS:
        if not isinstance(value, bool):
            raise ConditionError(where, "EXISTS takes true or false")
        return value
    if op in _ORDERING:
        if isinstance(value, bool) or as_number(value) is None or isinstance(value, str):
            raise ConditionError(where, f"{op.value} takes a number")
        return float(value)
    if op is Operator.IN:
        if not isinstance(value, list) or not value or not all(_is_scalar(item) for item in value):
            raise ConditionError(where, "IN takes a non-empty list of strings, numbers or bools")
        return tuple(value)
    if op is Operator.REGEX_MATCH:
        try:
            return compile_safe(value)
        except UnsafePatternError as exc:
            raise ConditionError(where, f"regex refused: {exc}") from None
    if not _is_scalar(value):
        raise ConditionError(where, f"{op.value} takes a string, number or bool")
    return value
