"""The score_events job: one run processes exactly one offset range of one partition of a scored topic
(citizen-events: score events; citizen-effects: apply association effects to the partition's citizens)."""

import dagster as dg

from ddss_platform.defs.asset_keys import (
    EVENTS_ARCHIVE_ASSET,
    RAW_EVENTS_ASSET,
    SCORE_CHANGE_HISTORY_ASSET,
    SCORE_SNAPSHOTS_ASSET,
)
from ddss_platform.defs.partitions import EVENT_HOURS, hour_keys
from ddss_platform.defs.resources import StoresResource
from ddss_platform.defs.scoring_runs import SCORE_EVENTS_JOB
from ddss_platform.defs.streaming.checks import dead_letter_evaluation
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS


class RangeConfig(dg.Config):
    topic: str = CITIZEN_EVENTS
    partition: int
    start: int
    end: int


@dg.op(
    description="Read [start, end) of one partition, score it, write every sink, then commit the offsets.",
    out=dg.Out(dg.Nothing),
)  # the run's effects are in the stores: no output value to hand to an IO manager
def score_range(context: dg.OpExecutionContext, config: RangeConfig, stores: StoresResource, scoring: ScoringTuning):
    # imported here: the code server and the UI load this module without the processing stack
    from ddss_platform.processing import OffsetRange, partition_lease, process_range

    requested = OffsetRange(config.topic, config.partition, config.start, config.end)
    # a run of another Dagster instance on this data directory may score the partition: take turns
    with partition_lease(stores.settings().home, config.topic, config.partition), stores.open_stores() as opened:
        result = process_range(opened, requested, log=context.log.info)
    context.log.info(result.summary())
    done = result.range
    # the range as text: numbers would be charted by the UI as if successive runs' offsets were one series
    common = {
        "topic": done.topic,
        **{k: dg.MetadataValue.text(str(getattr(done, k))) for k in ("partition", "start", "end")},
    }
    effects = {f"effects_{name}": count for name, count in result.effect_counts().items()}
    if not result.already_committed:
        sinks = result.sink_rows
        snapshots = {"snapshots": sinks["snapshots"], "new_citizens": result.new_citizens, **effects}
        score_changes = {
            "points": sinks["score_change_history"],
            "beyond_retention": result.beyond_retention["score_change_history"],
            "net_score_change": result.net_score_change,
        }
        if done.topic == CITIZEN_EFFECTS:
            # the records and dead letters of an effects range count in the dead-letter check (``checks``)
            written = [
                (
                    SCORE_SNAPSHOTS_ASSET,
                    {**snapshots, "records": result.records, "dead_lettered": result.dead_lettered},
                ),
                (SCORE_CHANGE_HISTORY_ASSET, score_changes),
            ]
        else:
            written = [
                (
                    EVENTS_ARCHIVE_ASSET,
                    {"rows": sinks["archive_events"], "records": result.records, "dead_lettered": result.dead_lettered},
                ),
                (
                    RAW_EVENTS_ASSET,
                    {
                        "points": sinks["raw_events"],
                        "beyond_retention": result.beyond_retention["raw_events"],
                        EVENT_HOURS: hour_keys(result.event_hours_ms),
                    },
                ),
                (SCORE_SNAPSHOTS_ASSET, snapshots),
                (SCORE_CHANGE_HISTORY_ASSET, score_changes),
            ]
        for key, rows in written:
            context.log_event(dg.AssetMaterialization(asset_key=key, metadata={**common, **rows}))
        context.log_event(dead_letter_evaluation(context.instance, scoring, latest=result, run_id=context.run_id))

    context.instance.add_run_tags(
        context.run_id,
        {
            "ddss/records": str(result.records),
            "ddss/events_per_s": f"{result.events_per_s:.0f}",
        },
    )
    return dg.Output(
        None,
        metadata={
            **common,
            "records": result.records,
            "scored": result.scored,
            "no_rule": result.no_rule,
            "cooldown": result.cooldown,
            "unknown_citizen": result.unknown_citizen,
            "replayed": result.duplicate,
            "dead_lettered": result.dead_lettered,
            "dead_letter_reasons": dict(result.dead_letter_reasons),
            "score_changes": result.score_changes,
            "net_score_change": result.net_score_change,
            "new_citizens": result.new_citizens,
            "relationship_changes": result.relationship_changes,
            **effects,
            "sink_rows": dict(result.sink_rows),
            "points_beyond_retention": dict(result.beyond_retention),
            "already_committed": result.already_committed,
            "elapsed_s": round(result.elapsed_s, 3),
            "events_per_s": round(result.events_per_s, 1),
            "max_rss_mb": round(result.max_rss_mb, 1),
        },
    )


@dg.job(
    name=SCORE_EVENTS_JOB,
    description="Score one offset range of citizen-events (launched by scoring_sensor).",
    executor_def=dg.in_process_executor,
    # the sensor relaunches a failed range itself (same range, next attempt); no blind run retries
    tags={"dagster/max_retries": "0"},
)
def score_events():
    score_range()
