"""REGEX_MATCH patterns: dangerous shapes refused at load, matching bounded in time and subject length."""

from __future__ import annotations

import time

import pytest

from ddss_platform.scoring.safe_regex import MAX_PATTERN_CHARS, MAX_SUBJECT_CHARS, UnsafePatternError, compile_safe


@pytest.mark.parametrize(
    "pattern, reason",
    [
        ("(a+)+$", "nested"),
        ("(a*)*b", "nested"),
        (r"(\w+\s?)*$", "nested"),
        ("([a-z]+\\.)+com", "nested"),
        ("(a{1,5})+", "nested"),
        ("(a|a)*$", "overlapping"),
        ("(a|ab)*c", "overlapping"),
        (r"(\w|_x)+y", "overlapping"),
        ("(x|)*y", "overlapping"),
        ("(.|b)*", "overlapping"),
        ("(a?)*", "empty"),
        (r"(a)\1", "backreference"),
        (r"(?P<x>a)(?(x)b|c)", "backreference"),
        ("(?=a)b", "lookaround"),
        ("(?<!a)b", "lookaround"),
        ("a" * (MAX_PATTERN_CHARS + 1), "longer"),
        ("(unclosed", "invalid"),
    ],
)
def test_dangerous_or_invalid_patterns_are_refused(pattern, reason):
    with pytest.raises(UnsafePatternError, match=reason):
        compile_safe(pattern)


@pytest.mark.parametrize(
    "pattern, subject, expected",
    [
        ("^(card|mobile_wallet)$", "mobile_wallet", True),
        ("^(card|mobile_wallet)$", "cards", False),
        (r"^\d{3}-\d{4}$", "555-1234", True),
        ("(ab)+c", "ababc", True),
        ("(foo|bar)+", "xbarfoo", True),
        ("[a-z]+_[a-z]+", "insufficient_funds", True),
        ("(?i)FRAUD", "fraud_suspected", True),
        ("(a{3})+", "aaaaaa", True),
        (r"(\d|\w)+x", "ab1x", True),  # one character class, not an alternation
    ],
)
def test_ordinary_patterns_are_accepted(pattern, subject, expected):
    assert compile_safe(pattern).search(subject) is expected


def test_matching_is_linear_even_on_an_adversarial_subject():
    # (a|aa)+$-like blowups are refused; a long run of wildcards with a failing tail stays fast in RE2
    pattern = compile_safe("^.*.*.*.*=x$")
    started = time.perf_counter()
    assert not pattern.search("=" * MAX_SUBJECT_CHARS)
    assert time.perf_counter() - started < 0.5


def test_only_the_first_max_subject_chars_are_matched():
    pattern = compile_safe("needle")
    assert pattern.search("x" * (MAX_SUBJECT_CHARS - 6) + "needle")
    assert not pattern.search("x" * MAX_SUBJECT_CHARS + "needle")
