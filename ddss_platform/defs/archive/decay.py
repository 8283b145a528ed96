"""The daily decay job: ``processing.decay.apply_decay`` for the partition day, reported on the snapshots and
the score history (idempotent per day, see ``ddss_platform.processing.decay``)."""

import dagster as dg

from ddss_platform.defs.asset_keys import SCORE_CHANGE_HISTORY_ASSET, SCORE_SNAPSHOTS_ASSET
from ddss_platform.defs.partitions import DAILY
from ddss_platform.defs.resources import StoresResource
from ddss_platform.processing.decay import DECAY_ADJUSTMENT, apply_decay


@dg.op(
    description="Apply the decay policy to every citizen's snapshot for the partition day "
    "(history reason DECAY_ADJUSTMENT); a second run of the same day changes nothing."
)
def apply_daily_decay(context: dg.OpExecutionContext, stores: StoresResource) -> dg.Output:
    day = context.partition_key
    with stores.documents() as documents, stores.archive() as archive, stores.timeseries() as timeseries:
        result = apply_decay(documents, archive, timeseries, day)
    summary = {
        "day": day,
        "citizens": result.citizens,
        "decayed": result.decayed,
        "snapshots_updated": result.snapshots_updated,
        "net_score_change": result.net_score_change,
        "points_per_day": result.policy.points_per_day,
        "towards_baseline": result.policy.towards_baseline,
        "minimum_score": result.policy.minimum_score,
    }
    context.log.info(
        f"decay {day}: {result.decayed} of {result.citizens} citizens decayed, "
        f"{result.snapshots_updated} snapshots updated"
    )
    if result.decayed:
        context.log_event(
            dg.AssetMaterialization(SCORE_SNAPSHOTS_ASSET, metadata={"reason": DECAY_ADJUSTMENT, **summary})
        )
        context.log_event(
            dg.AssetMaterialization(
                SCORE_CHANGE_HISTORY_ASSET,
                metadata={"reason": DECAY_ADJUSTMENT, "points": result.decayed, "day": day},
            )
        )
    return dg.Output(None, metadata=summary)


@dg.job(
    partitions_def=DAILY,
    description="Daily score decay toward the baseline (the active configuration's scoreDecayPolicy); "
    "idempotent per day.",
    tags={"ddss/kind": "decay"},
)
def daily_decay():
    apply_daily_decay()


daily_decay_schedule = dg.build_schedule_from_partitioned_job(
    daily_decay, hour_of_day=0, minute_of_hour=5, default_status=dg.DefaultScheduleStatus.RUNNING
)
