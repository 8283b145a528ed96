"""The derived time-series metrics: one Flux task each in production (deployed by ``flux_tasks``), the same
definitions in SQL on the embedded profile; either way the timeseries port's ``compute_derived`` computes a
window and stores it in the derived_metrics bucket.

Each has a Dagster FreshnessPolicy (evaluated by the daemon: ``freshness`` is enabled on the instance) of its
schedule's cadence plus the hour the schedule allows: the UI marks a metric whose schedule stopped computing it.
"""

from datetime import timedelta

import dagster as dg

from ddss_platform.defs.asset_keys import FLUX_TASKS_ASSET, RAW_EVENTS_ASSET, SCORE_CHANGE_HISTORY_ASSET
from ddss_platform.defs.metadata import OWNERS, preview_table, time_range, utc_text
from ddss_platform.defs.partitions import DAILY, HOURLY, MONTHLY, window_ns
from ddss_platform.defs.resources import StoresResource
from ddss_platform.stores.timeseries import (
    CITIZEN_ACTIVITY_HOURLY,
    CITIZEN_SUMMARY_DAILY,
    DERIVED_TASKS,
    SYSTEM_AGGREGATES_DAILY,
    SYSTEM_AGGREGATES_MONTHLY,
)

GROUP = "metrics"


def within(period: timedelta) -> dg.FreshnessPolicy:
    """Fresh when computed within one ``period`` (the schedule's cadence) and an hour; a warning past the period."""
    return dg.FreshnessPolicy.time_window(fail_window=period + timedelta(hours=1), warn_window=period)


@dg.asset(
    name=FLUX_TASKS_ASSET,
    description="The Flux tasks of flux/ (one per derived metric), created or updated by name in InfluxDB. "
    "On the embedded profile the same definitions run as SQL inside compute_derived; nothing is deployed.",
    group_name=GROUP,
    owners=OWNERS,
    kinds={"influxdb"},
)
def flux_tasks(stores: StoresResource) -> dg.MaterializeResult:
    embedded = stores.settings().timeseries.embedded
    actions = []
    if not embedded:  # embedded, compute_derived runs the same definitions as SQL: there is nothing to deploy
        with stores.timeseries() as timeseries:
            actions = timeseries.deploy_tasks()
    return dg.MaterializeResult(
        metadata={
            "tasks": list(DERIVED_TASKS),
            "actions": actions,
            "deployed": len(actions),
            "engine": "embedded SQL (ddss_platform/stores/timeseries/derived_sql.py)" if embedded else "InfluxDB tasks",
        }
    )


def derived_metric_asset(
    metric: str, partitions_def, deps: list[str], description: str, series_tag: str, cadence: timedelta
):
    """An asset that computes `metric` for its partition (or a whole backfill range in one run), due every
    ``cadence``."""

    @dg.asset(
        name=metric,
        description=description,
        deps=[*deps, FLUX_TASKS_ASSET],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=GROUP,
        owners=OWNERS,
        kinds={"influxdb"},
        metadata={"bucket": "derived_metrics", "measurement": metric, "flux_task": f"flux/{metric}.flux"},
        freshness_policy=within(cadence),
    )
    def _derived(context: dg.AssetExecutionContext, stores: StoresResource) -> dg.MaterializeResult:
        start_ns, stop_ns = window_ns(context)
        with stores.timeseries() as timeseries:
            frame = timeseries.compute_derived(metric, start_ns, stop_ns)
        context.log.info(f"{metric}: {len(frame)} points for {utc_text(start_ns)} .. {utc_text(stop_ns)}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(frame),
                "series": int(frame[series_tag].nunique()) if len(frame) else 0,
                **time_range(start_ns, stop_ns),
                "preview": preview_table(frame),
            }
        )

    return _derived


citizen_activity_hourly = derived_metric_asset(
    CITIZEN_ACTIVITY_HOURLY,
    HOURLY,
    [RAW_EVENTS_ASSET],
    "Per citizen and hour: events and net score impact, from raw_events.",
    "citizenID",
    timedelta(hours=1),
)
citizen_summary_daily = derived_metric_asset(
    CITIZEN_SUMMARY_DAILY,
    DAILY,
    [RAW_EVENTS_ASSET, SCORE_CHANGE_HISTORY_ASSET],
    "Per citizen and day: events, net score change, day-end score and tier, from raw_events and score_change_history.",
    "citizenID",
    timedelta(days=1),
)
system_aggregates_daily = derived_metric_asset(
    SYSTEM_AGGREGATES_DAILY,
    DAILY,
    [SCORE_CHANGE_HISTORY_ASSET],
    "Per day, over the citizens whose score changed: average, median, min and max day-end score and citizens per tier.",
    "region",
    timedelta(days=1),
)
system_aggregates_monthly = derived_metric_asset(
    SYSTEM_AGGREGATES_MONTHLY,
    MONTHLY,
    [SYSTEM_AGGREGATES_DAILY],
    "The monthly downsample of system_aggregates_daily (average, min, max, active citizen-days).",
    "region",
    timedelta(days=31),
)

DERIVED_METRIC_ASSETS = [
    citizen_activity_hourly,
    citizen_summary_daily,
    system_aggregates_daily,
    system_aggregates_monthly,
]
