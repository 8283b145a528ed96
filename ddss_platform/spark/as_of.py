"""The citizens as they stood at the end of a day: what a past day's credit score aggregates are computed from.

A citizen's score at the end of day D is its snapshot now minus every change its score history holds from the
end of D on (each change as ``new_score - old_score``, what the snapshot actually moved, clamping included),
rounded like every score; its tier is the active configuration's tier of that score. A citizen counts from its
registration: one whose ``new_citizen`` event is after D is left out. Scoring later days moves the snapshot and
adds history rows by the same amounts, so a past day's aggregates stay what they were when re-materialized;
only the day's own data (a late event of D, say) changes them.

Depends on: every change of a snapshot has its history row (scoring, association effects and decay write one
before the snapshot), and the tiers of the configuration active when the job runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ddss_platform.scoring import ScoringConfig, load_configuration, round_score
from ddss_platform.settings import Settings
from ddss_platform.stores.archive import DAY_MS, day_start_ms, open_archive
from ddss_platform.stores.documents import open_documents

CITIZENS_SCHEMA = "national_id string, region string, score double, tier string"
CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"
NEW_CITIZEN = "new_citizen"


def scores_at_day_end(
    current: pd.DataFrame, later_change: pd.Series, registered_later: Iterable[str], config: ScoringConfig
) -> pd.DataFrame:
    """``current`` (CITIZENS_SCHEMA columns, the snapshots now) as of the day's end: ``later_change`` is each
    citizen's net score change since then (indexed by national_id), ``registered_later`` the citizens who
    registered since."""
    frame = current[~current["national_id"].isin(set(registered_later))].copy()
    change = frame["national_id"].map(later_change).fillna(0.0)
    frame["score"] = [round_score(score) for score in frame["score"] - change]
    frame["tier"] = [config.tier_for(score) for score in frame["score"]]
    return frame.reset_index(drop=True)


def citizens_at_day_end(spark: SparkSession, settings: Settings, day: str, read_days) -> tuple[DataFrame, int]:
    """Every citizen registered by the end of ``day``, with its home region, score and tier then (a DataFrame of
    CITIZENS_SCHEMA), and how many registered after it. ``read_days(days)`` reads archive days (the job's
    reader)."""
    end_ms = day_start_ms(day) + DAY_MS
    documents = open_documents(settings)
    try:
        snapshots = documents.all_snapshots()
        config = load_configuration(documents.load_active_configuration())
    finally:
        documents.close()
    current = snapshots.rename(columns={"nationalID": "national_id"})[["national_id", "region", "score", "tier"]]
    # plain object strings: pyspark's Arrow conversion predates pandas 3's string dtype
    current = current.astype({"national_id": object, "region": object, "score": float, "tier": object})
    later = (
        _history_since(spark, settings, end_ms, list(current["national_id"]))
        .groupBy("citizen_id")
        .agg(F.sum(F.col("new_score") - F.col("old_score")).alias("change"))
        .toPandas()
    )
    registered = _registered_since(settings, day, end_ms, read_days)
    frame = scores_at_day_end(current, later.set_index("citizen_id")["change"], registered, config)
    return spark.createDataFrame(frame, CITIZENS_SCHEMA), len(current) - len(frame)


def _history_since(spark: SparkSession, settings: Settings, end_ms: int, citizen_ids: list[str]) -> DataFrame:
    """Score history rows changed at or after ``end_ms``: the embedded Parquet dataset (its changed_date folders
    from that day on), or the citizens' ScyllaDB partitions through the connector."""
    if settings.archive.embedded:
        archive = open_archive(settings)
        try:
            root = archive.history_path()
        finally:
            archive.close()
        assert root is not None  # the embedded archive has one
        first = datetime.fromtimestamp(end_ms / 1000, UTC).date().isoformat()
        folders = [str(f) for f in sorted(root.glob("changed_date=*")) if f.name.partition("=")[2] >= first]
        if not folders:
            return spark.createDataFrame([], "citizen_id string, old_score double, new_score double")
        return at_or_after(spark.read.parquet(*folders), "changed_at", end_ms)
    # A join on the partition key: the connector's direct join reads each citizen's partition with one keyed query,
    # the time bound inside it, where a filtered table scan needs ALLOW FILTERING (which a strict cluster refuses).
    table = (
        spark.read.format(CASSANDRA_FORMAT)
        .options(keyspace=settings.archive.path, table="citizen_score_history", directJoinSetting="on")
        .load()
    )
    keys = spark.createDataFrame([(c,) for c in citizen_ids], "citizen_id string")
    # selected and kept before it is filtered and summed: the connector 3.5.1 fails a direct join whose output
    # columns are pruned away ("Couldn't find none#0"), as in the archive read
    rows = table.join(keys, ["citizen_id"]).select("citizen_id", "changed_at", "old_score", "new_score").persist()
    return at_or_after(rows, "changed_at", end_ms)


def at_or_after(frame: DataFrame, column: str, ms: int) -> DataFrame:
    """Rows whose time ``column`` is at or after ``ms``: epoch milliseconds in Parquet, a timestamp through the
    Cassandra connector."""
    bound = datetime.fromtimestamp(ms / 1000, UTC) if dict(frame.dtypes)[column] == "timestamp" else ms
    return frame.where(F.col(column) >= F.lit(bound))


def _registered_since(settings: Settings, day: str, end_ms: int, read_days) -> list[str]:
    """The citizens whose new_citizen event is archived after ``day``."""
    after = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    archive = open_archive(settings)
    try:
        days = sorted(archive.count_by_day(start_day=after))
    finally:
        archive.close()
    if not days:
        return []
    events = at_or_after(read_days(days).where(F.col("event_type") == NEW_CITIZEN), "event_time", end_ms)
    return [row.citizen_id for row in events.select("citizen_id").distinct().collect()]
