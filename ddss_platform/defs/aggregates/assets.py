"""The Spark batch aggregates: one run of the Spark job per day partition writes both tables.

The job runs in its own driver process (``spark-submit``, Dagster Pipes carries its summary back), so the
run worker never hosts a JVM and the same command runs the job on a cluster. Each run records its lineage
(``ddss_platform.defs.lineage``) on both materializations and checks the citizen counts against the snapshots.
"""

import time
from datetime import timedelta

import dagster as dg
import pandas as pd

from ddss_platform.defs import lineage
from ddss_platform.defs.asset_keys import EVENTS_ARCHIVE_ASSET, SCORE_SNAPSHOTS_ASSET
from ddss_platform.defs.metadata import OWNERS, preview_table, time_range
from ddss_platform.defs.partitions import DAILY, window_ns
from ddss_platform.defs.resources import StoresResource
from ddss_platform.events.topics import SCORED_TOPICS, SCORING_GROUP
from ddss_platform.spark.submit import aggregation_command, code_version, job_environment
from ddss_platform.stores.archive import CREDIT_SCORE_AGGREGATES, EVENTS_SUMMARY

GROUP = "aggregates"
CITIZEN_COUNT_CHECK = "citizen_counts_match_snapshots"
SPARK_CODE_VERSION = code_version()

_COMMON = dict(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"spark", "scylladb"},
    code_version=SPARK_CODE_VERSION,
    # the daily schedule computes the previous day at 00:30: a day and an hour without a run is a stopped schedule
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=25), warn_window=timedelta(days=1)),
)


@dg.multi_asset(
    name="spark_daily_aggregates",
    description="Run the Spark aggregation job (ddss_platform/spark/aggregation.py) for the partition day.",
    specs=[
        dg.AssetSpec(
            CREDIT_SCORE_AGGREGATES,
            description="Per home region and day: citizens, average/median/min/max score, citizens per tier, and "
            "how many citizens the day's events moved up (improvements) or down (deteriorations). Spark job over "
            "the day's archived events joined with each citizen registered by the day's end and its score then (the "
            "snapshot less the score history since: re-materializing a past day gives the same rows); ScyllaDB "
            "table of the same name.",
            deps=[EVENTS_ARCHIVE_ASSET, SCORE_SNAPSHOTS_ASSET],
            metadata={"table": CREDIT_SCORE_AGGREGATES},
            **_COMMON,
        ),
        dg.AssetSpec(
            EVENTS_SUMMARY,
            description="Per event type, event region and day: events, total and average score impact, distinct "
            "citizens. Spark job over the day's archived events (deduplicated by event id); ScyllaDB table of the "
            "same name.",
            deps=[EVENTS_ARCHIVE_ASSET],
            metadata={"table": EVENTS_SUMMARY},
            **_COMMON,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            CITIZEN_COUNT_CHECK,
            asset=CREDIT_SCORE_AGGREGATES,
            description="The day's citizens over all regions equal the number of citizen snapshots less those "
            "registered after the day. Blocking: a "
            "run whose aggregates miss or double citizens fails, so the day shows as failed, not as materialized.",
            blocking=True,
        )
    ],
    partitions_def=DAILY,
    can_subset=False,
)
def spark_daily_aggregates(
    context: dg.AssetExecutionContext, stores: StoresResource, pipes_subprocess_client: dg.PipesSubprocessClient
):
    day = context.partition_key
    settings = stores.settings()
    started = time.monotonic()
    inputs = lineage.input_versions(context.instance, [EVENTS_ARCHIVE_ASSET, SCORE_SNAPSHOTS_ASSET])
    with stores.documents() as documents:
        citizens_before = documents.citizen_count()
    with stores.bus() as bus:
        committed = {topic: bus.committed(SCORING_GROUP, topic) for topic in SCORED_TOPICS}
    invocation = pipes_subprocess_client.run(
        command=aggregation_command(settings, day), context=context, env=job_environment(settings)
    )
    messages = invocation.get_custom_messages()
    if not messages:
        raise dg.Failure(f"the Spark job for {day} ended without reporting its summary")
    summary = messages[-1]
    with stores.documents() as documents:
        citizens_after = documents.citizen_count()
    with stores.archive() as archive:
        credit = archive.read_aggregates(CREDIT_SCORE_AGGREGATES, start_day=day, end_day=day)
        events = archive.read_aggregates(EVENTS_SUMMARY, start_day=day, end_day=day)

    record = {
        "partition": day,
        "inputs": inputs,
        "archive": {
            "rows": summary["archive_rows"],
            "distinct_events": summary["distinct_events"],
            "offsets": summary["offsets"],
        },
        "scoring_runs": lineage.writing_runs(context.instance, EVENTS_ARCHIVE_ASSET, summary["offsets"]),
        "snapshot_offsets": lineage.snapshot_offsets(committed),
        "outputs": {CREDIT_SCORE_AGGREGATES: len(credit), EVENTS_SUMMARY: len(events)},
        "spark": {
            "app_id": summary["spark_app_id"],
            "master": summary["spark_master"],
            "version": summary["spark_version"],
            "duration_s": summary["duration_s"],
        },
        "code_version": SPARK_CODE_VERSION,
        "duration_s": round(time.monotonic() - started, 3),
    }
    shared = {
        "archive_rows": summary["archive_rows"],
        "distinct_events": summary["distinct_events"],
        "offset_ranges": preview_table(pd.DataFrame(summary["offsets"]), rows=50),
        "spark_app_id": summary["spark_app_id"],
        "code_version": SPARK_CODE_VERSION,
        "duration_s": record["duration_s"],
        **time_range(*window_ns(context)),
    }
    for table, frame in ((CREDIT_SCORE_AGGREGATES, credit), (EVENTS_SUMMARY, events)):
        yield dg.MaterializeResult(
            asset_key=table,
            metadata={
                "dagster/row_count": len(frame),
                "preview": preview_table(frame),
                **shared,
                lineage.LINEAGE_KEY: dg.MetadataValue.json({"asset": table, **record}),
            },
        )
    yield citizen_count_check(day, credit, citizens_before, citizens_after, summary["registered_after"])


def citizen_count_check(
    day: str, credit: pd.DataFrame, before: int, after: int, registered_after: int
) -> dg.AssetCheckResult:
    """The aggregates' citizens over all regions against the snapshots counted just before and after the Spark
    job, less the citizens the job found registered after the day: citizens are only ever created, so a correct
    total lies between the two."""
    total = int(credit["citizens"].sum()) if len(credit) else 0
    passed = before - registered_after <= total <= after - registered_after
    counted = f"{before}" if before == after else f"{before} before and {after} after the job"
    counted += f", less {registered_after} registered after the day" if registered_after else ""
    message = (
        f"{day}: {total} citizens over {len(credit)} regions, as many as the snapshots ({counted})"
        if passed
        else f"{day}: the aggregates count {total} citizens over {len(credit)} regions, the snapshots {counted}"
    )
    return dg.AssetCheckResult(
        check_name=CITIZEN_COUNT_CHECK,
        asset_key=CREDIT_SCORE_AGGREGATES,
        passed=passed,
        description=message,
        metadata={
            "aggregated_citizens": total,
            "snapshots_before": before,
            "snapshots_after": after,
            "registered_after_the_day": registered_after,
        },
    )
