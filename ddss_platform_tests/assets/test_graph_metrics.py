"""The graph-derived metrics' pure parts: tier risk weights, association risk, the points written."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ddss_platform.processing.graph_metrics import derived_points
from ddss_platform.stores.graph.analysis import association_risk, tier_risk
from ddss_platform_tests.assets.samples import scoring_config

CONFIG = scoring_config()


def test_tier_risk_runs_from_one_for_the_lowest_tier_to_zero_for_the_highest():
    assert tier_risk(CONFIG) == pytest.approx({"HighRisk": 1.0, "Caution": 2 / 3, "Standard": 1 / 3, "Exemplary": 0.0})


def test_association_risk_is_the_strength_weighted_mean_over_known_neighbours():
    edges = pd.DataFrame(
        {
            "source": ["a", "a", "a", "b"],
            "target": ["risky", "good", "stranger", "good"],
            "type": ["family", "friend", "colleague", "friend"],
            "strength": [0.75, 0.25, 1.0, 0.5],
        }
    )
    tiers = pd.Series({"risky": "HighRisk", "good": "Exemplary"})
    risk = association_risk(edges, tiers, tier_risk(CONFIG))
    assert risk["a"] == pytest.approx(0.75)  # (0.75·1 + 0.25·0) / (0.75 + 0.25); the stranger has no snapshot
    assert risk["b"] == 0.0


def test_points_leave_out_fields_without_a_value():
    frame = pd.DataFrame(
        {"avgFamilyScore": [math.nan, 512.5], "familySize": [0, 2], "associationRisk": [0.5, math.nan]},
        index=pd.Index(["x", "y"], name="nationalID"),
    )
    x, y = derived_points(frame, 7)
    assert x.tags == {"citizenID": "x"} and x.time_ns == 7
    assert set(x.fields) == {"familySize", "associationRisk"}
    assert set(y.fields) == {"avgFamilyScore", "familySize"}
