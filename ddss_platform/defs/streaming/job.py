"""The score_events job: one run processes exactly the offset ranges of one partition that scoring_sensor gave it:
a citizen-events range (score events) and, when the partition has effects waiting, its citizen-effects range
(apply the association effects to the partition's citizens)."""

from functools import partial

import dagster as dg

from ddss_platform.defs.resources import StoresResource
from ddss_platform.defs.scoring_runs import SCORE_EVENTS_JOB
from ddss_platform.defs.streaming.checks import dead_letter_evaluation
from ddss_platform.defs.streaming.reports import range_materializations, range_text
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORING_GROUP


class RangeConfig(dg.Config):
    topic: str = CITIZEN_EVENTS
    partition: int
    start: int
    end: int
    # the same partition's citizen-effects range, taken after the first one (empty: none)
    effects_start: int = 0
    effects_end: int = 0


@dg.op(
    description="Read [start, end) of one partition (then its citizen-effects range, if given), score or apply it, "
    "write every sink, then commit the offsets.",
    out=dg.Out(dg.Nothing),
)  # the run's effects are in the stores: no output value to hand to an IO manager
def score_range(context: dg.OpExecutionContext, config: RangeConfig, stores: StoresResource, scoring: ScoringTuning):
    # imported here: the code server and the UI load this module without the processing stack
    from ddss_platform.processing import OffsetRange, PartitionHold, holder_name, process_range
    from ddss_platform.processing.lease import describe_holder, take_for_run

    requested = [OffsetRange(config.topic, config.partition, config.start, config.end)]
    if config.effects_end > config.effects_start:
        requested.append(OffsetRange(CITIZEN_EFFECTS, config.partition, config.effects_start, config.effects_end))
    with stores.open_stores() as opened:
        # the partition's fence: a run of another daemon or instance takes turns with this one; a worker that
        # took the partition since the sensor's tick scores the range itself
        hold = take_for_run(
            opened.documents,
            config.partition,
            holder_name(f"score_events run {context.run_id[:8]}"),
            partial(opened.bus.commit, SCORING_GROUP),
        )
        if not isinstance(hold, PartitionHold):
            context.log.info(f"partition {config.partition} is scored by {describe_holder(hold)}: nothing to do")
            return dg.Output(None, metadata={"scored_by": describe_holder(hold)})
        try:
            results = [process_range(opened, rng, log=context.log.info, owner=hold) for rng in requested]
        finally:
            hold.release()
    for result in results:
        context.log.info(result.summary())
        if not result.already_committed:
            _report(context, scoring, result)
    first = results[0]
    context.instance.add_run_tags(
        context.run_id,
        {"ddss/records": str(first.records), "ddss/events_per_s": f"{first.events_per_s:.0f}"},
    )
    effects = {f"effects_{name}": sum(r.effect_counts()[name] for r in results) for name in first.effect_counts()}
    applied = {
        f"effects_range_{field}": value
        for result in results[1:]
        for field, value in (
            ("start", result.range.start),
            ("end", result.range.end),
            ("records", result.records),
            ("dead_lettered", result.dead_lettered),
        )
    }
    return dg.Output(None, metadata={**_range_metadata(first), **effects, **applied})


def _range_metadata(result) -> dict:
    return {
        **range_text(result.range),
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
        "sink_rows": dict(result.sink_rows),
        "points_beyond_retention": dict(result.beyond_retention),
        "already_committed": result.already_committed,
        "elapsed_s": round(result.elapsed_s, 3),
        "events_per_s": round(result.events_per_s, 1),
        "max_rss_mb": round(result.max_rss_mb, 1),
    }


def _report(context: dg.OpExecutionContext, scoring: ScoringTuning, result) -> None:
    """The materializations of what one range wrote, and the dead-letter check after it."""
    for materialization in range_materializations(result):
        context.log_event(materialization)
    context.log_event(dead_letter_evaluation(context.instance, scoring, latest=result, run_id=context.run_id))


@dg.job(
    name=SCORE_EVENTS_JOB,
    description="Score one offset range of citizen-events, then apply the partition's waiting association effects "
    "(launched by scoring_sensor).",
    executor_def=dg.in_process_executor,
    # the sensor relaunches a failed range itself (same range, next attempt); no blind run retries
    tags={"dagster/max_retries": "0"},
)
def score_events():
    score_range()
