"""The daily decay: the configuration's policy applied once per day, with DECAY_ADJUSTMENT history."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ddss_platform.defs.archive.decay import daily_decay
from ddss_platform.defs.dagster_instance import open_instance
from ddss_platform.defs.resources import StoresResource
from ddss_platform.processing.decay import DECAY_ADJUSTMENT, DECAY_GUARD, day_number, decay_changes
from ddss_platform.scoring import DecayPolicy
from ddss_platform.stores.archive import open_archive
from ddss_platform.stores.documents import open_documents
from ddss_platform.stores.timeseries import DERIVED_METRICS, SCORE_CHANGE_HISTORY, open_timeseries
from ddss_platform_tests.assets.samples import scoring_config

CONFIG = scoring_config(DecayPolicy(points_per_day=2.0, towards_baseline=True, minimum_score=None))


def doc(score: float, last_decay: int | None = None) -> dict:
    offsets = {} if last_decay is None else {DECAY_GUARD: last_decay}
    return {"scoreSnapshot": {"currentScore": score}, "appliedOffsets": offsets}


def test_decay_moves_toward_the_baseline_once_per_day_and_catches_up_missed_days():
    day = "2025-01-10"
    n = day_number(day)
    changes = {
        c.citizen_id: c
        for c in decay_changes(
            {
                "above": doc(600.0),  # never decayed: one day
                "below": doc(400.0, n - 3),  # last decayed three days ago: catches up three days
                "done": doc(600.0, n),  # already decayed today
                "later": doc(600.0, n + 1),  # decayed for a later day: an old day changes nothing
                "baseline": doc(500.0),  # nothing to move
            },
            CONFIG,
            day,
        )
    }
    assert set(changes) == {"above", "below"}
    assert (changes["above"].old_score, changes["above"].new_score, changes["above"].change) == (600.0, 598.0, -2.0)
    assert (changes["below"].new_score, changes["below"].change) == (406.0, 6.0)
    assert all(c.reason_category == DECAY_ADJUSTMENT and c.offset == n for c in changes.values())


@pytest.fixture
def scored_world(tmp_path):
    from ddss_platform.settings import Settings
    from ddss_platform_tests.assets.world import build_world

    settings = Settings.from_env({"DDSS_HOME": str(tmp_path / "ddss")})
    instance = open_instance(settings)
    world = build_world(settings, instance)
    yield world, instance
    instance.dispose()


def snapshots(settings) -> pd.Series:
    documents = open_documents(settings)
    try:
        return documents.all_snapshots().set_index("nationalID")["score"].astype(float)
    finally:
        documents.close()


def test_daily_decay_job_is_idempotent_per_day(scored_world):
    world, instance = scored_world
    settings = world.settings
    resources = {"stores": StoresResource.from_settings(settings)}
    before = snapshots(settings)
    previous = world.days[-1]
    day = (date.fromisoformat(previous) + timedelta(days=1)).isoformat()  # decay rows are recent points too

    first = daily_decay.execute_in_process(partition_key=day, instance=instance, resources=resources)
    after = snapshots(settings)
    moved = (after - before).abs()
    assert first.success and (moved > 0).any()
    # one day of the seed policy (1 point toward 500), never past the baseline
    assert ((moved <= 1.0 + 1e-9) & ((after - 500).abs() <= (before - 500).abs())).all()

    again = daily_decay.execute_in_process(partition_key=day, instance=instance, resources=resources)
    assert again.success
    pd.testing.assert_series_equal(snapshots(settings), after)
    older = daily_decay.execute_in_process(partition_key=previous, instance=instance, resources=resources)
    assert older.success
    pd.testing.assert_series_equal(snapshots(settings), after)

    changed = moved[moved > 0].index[0]
    archive = open_archive(settings)
    try:
        history = archive.read_score_history(changed)
    finally:
        archive.close()
    decays = history[history["reason"] == DECAY_ADJUSTMENT]
    assert len(decays) == 1 and decays.iloc[0]["new_score"] == after[changed]
    timeseries = open_timeseries(settings)
    try:
        points = timeseries.query(
            DERIVED_METRICS, SCORE_CHANGE_HISTORY, 0, 2**62, tags={"reasonCategory": DECAY_ADJUSTMENT}
        )
    finally:
        timeseries.close()
    assert len(points) == int((moved > 0).sum())
