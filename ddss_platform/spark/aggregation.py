"""Daily batch aggregation of the events archive (the Spark job).

For one UTC day it reads the archived events (the Parquet dataset on the embedded profile, ScyllaDB through
the Spark Cassandra connector in production), joins the citizens' home region and their score as of the end of
the day (``as_of``: the snapshots less the score history since), and writes through the archive port:

* ``credit_score_aggregates_by_region_date`` - per home region: citizens, average/median/min/max score,
  citizens per tier, and how many citizens' scores went up (improvements) or down (deteriorations) through
  that day's events (sum of their score impacts);
* ``events_summary_by_type_location_date`` - per event type and event region: events, total and average
  score impact, distinct citizens.

It also reports where its input came from: archive rows per bus topic/partition with the first and last
offset, so each aggregate can be traced back to the records of the topic.

Run it with ``spark-submit ddss_platform/spark/aggregation.py --day 2026-11-20`` (a cluster), or
``python -m ddss_platform.spark.aggregation --day 2026-11-20`` (master from DDSS_SPARK_MASTER). The last
line printed is the run summary as JSON; under Dagster Pipes the summary goes to the Dagster run instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import date

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from ddss_platform.settings import Settings
from ddss_platform.spark.as_of import CASSANDRA_FORMAT, citizens_at_day_end
from ddss_platform.spark.session import spark_session
from ddss_platform.stores.archive import (
    AGGREGATE_TABLES,
    CREDIT_SCORE_AGGREGATES,
    EVENTS_ARCHIVE,
    EVENTS_SUMMARY,
    open_archive,
)
from ddss_platform.stores.archive.scylla import DAY_BUCKETS

APP_NAME = "ddss-batch-aggregation"
# tier_<tier in lower case>_count columns of the credit score table, e.g. "HighRisk" -> tier_highrisk_count
TIER_COUNT = re.compile(r"^tier_(\w+)_count$")
TIER_COLUMNS = [c for c in AGGREGATE_TABLES[CREDIT_SCORE_AGGREGATES].schema.names if TIER_COUNT.match(c)]
# A day's net change is a sum of floats: engines adding in different orders differ by ~1e-13 around zero, so a
# citizen counts as improved or deteriorated only beyond this.
CHANGE_EPSILON = 1e-9


@dataclass(frozen=True)
class ArchivedOffsets:
    """The archive rows of the day that came from one topic partition, and the offsets they span."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    rows: int


@dataclass
class DayAggregates:
    credit_scores: pd.DataFrame  # credit_score_aggregates_by_region_date columns but aggregation_date/last_updated
    events_summary: pd.DataFrame  # events_summary_by_type_location_date likewise
    offsets: list[ArchivedOffsets]
    events: int  # distinct events (the archive may hold a replayed event twice)

    @property
    def archive_rows(self) -> int:
        return sum(o.rows for o in self.offsets)


PER_CITIZEN_VIEW = "ddss_day_per_citizen"
# per_citizen has one row per citizen, type and region: counting rows counts distinct citizens
LEVELS_SQL = f"""
SELECT event_type, region, citizen_id, grouping(citizen_id) AS is_summary,
       sum(events) AS events, sum(score_impact) AS score_impact, count(1) AS citizens
FROM {PER_CITIZEN_VIEW}
GROUP BY GROUPING SETS ((event_type, region), (citizen_id))
"""


