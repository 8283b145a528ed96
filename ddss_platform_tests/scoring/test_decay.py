"""Daily decay: towards the baseline from both sides, never past it, never below the minimum."""

from __future__ import annotations

import pytest

from ddss_platform.scoring import DecayPolicy, decay

from .builders import config

CONFIG = config()  # baseline 500, bounds 0..1000


@pytest.mark.parametrize(
    "score, days, expected",
    [
        (600.0, 10, 580.0),
        (600.0, 50, 500.0),  # reaches the baseline and stops
        (600.0, 80, 500.0),  # never past it
        (400.0, 10, 420.0),  # from below, upwards
        (400.0, 80, 500.0),
        (500.0, 3, 500.0),
        (600.0, 0.5, 599.0),
        (600.0, 0, 600.0),
    ],
)
def test_decay_moves_towards_the_baseline(score, days, expected):
    assert decay(score, days, DecayPolicy(2.0, True, None), CONFIG) == expected


@pytest.mark.parametrize(
    "score, days, expected",
    [
        (600.0, 10, 590.0),
        (40.0, 10, 30.0),  # downwards even below the baseline
        (40.0, 30, 30.0),  # ... but not below the minimum
        (25.0, 30, 25.0),  # a score already below the minimum stays
        (5.0, 30, 5.0),
    ],
)
def test_decay_without_baseline_only_goes_down_to_the_minimum(score, days, expected):
    assert decay(score, days, DecayPolicy(1.0, False, 30.0), CONFIG) == expected


def test_decay_without_minimum_stops_at_the_lower_bound():
    assert decay(10.0, 100, DecayPolicy(1.0, False, None), CONFIG) == 0.0


def test_the_minimum_also_holds_when_decaying_towards_the_baseline():
    assert decay(700.0, 100, DecayPolicy(5.0, True, 650.0), CONFIG) == 650.0


def test_decay_rounds_and_refuses_negative_days():
    assert decay(600.0, 1, DecayPolicy(1 / 3, True, None), CONFIG) == 599.67
    with pytest.raises(ValueError):
        decay(600.0, -1, DecayPolicy(1.0, True, None), CONFIG)


def test_the_configured_policy_is_loaded():
    assert CONFIG.decay == DecayPolicy(2.0, True, None)
