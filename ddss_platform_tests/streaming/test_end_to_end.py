"""Through a real Dagster instance: the daemon's scoring sensor launches runs (partitions side by side) until the
lag is zero, and every citizen's final score is what the pure scoring core computes from the same inputs."""

from __future__ import annotations

import dagster as dg
import pytest

from ddss_platform.defs import dagster_instance
from ddss_platform.defs.scoring_runs import backlog
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS
from ddss_platform.processing import load_scoring
from ddss_platform.scoring import CitizenState, Edge, SourcedEvent, reference_scores
from ddss_platform.stores import open_stores
from ddss_platform.stores.documents import offset_key
from ddss_platform_tests.streaming.support import produce, seed_stores, settings_for
from ddss_platform_tests.waiting import wait_until

CITIZENS = 600
EVENTS = 9_000


def reference_inputs(settings):
    """Rules, configuration, citizens, edges and events as they stand before any run, straight from the stores."""
    with open_stores(settings) as ports:
        config, rules = load_scoring(ports.documents)
        docs = ports.documents.find_citizens(limit=10 * CITIZENS)
        citizens = {
            d["nationalID"]: CitizenState(
                d["nationalID"], d["scoreSnapshot"]["currentScore"], d["scoreSnapshot"]["tier"], d.get("flags", {})
            )
            for d in docs
        }
        edges = _edges(ports.graph.all_edges())
        events = {}
        for partition, end in ports.bus.end_offsets(CITIZEN_EVENTS).items():
            records = ports.bus.read_range(CITIZEN_EVENTS, partition, 0, end)
            events[partition] = [SourcedEvent(r.offset, ports.codec.decode(r.value)) for r in records]
    return config, rules, citizens, edges, events


def _edges(frame) -> list[Edge]:
    import pandas as pd

    return [
        Edge(
            row.source,
            row.target,
            row.type,
            float(row.strength),
            0 if pd.isna(row.start_ms) else int(row.start_ms),
            None if pd.isna(row.end_ms) else int(row.end_ms),
        )
        for row in frame.itertuples()
    ]


def reference(events, rules, config, citizens, edges) -> dict[str, float]:
    """citizen -> final score by the pure pipeline. Runs of different partitions overlap, in an order not known;
    with every association effect applied once (``docs/effects.md``) the order matters only to a score that
    reached a bound, which this stream's scores do not (checked)."""
    final = reference_scores(
        {offset_key(CITIZEN_EVENTS, p): events[p] for p in sorted(events)}, rules, config, citizens, edges
    )
    assert all(config.min_score < score < config.max_score for score in final.values())
    return final


def wait_until_scored(settings, instance, daemon, timeout_s: float) -> None:
    def alive() -> None:
        assert daemon.alive(), f"the daemon exited; see {daemon.log_path}"

    with open_stores(settings) as ports:
        wait_until(
            lambda: backlog(ports.bus, instance)[1:] == (0, 0),
            what="lag and scoring runs in flight at zero",
            timeout_s=timeout_s,
            interval_s=1.0,
            check=alive,
        )


@pytest.mark.slow
def test_sensor_launched_runs_reach_zero_lag_with_the_reference_scores(tmp_path):
    settings = settings_for(tmp_path / "ddss")
    seed_stores(settings, CITIZENS)
    produce(settings, CITIZENS, EVENTS, seed=11)
    config, rules, citizens, edges, events = reference_inputs(settings)

    daemon = dagster_instance.start_daemon(settings)
    instance = dagster_instance.open_instance(settings)
    try:
        dagster_instance.wait_for_daemon(settings, daemon)
        wait_until_scored(settings, instance, daemon, timeout_s=900)
    finally:
        daemon.stop()

    runs = instance.get_runs(filters=dg.RunsFilter(job_name="score_events"))
    assert runs and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    expected = reference(events, rules, config, citizens, edges)
    assert set(citizens) < set(expected)  # new_citizen events created citizens too
    with open_stores(settings) as ports:
        docs = ports.documents.get_citizens(expected)
        assert sum(ports.bus.end_offsets(CITIZEN_EFFECTS).values()) > 0
    actual = {cid: doc["scoreSnapshot"]["currentScore"] for cid, doc in docs.items()}
    assert len(actual) == len(expected)
    differing = {cid: (expected[cid], actual.get(cid)) for cid in expected if actual.get(cid) != expected[cid]}
    assert not differing, f"{len(differing)} citizens differ from the reference, e.g. {list(differing.items())[:3]}"
    instance.dispose()
