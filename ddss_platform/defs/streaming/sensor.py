"""scoring_sensor: turns consumer lag into score_events runs, one partition at a time.

Each tick: lag = end offsets − the ddss-scoring group's committed offsets, on citizen-events and on
citizen-effects (where association effects reach their target's partition). For each partition with lag on
either and no scoring run queued or running on it, request one run over [committed, committed + batch size) of
the partition's citizen-events and, when it has effects waiting, of its citizen-effects (``RunRanges``), once
the lag is worth a run (at least the minimum batch, the oldest unscored record waited the maximum delay, or no
record arrived since the last tick: ``batching``): the partition's only writer, and one run worker per partition
and tick whichever topic has lag; a run
that has committed its whole range is only finishing (reporting, exiting) and does not hold its partition.
A run commits its end offset only after every sink is written, so a failed run leaves the committed
offset where it was; the sensor then relaunches that same range (run key suffixed with the attempt,
after a doubling back-off) and the run's idempotent writes make the retry exact.
A partition whose fence a live `ddss stream` worker holds (``processing.lease``) is that worker's: the sensor
launches nothing for it and names the worker in the tick's message; it scores the other partitions.
"""

import json
import time
from collections.abc import Callable, Mapping
from functools import partial

import dagster as dg

from ddss_platform.defs.asset_keys import CITIZEN_EVENTS_ASSET
from ddss_platform.defs.resources import StoresResource
from ddss_platform.defs.scoring_runs import (
    PARTITION_TAG,
    RANGE_TAG,
    SCORE_EVENTS_JOB,
    TOPIC_TAG,
    RunRanges,
    in_flight_runs,
)
from ddss_platform.defs.streaming.batching import Batching
from ddss_platform.defs.streaming.job import score_events
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.defs.streaming.source import data_version, topic_metadata
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORED_TOPICS, SCORING_GROUP
from ddss_platform.processing.lease import WORKER, describe_holder, live_holders
from ddss_platform.processing.ranges import OffsetRange, next_range
from ddss_platform.stores.bus import UnknownTopicError

MAX_BACKOFF_S = 300.0
FAILED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def run_request(ranges: RunRanges, attempt: int = 1) -> dg.RunRequest:
    events, effects = ranges.events, ranges.effects
    config = {"topic": events.topic, "partition": events.partition, "start": events.start, "end": events.end}
    if effects is not None:
        config.update(effects_start=effects.start, effects_end=effects.end)
    return dg.RunRequest(
        run_key=ranges.key if attempt == 1 else f"{ranges.key}/attempt-{attempt}",
        run_config={"ops": {"score_range": {"config": config}}},
        tags={TOPIC_TAG: events.topic, PARTITION_TAG: str(events.partition), RANGE_TAG: ranges.key},
    )


def finishing(run: dg.DagsterRun, committed: dict[str, dict[int, int]]) -> bool:
    """Whether the run has committed all its ranges: a run commits last, so it only reports and exits now, and
    the partition's next ranges may be requested (the queue's one-run-per-partition limit starts them after)."""
    return RANGE_TAG in run.tags and RunRanges.parse(run.tags[RANGE_TAG]).committed_by(committed)


def retry_of_failed_range(
    instance: dg.DagsterInstance, partition: int, committed: dict[str, dict[int, int]], backoff_s: float
) -> tuple[RunRanges, int, float] | None:
    """When the partition's last run failed before committing its ranges: (those ranges, the attempt number to
    launch, seconds left to wait before relaunching). A relaunch takes the same ranges: a part the failed run
    committed (its citizen-events range, when it failed on its effects) is skipped by the retry."""
    last = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=SCORE_EVENTS_JOB, tags={TOPIC_TAG: CITIZEN_EVENTS, PARTITION_TAG: str(partition)}
        ),
        limit=1,
    )
    if not last or last[0].dagster_run.status not in FAILED or RANGE_TAG not in last[0].dagster_run.tags:
        return None
    failed = RunRanges.parse(last[0].dagster_run.tags[RANGE_TAG])
    if failed.committed_by(committed) or not any(
        r.start == committed.get(r.topic, {}).get(r.partition, 0) for r in failed.ranges
    ):
        return None  # done since, or not where the group stands
    attempts = instance.get_runs_count(dg.RunsFilter(job_name=SCORE_EVENTS_JOB, tags={RANGE_TAG: failed.key}))
    wait = min(MAX_BACKOFF_S, backoff_s * 2 ** (attempts - 1))
    ended = last[0].end_time or time.time()
    return failed, attempts + 1, max(0.0, ended + wait - time.time())


