"""The derived time-series metrics: one Flux task each in production (deployed by ``flux_tasks``), the same
definitions in SQL on the embedded profile; either way the timeseries port's ``compute_derived`` computes a
window and stores it in the derived_metrics bucket."""

import time

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
HOUR_NS = 3_600 * 10**9


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


def derived_metric_asset(metric: str, partitions_def, deps: list[str], description: str, series_tag: str):
    """An asset that computes `metric` for its partition (or a whole backfill range in one run)."""

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
)
citizen_summary_daily = derived_metric_asset(
    CITIZEN_SUMMARY_DAILY,
    DAILY,
    [RAW_EVENTS_ASSET, SCORE_CHANGE_HISTORY_ASSET],
    "Per citizen and day: events, net score change, day-end score and tier, from raw_events and score_change_history.",
    "citizenID",
)
system_aggregates_daily = derived_metric_asset(
    SYSTEM_AGGREGATES_DAILY,
    DAILY,
    [SCORE_CHANGE_HISTORY_ASSET],
    "Per day, over the citizens whose score changed: average, median, min and max day-end score and citizens per tier.",
    "region",
)
system_aggregates_monthly = derived_metric_asset(
    SYSTEM_AGGREGATES_MONTHLY,
    MONTHLY,
    [SYSTEM_AGGREGATES_DAILY],
    "The monthly downsample of system_aggregates_daily (average, min, max, active citizen-days).",
    "region",
)

DERIVED_METRIC_ASSETS = [
    citizen_activity_hourly,
    citizen_summary_daily,
    system_aggregates_daily,
    system_aggregates_monthly,
]

ALLOWED_HOURLY_LAG_NS = HOUR_NS  # the hourly schedule computes each hour shortly after it ends


@dg.asset_check(
    asset=CITIZEN_ACTIVITY_HOURLY,
    description="citizen_activity_hourly is computed up to the last complete hour that has archived events, "
    "within one hour (the hourly schedule's cadence).",
    blocking=False,
)
def hourly_metrics_fresh(context: dg.AssetCheckExecutionContext, stores: StoresResource) -> dg.AssetCheckResult:
    with stores.archive() as archive:
        days = archive.count_by_day()
        latest = archive.read_events(day=max(days), limit=1) if days else None
    if latest is None or latest.empty:
        return dg.AssetCheckResult(passed=True, description="no archived events yet: nothing to be fresh about")
    latest_event_ns = int(latest["event_time"].iloc[0]) * 10**6
    current_hour_ns = time.time_ns() // HOUR_NS * HOUR_NS
    # the end of the latest hour with events, but only complete hours are due
    due_until = min(latest_event_ns // HOUR_NS * HOUR_NS + HOUR_NS, current_hour_ns)
    computed = context.instance.get_materialized_partitions(dg.AssetKey(CITIZEN_ACTIVITY_HOURLY))
    if not computed:
        return dg.AssetCheckResult(
            passed=False,
            description="citizen_activity_hourly was never computed; events are archived up to "
            f"{utc_text(latest_event_ns)}",
            metadata={"latest_event": dg.MetadataValue.timestamp(latest_event_ns / 10**9)},
        )
    computed_until = int(HOURLY.time_window_for_partition_key(max(computed)).end.timestamp()) * 10**9
    lag_ns = max(0, due_until - computed_until)
    passed = lag_ns <= ALLOWED_HOURLY_LAG_NS
    message = (
        f"computed up to {utc_text(computed_until)}; the latest archived event is at {utc_text(latest_event_ns)}"
        + (
            f", {lag_ns / HOUR_NS:.1f} h behind (allowed {ALLOWED_HOURLY_LAG_NS / HOUR_NS:.0f} h)"
            if lag_ns
            else ", up to date"
        )
    )
    return dg.AssetCheckResult(
        passed=passed,
        description=message,
        metadata={
            "computed_until": dg.MetadataValue.timestamp(computed_until / 10**9),
            "latest_event": dg.MetadataValue.timestamp(latest_event_ns / 10**9),
            "lag_hours": round(lag_ns / HOUR_NS, 2),
        },
    )
