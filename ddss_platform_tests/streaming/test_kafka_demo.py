"""Issue 7: the whole demo with the bus on a real Kafka-protocol broker (noida-db) instead of the
embedded log gives the same final scores.

One partition, so the scoring order is fixed: with several partitions, association effects that
cross partitions land in the order the runs happen to take, on either bus.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ddss_platform.settings import Settings
from ddss_platform.stores.documents import open_documents

pytestmark = [pytest.mark.slow, pytest.mark.live]

DDSS = str(Path(sys.executable).with_name("ddss"))
DEMO = ["demo", "--citizens", "300", "--events", "4000", "--seed", "21"]


def _demo(home, **env) -> dict[str, float]:
    environment = {**os.environ, "DDSS_HOME": str(home), "DDSS_PARTITIONS": "1", **env}
    home.parent.mkdir(parents=True)
    done = subprocess.run([DDSS, *DEMO], cwd=home.parent, env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "lag 0" in done.stdout
    documents = open_documents(Settings.from_env({"DDSS_HOME": str(home)}))
    try:
        snapshots = documents.all_snapshots()
    finally:
        documents.close()
    return dict(zip(snapshots.nationalID, snapshots.score))


def test_the_demo_on_kafka_scores_exactly_like_the_embedded_bus(tmp_path, noida_kafka):
    embedded = _demo(tmp_path / "embedded" / ".ddss")
    on_kafka = _demo(tmp_path / "kafka" / ".ddss", DDSS_BUS_URL=f"kafka://{noida_kafka}")
    assert len(embedded) > 300  # the seed world plus citizens registered by events
    assert on_kafka == embedded
