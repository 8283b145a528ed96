"""Dagster definitions of the metrics domain; merged by ddss_platform.definitions.

The Flux-derived metrics (hourly, daily, monthly partitions), the asset deploying their Flux tasks (each metric
with a FreshnessPolicy of its cadence), one schedule per cadence, and the sensor that recomputes the
computed partitions late events land in.
"""

import dagster as dg

from ddss_platform.defs.metrics.assets import (
    DERIVED_METRIC_ASSETS,
    citizen_activity_hourly,
    citizen_summary_daily,
    flux_tasks,
    system_aggregates_daily,
    system_aggregates_monthly,
)
from ddss_platform.defs.metrics.late_data import late_data_sensor

hourly_metrics = dg.define_asset_job(
    "hourly_metrics",
    selection=[citizen_activity_hourly],
    description="Compute citizen_activity_hourly for one hour.",
)
daily_metrics = dg.define_asset_job(
    "daily_metrics",
    selection=[citizen_summary_daily, system_aggregates_daily],
    description="Compute the daily citizen summary and the system aggregates for one day.",
)
monthly_metrics = dg.define_asset_job(
    "monthly_metrics",
    selection=[system_aggregates_monthly],
    description="Downsample the daily system aggregates of one month.",
)

defs = dg.Definitions(
    assets=[flux_tasks, *DERIVED_METRIC_ASSETS],
    jobs=[hourly_metrics, daily_metrics, monthly_metrics],
    sensors=[late_data_sensor],
    schedules=[
        dg.build_schedule_from_partitioned_job(
            hourly_metrics, minute_of_hour=5, default_status=dg.DefaultScheduleStatus.RUNNING
        ),
        dg.build_schedule_from_partitioned_job(
            daily_metrics, hour_of_day=0, minute_of_hour=15, default_status=dg.DefaultScheduleStatus.RUNNING
        ),
        dg.build_schedule_from_partitioned_job(
            monthly_metrics, day_of_month=1, hour_of_day=1, default_status=dg.DefaultScheduleStatus.RUNNING
        ),
    ],
)