def plan(
    instance: dg.DagsterInstance,
    ends: dict[str, dict[int, int]],
    committed: dict[str, dict[int, int]],
    tuning: ScoringTuning,
    batching: Batching,
    record_time_ms: Callable[[str, int, int], int],
    now_ms: int,
    previous_ends: dict[str, dict[int, int]],
    workers: Mapping[int, str] | None = None,
) -> tuple[list[dg.RunRequest], list[str]]:
    """The run requests of one tick, and one line per partition saying what happens to it and why. ``ends``,
    ``committed`` and ``previous_ends`` (what the last tick saw): topic -> partition -> offset, for citizen-events
    and (when it exists) citizen-effects; ``record_time_ms(topic, partition, offset)`` is a record's bus
    timestamp; ``workers``: partition -> the `ddss stream` worker that scores it (no run for those)."""
    busy = in_flight_runs(instance)
    workers = workers or {}
    requests, notes = [], []
    for partition in sorted(ends[CITIZEN_EVENTS]):
        at = {topic: committed.get(topic, {}).get(partition, 0) for topic in ends}
        if partition in workers:
            notes.append(f"partition {partition}: scored by {workers[partition]} (committed {_described(at)})")
            continue
        found = {
            topic: next_range(topic, partition, at[topic], ends[topic].get(partition, 0), tuning.batch_size)
            for topic in ends
        }
        if all(rng is None for rng in found.values()):
            notes.append(f"partition {partition}: no lag (committed {_described(at)})")
            continue
        ranges = RunRanges(
            found[CITIZEN_EVENTS] or OffsetRange(CITIZEN_EVENTS, partition, at[CITIZEN_EVENTS], at[CITIZEN_EVENTS]),
            found.get(CITIZEN_EFFECTS),
        )
        behind = _described({topic: ends[topic].get(partition, 0) - at[topic] for topic in ends})
        if partition in busy and not finishing(busy[partition], committed):
            run = busy[partition]
            notes.append(
                f"partition {partition}: lag {behind}, run {run.run_id[:8]} "
                f"({run.tags.get(RANGE_TAG, '?')}) is {run.status.value.lower()}"
            )
            continue
        attempt = 1
        retry = retry_of_failed_range(instance, partition, committed, tuning.retry_backoff_s)
        if retry is not None:
            ranges, attempt, wait = retry
            if wait > 0:
                notes.append(
                    f"partition {partition}: range {ranges.key} failed {attempt - 1}×, relaunching in {wait:.0f} s"
                )
                continue
        elif waiting := batching.wait_reason(
            sum(ends[topic].get(partition, 0) - at[topic] for topic in ends),
            any(ends[topic].get(partition, 0) != previous_ends.get(topic, {}).get(partition) for topic in ends),
            partial(_oldest_unscored_ms, record_time_ms, ends, at, partition),
            now_ms,
        ):
            notes.append(f"partition {partition}: {waiting}")
            continue
        requests.append(run_request(ranges, attempt))
        notes.append(
            f"partition {partition}: lag {behind}, launching {ranges.key}"
            + (f" (attempt {attempt}, the previous run failed)" if attempt > 1 else "")
        )
    return requests, notes


def _oldest_unscored_ms(
    record_time_ms: Callable[[str, int, int], int], ends: dict[str, dict[int, int]], at: dict[str, int], partition: int
) -> int:
    """The bus timestamp of the partition's oldest record not yet scored, over both topics."""
    waiting = [topic for topic in ends if ends[topic].get(partition, 0) > at[topic]]
    return min(record_time_ms(topic, partition, at[topic]) for topic in waiting)