def aggregate_day(events: DataFrame, citizens: DataFrame) -> DayAggregates:
    """The two aggregate tables of one day's archive rows (``EVENTS_ARCHIVE`` columns) and the citizens
    (``CITIZENS_SCHEMA``), with the offset ranges the rows came from.

    One shuffle does the heavy part: rows are hash-partitioned by citizen, so deduplication and the
    per-citizen sums run without moving data again; one grouping-sets pass then yields both the per-type
    summary and each citizen's net change, small enough to cache for the two reads."""
    offsets = (
        events.groupBy("topic", "partition")
        .agg(
            F.min("offset").alias("first_offset"), F.max("offset").alias("last_offset"), F.count(F.lit(1)).alias("rows")
        )
        .orderBy("topic", "partition")
        .collect()
    )
    # A replayed event repeats the whole row, so grouping by its citizen, type and region with the event id
    # removes copies while every aggregation buffer stays fixed-width (hash aggregation; Spark's dropDuplicates
    # keeps string columns in its buffers and falls back to sorting).
    per_citizen = (
        events.select("citizen_id", "event_id", "event_type", "region", "score_impact")
        .repartition("citizen_id")
        .groupBy("citizen_id", "event_id", "event_type", "region")
        .agg(F.max("score_impact").alias("score_impact"))
        .groupBy("citizen_id", "event_type", "region")
        .agg(F.count(F.lit(1)).alias("events"), F.sum("score_impact").alias("score_impact"))
    )
    # GROUPING SETS in SQL: the DataFrame method for it arrived in Spark 4, and the jobs run on Spark 3.5
    per_citizen.createOrReplaceTempView(PER_CITIZEN_VIEW)
    levels = per_citizen.sparkSession.sql(LEVELS_SQL).cache()
    try:
        summary = (
            levels.where("is_summary = 1")
            .select(
                "event_type",
                "region",
                F.col("events").alias("event_count"),
                F.col("score_impact").alias("total_score_impact"),
                (F.col("score_impact") / F.col("events")).alias("avg_score_impact"),
                F.col("citizens").alias("distinct_citizens"),
            )
            .orderBy("event_type", "region")
            .toPandas()
        )
        net_change = levels.where("is_summary = 0").select("citizen_id", F.col("score_impact").alias("net_change"))
        credit = _credit_scores(citizens, net_change).toPandas()
    finally:
        levels.unpersist()
    return DayAggregates(
        credit_scores=credit,
        events_summary=summary,
        offsets=[
            ArchivedOffsets(r.topic, int(r.partition), int(r.first_offset), int(r.last_offset), int(r.rows))
            for r in offsets
        ],
        events=int(summary["event_count"].sum()),
    )


def _credit_scores(citizens: DataFrame, net_change: DataFrame) -> DataFrame:
    """Per home region: the citizens' score distribution and tiers, and whose score the day's events moved."""
    joined = citizens.join(net_change, citizens.national_id == net_change.citizen_id, "left")
    tier = F.lower(F.col("tier"))
    return (
        joined.groupBy(citizens.region)
        .agg(
            F.count(F.lit(1)).alias("citizens"),
            F.avg("score").alias("avg_score"),
            F.median("score").alias("median_score"),
            F.min("score").alias("min_score"),
            F.max("score").alias("max_score"),
            *[F.count_if(tier == TIER_COUNT.match(c).group(1)).alias(c) for c in TIER_COLUMNS],
            F.count_if(F.col("net_change") > CHANGE_EPSILON).alias("improvements"),
            F.count_if(F.col("net_change") < -CHANGE_EPSILON).alias("deteriorations"),
        )
        .orderBy("region")
    )


# --- inputs -----------------------------------------------------------------------------------------------


def read_archive_day(spark: SparkSession, settings: Settings, day: str) -> DataFrame:
    """The archive rows of one UTC day (``read_archive_days``)."""
    return read_archive_days(spark, settings, [day])


