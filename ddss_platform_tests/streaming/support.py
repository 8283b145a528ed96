"""Shared by the streaming tests: a seeded data directory, a simulated stream, and every store's content."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ddss_platform.cli.store_commands import SEED_DIR, initialise
from ddss_platform.events.simulator import simulate_records
from ddss_platform.events.topics import CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import OffsetRange, read_dead_letters
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform.stores.timeseries import CITIZEN_EVENT, DERIVED_METRICS, RAW_EVENTS, SCORE_CHANGE_HISTORY
from ddss_platform_tests.recent import START_MS

REPO = Path(__file__).resolve().parents[2]
ALL_TIME = (0, 2**62)


def settings_for(home: Path, partitions: int = 3) -> Settings:
    return Settings.from_env({"DDSS_HOME": str(home), "DDSS_PARTITIONS": str(partitions)})


def seed_stores(settings: Settings, citizens: int, seed: int = 42) -> None:
    """`ddss init --citizens N`."""
    initialise(settings, citizens, seed, SEED_DIR / "system_configuration.json", SEED_DIR / "scoring_rules.json")


def produce(settings: Settings, citizens: int, events: int, seed: int = 0, bad_fraction: float = 0.0) -> int:
    """`ddss simulate` (the same records for the same arguments)."""
    with open_stores(settings) as ports:
        records = list(
            simulate_records(ports.codec, citizens, events, seed=seed, bad_fraction=bad_fraction, start_ms=START_MS)
        )
        return ports.bus.produce(CITIZEN_EVENTS, records)


def run_range_in_subprocess(
    settings: Settings, rng: OffsetRange, crash_at: int | None = None, chunk_size: int | None = None
) -> int:
    """Process the range in a fresh interpreter, as a run worker does; returns its exit code."""
    env = {**os.environ, "DDSS_HOME": str(settings.home), "DDSS_PARTITIONS": str(settings.partitions)}
    env.pop("DDSS_CRASH_AT", None)
    if crash_at is not None:
        env["DDSS_CRASH_AT"] = str(crash_at)
    argv = [sys.executable, "-m", "ddss_platform_tests.streaming.range_worker", rng.key]
    if chunk_size:
        argv.append(str(chunk_size))
    return subprocess.run(argv, env=env, cwd=REPO, timeout=300).returncode


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _comparable(doc: dict) -> dict:
    """The document without wall-clock fields: metadata, and a snapshot time still set by `ddss init`."""
    created = doc.get("metadata", {}).get("createdAt")
    doc = {k: v for k, v in doc.items() if k not in ("metadata", "_id")}
    if doc["scoreSnapshot"]["lastCalculated"] == created:
        doc["scoreSnapshot"] = {**doc["scoreSnapshot"], "lastCalculated": "at init"}
    return doc


def store_contents(settings: Settings) -> dict:
    """Everything the scoring runs write, in a comparable form (wall-clock metadata left out)."""
    with open_stores(settings) as ports:
        ids, after = [], None
        while page := ports.documents.find_citizens(after_id=after, limit=5000):
            ids += [doc["nationalID"] for doc in page]
            after = ids[-1]
        docs = ports.documents.get_citizens(ids)
        citizens = {cid: _comparable(doc) for cid, doc in sorted(docs.items())}
        history = pd.concat([ports.archive.read_score_history(cid, limit=10**6) for cid in ids], ignore_index=True)
        return {
            "citizens": citizens,
            "citizen_score_history": _sorted(history),
            "archive": _sorted(ports.archive.read_events()),
            "raw_events": _sorted(ports.timeseries.query(RAW_EVENTS, CITIZEN_EVENT, *ALL_TIME)),
            "score_change_history": _sorted(ports.timeseries.query(DERIVED_METRICS, SCORE_CHANGE_HISTORY, *ALL_TIME)),
            "cooldowns": dict(sorted(ports.archive.load_cooldowns(ids).items())),
            "graph": _sorted(ports.graph.all_edges()),
            # without the source record's timestamp: each data directory's stream was produced at its own time
            "dead_letters": sorted(
                (replace(d, source_timestamp_ms=0) for d in read_dead_letters(ports.bus)),
                key=lambda d: (d.source_partition, d.source_offset),
            ),
            "committed": ports.bus.committed(SCORING_GROUP, CITIZEN_EVENTS),
            "parked_effects": ports.documents.parked_effect_counts(),
        }


def assert_same_contents(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    for name in expected:
        want, got = expected[name], actual[name]
        if isinstance(want, pd.DataFrame):
            assert len(want) > 0 or name in ("graph",), f"{name}: the clean pass wrote nothing to compare"
            pd.testing.assert_frame_equal(want, got, check_dtype=False, obj=name)
        elif isinstance(want, dict):
            differing = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
            assert not differing, (
                f"{name}: {len(differing)} entries differ, e.g. {differing[0]!r}: "
                f"clean {want.get(differing[0])!r} vs {got.get(differing[0])!r}"
            )
        elif isinstance(want, list):
            assert len(want) == len(got), f"{name}: {len(want)} in the clean pass, {len(got)} here"
            differing = [i for i, (a, b) in enumerate(zip(want, got)) if a != b]
            assert not differing, f"{name}: item {differing[0]} differs: {want[differing[0]]} vs {got[differing[0]]}"
        else:
            assert want == got, f"{name}: {want} in the clean pass, {got} here"
