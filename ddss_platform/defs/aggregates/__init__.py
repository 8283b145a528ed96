"""Dagster definitions of the aggregates domain; merged by ddss_platform.definitions.

The Spark batch aggregates (one run per day partition), their job and the daily schedule that runs the
previous day; a backfill runs any range of days.
"""

import dagster as dg

from ddss_platform.defs.aggregates.assets import spark_daily_aggregates

spark_aggregates = dg.define_asset_job(
    "spark_aggregates",
    selection=[spark_daily_aggregates],
    description="Aggregate one day of the events archive with Spark (credit score and events summary tables).",
)

defs = dg.Definitions(
    assets=[spark_daily_aggregates],
    jobs=[spark_aggregates],
    schedules=[
        dg.build_schedule_from_partitioned_job(
            spark_aggregates, hour_of_day=0, minute_of_hour=30, default_status=dg.DefaultScheduleStatus.RUNNING
        )
    ],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
)
