"""`ddss demo` on the production profile's real servers (Apache Kafka, SecantusDB, InfluxDB 2, Dgraph, Cassandra,
the Spark cluster) scores exactly as on the embedded profile: one partition and one seed, so the order is fixed.
Every citizen's score and tier, and what every store holds, are identical; and a second demo on noida-db's
Kafka protocol agrees too."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ddss_platform.events.simulator import recent_start_ms
from ddss_platform.events.topics import CITIZEN_EVENTS, CITIZEN_EVENTS_DLQ
from ddss_platform.settings import STORES, VARIABLES, Settings
from ddss_platform.stores import open_stores
from ddss_platform.stores.timeseries import CITIZEN_EVENT, DERIVED_METRICS, RAW_EVENTS, SCORE_CHANGE_HISTORY

pytestmark = [pytest.mark.slow, pytest.mark.live]

DDSS = str(Path(sys.executable).with_name("ddss"))
CITIZENS, EVENTS, SEED = 300, 4000, 21
PROFILE_VARIABLES = {VARIABLES[name] for name in (*STORES, "spark_master", "spark_packages", "spark_jars")}
START_MS = recent_start_ms(EVENTS, time.time_ns() // 1_000_000)  # one start for every demo of the session


def _demo(home: Path, env: dict[str, str]) -> Settings:
    # the profile is only what `env` names: store URLs exported in the shell (`scripts/servers.sh env`) would turn
    # the embedded demo into a second production one on the same servers
    inherited = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
    environment = {**inherited, "DDSS_HOME": str(home), "DDSS_PARTITIONS": "1", **env}
    home.parent.mkdir(parents=True)
    command = [
        DDSS,
        "demo",
        "--citizens",
        str(CITIZENS),
        "--events",
        str(EVENTS),
        "--seed",
        str(SEED),
        "--start-ms",
        str(START_MS),
        "--no-aggregate",  # the scoring is compared; the Spark job's production path has its own tests (spark/)
    ]
    done = subprocess.run(command, cwd=home.parent, env=environment, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "lag 0" in done.stdout
    return Settings.from_env(environment)


def contents(settings: Settings) -> dict[str, object]:
    """What each store holds after a demo, read through the ports."""
    window = (START_MS * 10**6 - 10**15, time.time_ns() + 10**12)
    with open_stores(settings) as stores:
        snapshots = stores.documents.all_snapshots()
        archive = stores.archive.count_by_day()
        return {
            "scores": dict(zip(snapshots.nationalID, zip(snapshots.score, snapshots.tier))),
            "tiers": stores.documents.count_by_tier(),
            "bus": {
                topic: sum(stores.bus.end_offsets(topic).values()) for topic in (CITIZEN_EVENTS, CITIZEN_EVENTS_DLQ)
            },
            "archive_events": sum(archive.values()),
            "archive_days": sorted(archive),
            "raw_events": len(stores.timeseries.query(RAW_EVENTS, CITIZEN_EVENT, *window)),
            "score_change_history": len(stores.timeseries.query(DERIVED_METRICS, SCORE_CHANGE_HISTORY, *window)),
            "graph": stores.graph.counts(),
        }


def test_the_demo_on_the_real_servers_equals_the_embedded_demo(tmp_path, production_env, noida_kafka):
    embedded = contents(_demo(tmp_path / "embedded" / ".ddss", {}))
    production = contents(_demo(tmp_path / "production" / ".ddss", production_env))
    assert len(embedded["scores"]) > CITIZENS  # the seed world plus citizens registered by events
    assert embedded["raw_events"] > 0 and embedded["score_change_history"] > 0  # recent: inside every retention
    assert production == embedded
    noida = contents(_demo(tmp_path / "noida" / ".ddss", {"DDSS_BUS_URL": f"kafka://{noida_kafka}"}))
    assert noida == embedded
