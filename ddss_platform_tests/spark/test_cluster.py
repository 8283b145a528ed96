"""The daily aggregation on the Spark standalone cluster, reading the archive from Cassandra through the Spark
Cassandra connector, gives exactly what the embedded profile's local Spark gives on the same archive and citizens.
Both runs go through the command the aggregates asset runs (``spark-submit``, spark.submit)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pandas as pd
import pyarrow as pa
import pytest

from ddss_platform.cli.store_commands import SEED_DIR, initialise
from ddss_platform.settings import Settings
from ddss_platform.spark.submit import aggregation_command, job_environment
from ddss_platform.stores.archive import (
    CREDIT_SCORE_AGGREGATES,
    DAY_MS,
    EVENTS_SUMMARY,
    ScoreHistoryRow,
    day_start_ms,
    open_archive,
)
from ddss_platform_tests.spark.test_aggregation import DAY, archive_rows

pytestmark = [pytest.mark.live, pytest.mark.slow]
CITIZENS = 40


def _aggregate(settings: Settings) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Init the stores, archive the rows, run the job; (its summary, both tables' rows for the day)."""
    initialise(settings, CITIZENS, 7, SEED_DIR / "system_configuration.json", SEED_DIR / "scoring_rules.json")
    archive = open_archive(settings)
    try:
        events = archive_rows()
        archive.write_events(pa.Table.from_pandas(events, preserve_index=False), "spark-cluster-test")
        # after the day: score changes the job takes back, and a registration that leaves its citizen out
        later = day_start_ms(DAY) + DAY_MS + 3_600_000
        archive.write_score_history(
            [
                ScoreHistoryRow(f"CIT{i:08d}", later + i, f"ev-later-{i}", "r", 500.0, 500.0 + i, i, "test", "Standard")
                for i in range(1, 12)
            ],
            "spark-cluster-test-history",
        )
        registration = events.iloc[:1].assign(
            event_id="ev-registration", citizen_id="CIT00000020", event_type="new_citizen", event_time=later
        )
        archive.write_events(pa.Table.from_pandas(registration, preserve_index=False), "spark-cluster-test-later")
        done = subprocess.run(
            aggregation_command(settings, DAY),
            env=os.environ | job_environment(settings),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        tables = {
            name: archive.read_aggregates(name, start_day=DAY, end_day=DAY).drop(columns=["last_updated"])
            for name in (CREDIT_SCORE_AGGREGATES, EVENTS_SUMMARY)
        }
        return summary, tables
    finally:
        archive.close()


def test_the_cluster_reading_cassandra_aggregates_exactly_like_the_embedded_profile(
    tmp_path, spark_cluster, cassandra_netloc, ferretdb_url
):
    keyspace, database = f"ddss_spark_{uuid.uuid4().hex[:8]}", f"ddss_spark_{uuid.uuid4().hex[:8]}"
    production = Settings.from_env(
        {
            "DDSS_HOME": str(tmp_path / "production"),
            "DDSS_DOCUMENTS_URL": ferretdb_url.rsplit("/", 1)[0] + f"/{database}",
            "DDSS_ARCHIVE_URL": f"scylla://{cassandra_netloc}/{keyspace}?replication_class=SimpleStrategy&replication_factor=1",
            **spark_cluster,
        }
    )
    embedded = Settings.from_env({"DDSS_HOME": str(tmp_path / "embedded")})
    on_cluster, cluster_tables = _aggregate(production)
    local, local_tables = _aggregate(embedded)
    assert on_cluster["spark_master"] == spark_cluster["DDSS_SPARK_MASTER"] and local["spark_master"].startswith(
        "local"
    )
    # the Parquet archive keeps a replayed row's copies, Cassandra one row per key: the same events either way
    assert on_cluster["distinct_events"] == local["distinct_events"] > 0
    assert on_cluster["registered_after"] == local["registered_after"] == 1
    assert on_cluster["citizens_at_day_end"] == local["citizens_at_day_end"] == CITIZENS - 1

    def spans(summary):
        return [(o["topic"], o["partition"], o["first_offset"], o["last_offset"]) for o in summary["offsets"]]

    assert spans(on_cluster) == spans(local)
    for name, table in cluster_tables.items():
        # sums of the same floats in another order differ in the last bits
        pd.testing.assert_frame_equal(table, local_tables[name], check_exact=False, rtol=1e-12)
    assert len(cluster_tables[CREDIT_SCORE_AGGREGATES]) >= 3 and len(cluster_tables[EVENTS_SUMMARY]) > 3
