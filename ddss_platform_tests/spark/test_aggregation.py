"""The Spark aggregation against an independent pandas computation, on a local Spark session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ddss_platform.spark.aggregation import aggregate_day, read_archive_day
from ddss_platform.spark.as_of import CITIZENS_SCHEMA
from ddss_platform.spark.session import spark_session
from ddss_platform.stores.archive import EVENTS_ARCHIVE, day_start_ms, events_table, open_archive
from ddss_platform_tests.spark.pandas_reference import (
    assert_same,
    expected_credit_scores,
    expected_events_summary,
    expected_offsets,
)

pytestmark = pytest.mark.slow  # starts a Spark session

DAY = "2025-03-04"
REGIONS = ("North", "South", "East")


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", "ddss-test-aggregation")
    yield session
    session.stop()


def citizens_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    score = np.round(rng.uniform(0, 1000, n), 2)
    tier = np.select([score >= 800, score >= 500, score >= 300], ["Exemplary", "Standard", "Caution"], "HighRisk")
    return pd.DataFrame(
        {
            "national_id": [f"CIT{i:08d}" for i in range(n)],
            "region": [REGIONS[i % 3] for i in range(n)],
            "score": score,
            "tier": tier,
        }
    )


def archive_rows(n: int = 300) -> pd.DataFrame:
    """Rows of one day: known and unknown citizens, zero impacts (no rule), three partitions, and replayed
    copies of some rows (the same event archived twice)."""
    rng = np.random.default_rng(5)
    citizen = rng.integers(0, 45, n)  # 40..44 are not citizens (unknown_citizen)
    impact = np.where(rng.random(n) < 0.2, 0.0, np.round(rng.normal(0, 10, n), 2))
    rows = pd.DataFrame(
        {
            "event_id": [f"ev-{i}" for i in range(n)],
            "citizen_id": [f"CIT{c:08d}" for c in citizen],
            "event_time": day_start_ms(DAY) + rng.integers(0, 86_400_000, n),
            "event_type": rng.choice(["financial", "social", "legal"], n),
            "event_subtype": "x",
            "source_system": "test",
            "region": rng.choice(REGIONS, n),
            "city": "c",
            "severity": rng.random(n),
            "confidence": 1.0,
            "payload": "{}",
            "score_impact": impact,
            "status": np.where(citizen >= 40, "unknown_citizen", np.where(impact == 0, "no_rule", "scored")),
            "topic": "citizen-events",
            "partition": (citizen % 3).astype("int32"),
            "offset": np.arange(n) + 1000,
        }
    )
    # a citizen whose day nets to zero up to float noise (0.1 + 0.2 - 0.3 != 0): neither improved nor not
    rows.loc[rows["citizen_id"] == "CIT00000039", "score_impact"] = 0.0
    rows.loc[0:2, "citizen_id"] = "CIT00000039"
    rows.loc[0:2, "score_impact"] = [0.1, 0.2, -0.3]
    return pd.concat([rows, rows.iloc[::17]], ignore_index=True)  # replays


def test_aggregates_equal_pandas(spark):
    events, citizens = archive_rows(), citizens_frame()
    result = aggregate_day(
        spark.createDataFrame(events_table(pa.Table.from_pandas(events, preserve_index=False)).to_pandas()),
        spark.createDataFrame(citizens, CITIZENS_SCHEMA),
    )
    assert_same(result.events_summary, expected_events_summary(events))
    assert_same(result.credit_scores, expected_credit_scores(events, citizens))
    assert_same(pd.DataFrame([o.__dict__ for o in result.offsets]), expected_offsets(events))
    assert result.archive_rows == len(events)
    assert result.events == events["event_id"].nunique() < len(events)


def test_every_region_of_the_citizens_is_reported_on_a_day_without_events(spark, embedded_settings):
    citizens = citizens_frame()
    result = aggregate_day(
        read_archive_day(spark, embedded_settings, DAY), spark.createDataFrame(citizens, CITIZENS_SCHEMA)
    )
    assert list(result.credit_scores["region"]) == sorted(REGIONS)
    assert result.credit_scores["citizens"].sum() == len(citizens)
    assert (result.credit_scores[["improvements", "deteriorations"]] == 0).all().all()
    assert result.events_summary.empty and result.offsets == [] and result.events == 0


def test_reads_the_embedded_archive_day_written_by_the_port(spark, embedded_settings):
    events = archive_rows()
    archive = open_archive(embedded_settings)
    try:
        archive.ensure_schema()
        archive.write_events(pa.Table.from_pandas(events.iloc[:200], preserve_index=False), "batch-a")
        archive.write_events(
            pa.Table.from_pandas(events.iloc[150:], preserve_index=False), "batch-b"
        )  # overlaps batch-a: replayed rows
    finally:
        archive.close()
    frame = read_archive_day(spark, embedded_settings, DAY)
    assert set(frame.columns) == set(EVENTS_ARCHIVE.names)
    assert frame.count() == len(events) + 50
    assert frame.select("event_id").distinct().count() == events["event_id"].nunique()
