"""The daily decay: the configuration's decay policy applied to every snapshot once per day.

Idempotent per day: each citizen's ``appliedOffsets["decay"]`` holds the number of the last decayed day (days
since the epoch), the same guard the scoring runs use per topic partition, so running a day again, or an older
day after a newer one, changes nothing. A day the schedule missed is caught up by the next run (it decays by
the days elapsed since the citizen's last decay). History is written before the snapshots: a run that fails in
between is re-run, recomputes the same changes for the citizens whose snapshot is not yet updated, and rewrites
the same keyed history rows.
"""

from datetime import date

import dagster as dg

from ddss_platform.defs.archive.scoring_outputs import SCORE_CHANGE_HISTORY, SCORE_SNAPSHOTS
from ddss_platform.defs.metrics.partitions import DAILY
from ddss_platform.processing.sinks import ScoreChangeColumns, score_change_table, score_history_table
from ddss_platform.resources import StoresResource
from ddss_platform.scoring import ScoreChange, ScoringConfig, decay, load_configuration, round_score
from ddss_platform.stores.archive import DAY_MS, day_start_ms
from ddss_platform.stores.documents import SnapshotUpdate
from ddss_platform.stores.timeseries import DERIVED_METRICS
from ddss_platform.stores.timeseries import SCORE_CHANGE_HISTORY as SCORE_CHANGE_HISTORY_POINTS

DECAY_ADJUSTMENT = "DECAY_ADJUSTMENT"
DECAY_GUARD = "decay"  # the appliedOffsets key; its value is the last decayed day number
_CHUNK = 5_000


def day_number(day: str) -> int:
    return (date.fromisoformat(day) - date(1970, 1, 1)).days


def decay_changes(citizens: dict[str, dict], config: ScoringConfig, day: str) -> list[ScoreChange]:
    """The score changes decay makes on `day` to the given citizen documents (pure). A citizen already decayed
    for this day or a later one is skipped; one never decayed decays by one day."""
    number = day_number(day)
    at_ms = day_start_ms(day) + DAY_MS - 1  # the day's last millisecond: the change belongs to that day
    changes = []
    for national_id, doc in sorted(citizens.items()):
        last = doc.get("appliedOffsets", {}).get(DECAY_GUARD)
        days = 1 if last is None else number - int(last)
        if days <= 0:
            continue
        old = float(doc["scoreSnapshot"]["currentScore"])
        new = decay(old, days, config.decay, config)
        if new != old:
            changes.append(ScoreChange(national_id, old, new, round_score(new - old), DECAY_ADJUSTMENT, "", "", at_ms, number))
    return changes


@dg.op(description="Apply the decay policy to every citizen's snapshot for the partition day "
       "(history reason DECAY_ADJUSTMENT); a second run of the same day changes nothing.")
def apply_daily_decay(context: dg.OpExecutionContext, stores: StoresResource) -> dg.Output:
    day = context.partition_key
    batch_id = f"decay-{day}"
    with stores.documents() as documents:
        config = load_configuration(documents.load_active_configuration())
        ids = list(documents.all_snapshots()["nationalID"])
        changes = []
        for first in range(0, len(ids), _CHUNK):
            changes += decay_changes(documents.get_citizens(ids[first:first + _CHUNK]), config, day)
        columns = ScoreChangeColumns(tuple(changes), config)
        with stores.archive() as archive:
            archive.write_score_history(score_history_table(columns), batch_id)
        with stores.timeseries() as timeseries:
            timeseries.write_table(DERIVED_METRICS, SCORE_CHANGE_HISTORY_POINTS, score_change_table(columns), batch_id)
        updates = [
            SnapshotUpdate(c.citizen_id, c.new_score, config.tier_for(c.new_score), c.time_ms, DECAY_GUARD, c.offset)
            for c in changes
        ]
        applied = documents.apply_snapshot_updates(updates)
    net = round_score(sum(c.change for c in changes))
    policy = config.decay
    summary = {
        "day": day,
        "citizens": len(ids),
        "decayed": len(changes),
        "snapshots_updated": applied,
        "net_score_change": net,
        "points_per_day": policy.points_per_day,
        "towards_baseline": policy.towards_baseline,
        "minimum_score": policy.minimum_score,
    }
    context.log.info(f"decay {day}: {len(changes)} of {len(ids)} citizens decayed, {applied} snapshots updated")
    if changes:
        context.log_event(dg.AssetMaterialization(SCORE_SNAPSHOTS, metadata={"reason": DECAY_ADJUSTMENT, **summary}))
        context.log_event(dg.AssetMaterialization(SCORE_CHANGE_HISTORY, metadata={"reason": DECAY_ADJUSTMENT, "points": len(changes), "day": day}))
    return dg.Output(None, metadata=summary)


@dg.job(
    partitions_def=DAILY,
    description="Daily score decay toward the baseline (the active configuration's scoreDecayPolicy); "
    "idempotent per day.",
    tags={"ddss/kind": "decay"},
)
def daily_decay():
    apply_daily_decay()


daily_decay_schedule = dg.build_schedule_from_partitioned_job(daily_decay, hour_of_day=0, minute_of_hour=5)
