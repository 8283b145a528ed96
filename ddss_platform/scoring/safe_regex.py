"""Bounded REGEX_MATCH: patterns are checked when a rule loads and matched by RE2.

Two layers, so a rule author's pattern can never stall a scoring run:

1. Matching uses RE2 (``google-re2``), an automaton engine whose time is linear in the subject, and only the
   first ``MAX_SUBJECT_CHARS`` characters of the subject are looked at. RE2's time does not depend on the
   machine's speed, so every run (and the pure reference) reaches the same decision; a timeout would not.
2. At load, a pattern is refused when it is longer than ``MAX_PATTERN_CHARS``, when RE2 cannot compile it
   (backreferences, lookarounds), or when it has a shape that backtracks catastrophically in a backtracking
   engine (Python ``re``, MongoDB ``$regex``, Spark ``rlike`` — where the same rule text may be reused for
   reports): a variable quantifier inside another quantifier (star height > 1, e.g. ``(a+)+``, ``(\\w+\\s?)*``),
   or, inside a quantifier, alternatives that can start with the same character or match nothing
   (``(a|a)*``, ``(a|ab)*``, ``(x|)*``). The check is conservative: ``([a-z]+\\.)+`` is refused too and is
   written ``[a-z.]+`` instead.

The pattern is parsed with Python's own regex parser (``re._parser``), the one syntax both engines share.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from dataclasses import dataclass, field
from typing import Any

import re2

MAX_PATTERN_CHARS = 256
MAX_SUBJECT_CHARS = 4096

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_GROUPS = (sre.SUBPATTERN, sre.ATOMIC_GROUP)
_ANY_CHAR = None  # stands for "a first character we cannot enumerate": overlaps with everything
_WIDE_RANGE = 256  # a class range wider than this counts as "any character"

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


class UnsafePatternError(ValueError):
    """The pattern is refused; the message says why."""


@dataclass(frozen=True)
class SafePattern:
    """A checked pattern, matched (search semantics, like MongoDB ``$regex``) on a length-capped subject."""

    pattern: str
    _compiled: Any = field(compare=False, repr=False)  # an re2 pattern

    def search(self, subject: str) -> bool:
        return self._compiled.search(subject[:MAX_SUBJECT_CHARS]) is not None


def compile_safe(pattern: str) -> SafePattern:
    """Check ``pattern`` (see the module doc) and compile it for RE2, or raise UnsafePatternError."""
    if not isinstance(pattern, str):
        raise UnsafePatternError("the pattern must be a string")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafePatternError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    try:
        tree = sre_parse.parse(pattern)
    except re.error as exc:
        raise UnsafePatternError(f"invalid pattern: {exc}") from None
    _check_sequence(tree, inside_repeat=False)
    try:
        compiled = re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise UnsafePatternError(f"not supported by the linear-time matcher: {detail}") from None
    return SafePattern(pattern, compiled)


def _is_variable_repeat(low: int, high: int) -> bool:
    return high > 1 and low != high


def _check_sequence(items, inside_repeat: bool) -> None:
    for op, arg in items:
        if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            raise UnsafePatternError("backreferences are refused")
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            raise UnsafePatternError("lookarounds are refused")
        if op in _REPEATS:
            low, high, body = arg
            if inside_repeat and _is_variable_repeat(low, high):
                raise UnsafePatternError("nested quantifiers (a quantifier inside a quantified group) are refused")
            repeats = high > 1
            _check_sequence(body, inside_repeat or repeats)
            if repeats and _first_chars(body)[1]:
                raise UnsafePatternError("a quantified group that can match the empty string is refused")
        elif op in _GROUPS:
            _check_sequence(arg[-1], inside_repeat)
        elif op == sre.BRANCH:
            alternatives = arg[1]
            if inside_repeat:
                _check_disjoint(alternatives)
            for alternative in alternatives:
                _check_sequence(alternative, inside_repeat)


def _check_disjoint(alternatives) -> None:
    """Inside a quantifier, alternatives must start differently (else the engine tries both, over and over)."""
    seen: set[int] = set()
    for alternative in alternatives:
        chars, nullable = _first_chars(alternative)
        if nullable or chars is _ANY_CHAR or chars & seen:
            raise UnsafePatternError("overlapping alternatives inside a quantifier are refused")
        seen |= chars


def _first_chars(items) -> tuple[frozenset[int] | None, bool]:
    """(the lower-cased characters a sequence can start with, or _ANY_CHAR; whether it can match empty)."""
    chars: set[int] = set()
    for op, arg in items:
        item_chars, nullable = _first_chars_of_item(op, arg)
        if item_chars is _ANY_CHAR:
            return _ANY_CHAR, False
        chars |= item_chars
        if not nullable:
            return frozenset(chars), False
    return frozenset(chars), True


def _first_chars_of_item(op, arg) -> tuple[frozenset[int] | None, bool]:
    if op == sre.LITERAL:
        return frozenset({ord(chr(arg).lower())}), False
    if op == sre.IN:
        return _class_chars(arg), False
    if op in (sre.NOT_LITERAL, sre.ANY, sre.CATEGORY):
        return _ANY_CHAR, False
    if op == sre.AT:
        return frozenset(), True
    if op in _REPEATS:
        low, _high, body = arg
        chars, nullable = _first_chars(body)
        return chars, nullable or low == 0
    if op in _GROUPS:
        return _first_chars(arg[-1])
    if op == sre.BRANCH:
        union: set[int] = set()
        nullable = False
        for alternative in arg[1]:
            alt_chars, alt_nullable = _first_chars(alternative)
            if alt_chars is None:  # _ANY_CHAR
                return _ANY_CHAR, False
            union |= alt_chars
            nullable = nullable or alt_nullable
        return frozenset(union), nullable
    return _ANY_CHAR, False


def _class_chars(members) -> frozenset[int] | None:
    chars: set[int] = set()
    for op, arg in members:
        if op == sre.LITERAL:
            chars.add(ord(chr(arg).lower()))
        elif op == sre.RANGE and arg[1] - arg[0] <= _WIDE_RANGE:
            chars.update(ord(chr(code).lower()) for code in range(arg[0], arg[1] + 1))
        else:  # NEGATE, CATEGORY, a wide range
            return _ANY_CHAR
    return frozenset(chars)