def _described(by_topic: dict[str, int]) -> str:
    """``{citizen-events: 5, citizen-effects: 2}`` as "5 (citizen-effects 2)": the effects only where they exist."""
    others = ", ".join(f"{topic} {n}" for topic, n in by_topic.items() if topic != CITIZEN_EVENTS)
    return f"{by_topic[CITIZEN_EVENTS]}" + (f" ({others})" if others else "")


def _keyed(offsets: dict[int, int]) -> dict[str, int]:
    return {str(p): o for p, o in offsets.items()}


@dg.sensor(
    job=score_events,
    minimum_interval_seconds=1,  # the daemon's sensor loop ticks every ~5 s at most anyway
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches score_events over [committed, committed + batch) for every partition with no run in "
    "flight whose lag reaches DDSS_SCORING_MIN_BATCH or whose oldest record waited DDSS_SCORING_MAX_DELAY_S; "
    "relaunches a failed range. Leaves the partitions `ddss stream` workers own to them, naming them.",
)
def scoring_sensor(context: dg.SensorEvaluationContext, stores: StoresResource, scoring: ScoringTuning):
    settings = stores.settings()
    with stores.documents() as documents:
        workers = {p: describe_holder(f) for p, f in live_holders(documents).items() if f.kind == WORKER}
    notes = [
        f"`ddss stream` workers own partitions {sorted(workers)}"
        if workers
        else "no `ddss stream` worker: the scoring sensor's runs score every partition"
    ]
    ends: dict[str, dict[int, int]] = {}
    committed: dict[str, dict[int, int]] = {}
    with stores.bus() as bus:
        for topic in SCORED_TOPICS:
            try:
                ends[topic], committed[topic] = bus.end_offsets(topic), bus.committed(SCORING_GROUP, topic)
            except UnknownTopicError:
                notes.append(f"topic {topic} does not exist yet (`ddss init` or `ddss simulate`)")
        if CITIZEN_EVENTS not in ends:
            return dg.SkipReason("; ".join(notes))
        previous = json.loads(context.cursor) if context.cursor else {}
        seen = {CITIZEN_EVENTS: previous.get("end_offsets", {})} | {
            topic: other["end_offsets"] for topic, other in previous.get("other_topics", {}).items()
        }

        def record_time_ms(topic: str, partition: int, offset: int) -> int:
            return bus.read_range(topic, partition, offset, offset + 1)[0].timestamp_ms

        requests, planned = plan(
            context.instance,
            ends,
            committed,
            scoring,
            Batching.from_settings(settings),
            record_time_ms,
            time.time_ns() // 1_000_000,
            {topic: {int(p): o for p, o in offsets.items()} for topic, offsets in seen.items()},
            workers,
        )
    notes += planned
    observed = _keyed(ends[CITIZEN_EVENTS])
    observations = []
    if previous.get("end_offsets") != observed:
        observations.append(
            dg.AssetObservation(
                asset_key=CITIZEN_EVENTS_ASSET,
                metadata=topic_metadata(ends[CITIZEN_EVENTS], committed[CITIZEN_EVENTS]),
                tags={"dagster/data_version": data_version(ends[CITIZEN_EVENTS]).value},
            )
        )
    cursor = json.dumps(
        {
            "end_offsets": observed,
            "committed": _keyed(committed[CITIZEN_EVENTS]),
            "other_topics": {
                topic: {"end_offsets": _keyed(ends[topic]), "committed": _keyed(committed[topic])}
                for topic in ends
                if topic != CITIZEN_EVENTS
            },
            "launched": [r.run_key for r in requests],
        }
    )
    message = "; ".join(notes)
    if requests:
        context.log.info(message)
        return dg.SensorResult(run_requests=requests, cursor=cursor, asset_events=observations)
    return dg.SensorResult(skip_reason=message or "no partitions", cursor=cursor, asset_events=observations)
