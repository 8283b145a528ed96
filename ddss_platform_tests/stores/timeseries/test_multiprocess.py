"""Four processes on one embedded time-series store at once: a scoring-style writer (many small batches, some
replayed), a batch writer (graph metrics, derived metrics, retention), two readers. No errors, no lost or
duplicated points."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ddss_platform.stores.timeseries import (
    CITIZEN_ACTIVITY_HOURLY,
    CITIZEN_EVENT,
    DERIVED_METRICS,
    RAW_EVENTS,
    SCORE_CHANGE_HISTORY,
    SOCIAL_GRAPH_DERIVED_METRICS,
    Point,
)
from ddss_platform.stores.timeseries.embedded import EmbeddedTimeSeries
from ddss_platform_tests.stores.timeseries.processes import run_store_scenario

HOUR = 3_600 * 10**9
T0 = (time.time_ns() - 48 * HOUR) // HOUR * HOUR  # recent: inside raw_events' retention
BATCHES, PER_BATCH, GRAPH_BATCHES, GRAPH_PER_BATCH = 40, 250, 15, 200


def scoring_writer(root: str) -> int:
    store = EmbeddedTimeSeries(Path(root))
    for b in range(BATCHES):
        offsets = range(b * PER_BATCH, (b + 1) * PER_BATCH)
        events = [
            Point(CITIZEN_EVENT, {"citizenID": f"c{o % 97}"}, {"eventID": f"e{o}", "score_impact": 1.0}, T0 + o * 10**6)
            for o in offsets
        ]
        changes = [
            Point(
                SCORE_CHANGE_HISTORY,
                {"citizenID": f"c{o % 97}"},
                {"newScore": 500.0 + o % 7, "tier": "Standard"},
                T0 + o * 10**6,
            )
            for o in offsets
        ]
        batch_id = f"citizen-events-0-{offsets.start}-{offsets.stop}"
        for _ in range(2 if b % 5 == 0 else 1):  # every fifth range is replayed
            store.write(RAW_EVENTS, events, batch_id)
            store.write(DERIVED_METRICS, changes, batch_id)
    store.close()
    return BATCHES


def batch_writer(root: str) -> int:
    store = EmbeddedTimeSeries(Path(root))
    for b in range(GRAPH_BATCHES):
        points = [
            Point(SOCIAL_GRAPH_DERIVED_METRICS, {"citizenID": f"c{i}"}, {"avgFamilyScore": 500.0 + b}, T0 + b * HOUR)
            for i in range(GRAPH_PER_BATCH)
        ]
        store.write(DERIVED_METRICS, points, f"graph-{b}")
        store.compute_derived(CITIZEN_ACTIVITY_HOURLY, T0, T0 + HOUR)
        store.enforce_retention(T0 + HOUR)  # nothing is old enough: reads every file, removes none
    store.close()
    return GRAPH_BATCHES


def reader(root: str, done) -> int:
    store = EmbeddedTimeSeries(Path(root))
    queries, last = 0, 0
    while not done.is_set() or queries < 3:
        df = store.query(RAW_EVENTS, CITIZEN_EVENT, T0, T0 + HOUR)
        assert not df.duplicated(["time_ns", "citizenID"]).any()
        assert len(df) >= last, "a reader saw points disappear"
        last = len(df)
        store.query(DERIVED_METRICS, SOCIAL_GRAPH_DERIVED_METRICS, T0, T0 + GRAPH_BATCHES * HOUR, {"citizenID": "c1"})
        queries += 1
    store.close()
    return queries


@pytest.mark.timeout(600)
def test_four_processes_share_the_store(tmp_path):
    root = str(tmp_path / "timeseries")
    EmbeddedTimeSeries(Path(root)).ensure_schema()
    run_store_scenario(root, scoring_writer, batch_writer, reader)
    store = EmbeddedTimeSeries(Path(root))
    raw = store.query(RAW_EVENTS, CITIZEN_EVENT, T0, T0 + HOUR)
    assert len(raw) == BATCHES * PER_BATCH and raw["eventID"].nunique() == BATCHES * PER_BATCH
    assert len(store.query(DERIVED_METRICS, SCORE_CHANGE_HISTORY, T0, T0 + HOUR)) == BATCHES * PER_BATCH
    graph = store.query(DERIVED_METRICS, SOCIAL_GRAPH_DERIVED_METRICS, T0, T0 + GRAPH_BATCHES * HOUR)
    assert len(graph) == GRAPH_BATCHES * GRAPH_PER_BATCH
    hourly = store.compute_derived(CITIZEN_ACTIVITY_HOURLY, T0, T0 + HOUR)
    assert hourly["eventCount"].sum() == BATCHES * PER_BATCH