def read_archive_days(spark: SparkSession, settings: Settings, days: list[str]) -> DataFrame:
    """The archive rows of these UTC days: the days' Parquet folders (embedded) or their ScyllaDB partitions."""
    if settings.archive.embedded:
        archive = open_archive(settings)
        try:
            folders = [archive.archive_path() / f"event_date={day}" for day in days]
        finally:
            archive.close()
        found = [str(folder) for folder in folders if any(folder.glob("*.parquet"))]
        if not found:
            return spark.createDataFrame([], from_arrow_schema(EVENTS_ARCHIVE))
        return spark.read.parquet(*found)
    # The days' partitions of events_by_day, as a join on the whole partition key: the connector's direct join
    # (spark.submit.cassandra_conf) reads exactly those DAY_BUCKETS partitions, one keyed query each, where a
    # filtered table scan would visit the whole table (ALLOW FILTERING, which a strict cluster refuses).
    table = (
        spark.read.format(CASSANDRA_FORMAT)
        .options(keyspace=settings.archive.path, table="events_by_day", directJoinSetting="on")
        .load()
    )
    keys = spark.createDataFrame(
        [(date.fromisoformat(day), b) for day in days for b in range(DAY_BUCKETS)], "event_date date, bucket int"
    )
    # Read once and kept: the job aggregates the day several ways, and a direct join whose output no column of
    # is used (a bare count) fails inside the connector 3.5.1 ("Couldn't find none#0")
    return table.join(keys, ["event_date", "bucket"]).select(*EVENTS_ARCHIVE.names).persist()


# --- the job ----------------------------------------------------------------------------------------------


@dataclass
class DayRun:
    day: str
    aggregates: DayAggregates
    citizens_at_day_end: int  # registered by the end of the day
    registered_after: int  # citizens left out: registered after the day
    spark_app_id: str
    spark_master: str
    spark_version: str
    duration_s: float

    def summary(self) -> dict:
        """What the run read and wrote, JSON-ready (the lineage the Dagster asset records)."""
        return {
            "day": self.day,
            "archive_rows": self.aggregates.archive_rows,
            "distinct_events": self.aggregates.events,
            "citizens_at_day_end": self.citizens_at_day_end,
            "registered_after": self.registered_after,
            "offsets": [asdict(o) for o in self.aggregates.offsets],
            "outputs": {
                CREDIT_SCORE_AGGREGATES: _records(self.aggregates.credit_scores),
                EVENTS_SUMMARY: _records(self.aggregates.events_summary),
            },
            "spark_app_id": self.spark_app_id,
            "spark_master": self.spark_master,
            "spark_version": self.spark_version,
            "duration_s": round(self.duration_s, 3),
        }


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def run_day(settings: Settings, day: str, spark: SparkSession | None = None) -> DayRun:
    """Aggregate one day and replace that day's rows of both tables through the archive port."""
    date.fromisoformat(day)  # a malformed day fails here, before Spark starts
    started = time.monotonic()
    spark = spark or spark_session(settings.spark_master, APP_NAME)
    citizens, registered_after = citizens_at_day_end(
        spark, settings, day, lambda days: read_archive_days(spark, settings, days)
    )
    aggregates = aggregate_day(read_archive_day(spark, settings, day), citizens)
    written_at = time.time_ns() // 1_000_000
    archive = open_archive(settings)
    try:
        archive.write_aggregates(CREDIT_SCORE_AGGREGATES, aggregates.credit_scores.assign(last_updated=written_at), day)
        archive.write_aggregates(EVENTS_SUMMARY, aggregates.events_summary.assign(last_updated=written_at), day)
    finally:
        archive.close()
    context = spark.sparkContext
    total = int(aggregates.credit_scores["citizens"].sum()) if len(aggregates.credit_scores) else 0
    return DayRun(
        day,
        aggregates,
        total,
        registered_after,
        context.applicationId,
        context.master,
        spark.version,
        time.monotonic() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--day", required=True, help="UTC day to aggregate, YYYY-MM-DD")
    args = parser.parse_args(argv)
    with _dagster_pipes() as pipes:
        summary = run_day(Settings.from_env(), args.day).summary()
        if pipes is None:
            print(json.dumps(summary))
        else:
            pipes.report_custom_message(summary)
            pipes.log.info(
                f"aggregated {args.day}: {summary['archive_rows']} archive rows in {summary['duration_s']} s"
            )
    return 0


def _dagster_pipes():
    """The Pipes channel back to the Dagster run that launched this driver; nothing when run by hand."""
    from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, open_dagster_pipes

    return open_dagster_pipes() if DAGSTER_PIPES_CONTEXT_ENV_VAR in os.environ else nullcontext()


if __name__ == "__main__":
    sys.exit(main())
