"""scoring_sensor: turns consumer lag into score_events runs, one partition at a time.

Each tick, for each scored topic (citizen-events, and citizen-effects, where association effects reach their
target's partition): lag = end offsets − the ddss-scoring group's committed offsets. For each partition with lag
and no scoring run of that topic queued or running on it, request a run over [committed, committed + batch
size) once the lag is worth a run (at least the minimum batch, or the oldest unscored record waited the maximum
delay: ``batching``). Runs of both topics carry the partition's tag, so the run queue starts one run per
partition at a time (its only writer); a run
that has committed its whole range is only finishing (reporting, exiting) and does not hold its partition.
A run commits its end offset only after every sink is written, so a failed run leaves the committed
offset where it was; the sensor then relaunches that same range (run key suffixed with the attempt,
after a doubling back-off) and the run's idempotent writes make the retry exact.
While `ddss stream` holds the group the sensor launches nothing and says so.
"""

import json
import time
from collections.abc import Callable
from functools import partial

import dagster as dg

from ddss_platform.defs.asset_keys import CITIZEN_EVENTS_ASSET
from ddss_platform.defs.resources import StoresResource
from ddss_platform.defs.scoring_runs import PARTITION_TAG, RANGE_TAG, SCORE_EVENTS_JOB, TOPIC_TAG, in_flight_runs
from ddss_platform.defs.streaming.batching import Batching
from ddss_platform.defs.streaming.job import score_events
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.defs.streaming.source import data_version, topic_metadata
from ddss_platform.events.topics import CITIZEN_EVENTS, SCORED_TOPICS, SCORING_GROUP
from ddss_platform.processing.lease import GroupLease
from ddss_platform.processing.ranges import OffsetRange, next_range
from ddss_platform.stores.bus import UnknownTopicError

MAX_BACKOFF_S = 300.0
FAILED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def run_request(rng: OffsetRange, attempt: int = 1) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=rng.key if attempt == 1 else f"{rng.key}/attempt-{attempt}",
        run_config={
            "ops": {
                "score_range": {
                    "config": {"topic": rng.topic, "partition": rng.partition, "start": rng.start, "end": rng.end}
                }
            }
        },
        tags={TOPIC_TAG: rng.topic, PARTITION_TAG: str(rng.partition), RANGE_TAG: rng.key},
    )


def finishing(run: dg.DagsterRun, committed: int) -> bool:
    """Whether the run has committed its whole range: a run commits last, so it only reports and exits now, and
    the partition's next range may be requested (the queue's one-run-per-partition limit starts it after)."""
    return RANGE_TAG in run.tags and OffsetRange.parse(run.tags[RANGE_TAG]).end <= committed


def retry_of_failed_range(
    instance: dg.DagsterInstance, topic: str, partition: int, committed: int, backoff_s: float
) -> tuple[OffsetRange, int, float] | None:
    """When the partition's last run failed over the range that starts at the committed offset:
    (that range, the attempt number to launch, seconds left to wait before relaunching)."""
    last = instance.get_run_records(
        filters=dg.RunsFilter(job_name=SCORE_EVENTS_JOB, tags={TOPIC_TAG: topic, PARTITION_TAG: str(partition)}),
        limit=1,
    )
    if not last or last[0].dagster_run.status not in FAILED or RANGE_TAG not in last[0].dagster_run.tags:
        return None
    failed = OffsetRange.parse(last[0].dagster_run.tags[RANGE_TAG])
    if failed.start != committed:
        return None
    attempts = instance.get_runs_count(dg.RunsFilter(job_name=SCORE_EVENTS_JOB, tags={RANGE_TAG: failed.key}))
    wait = min(MAX_BACKOFF_S, backoff_s * 2 ** (attempts - 1))
    ended = last[0].end_time or time.time()
    return failed, attempts + 1, max(0.0, ended + wait - time.time())


def plan(
    instance: dg.DagsterInstance,
    ends: dict[int, int],
    committed: dict[int, int],
    tuning: ScoringTuning,
    batching: Batching,
    record_time_ms: Callable[[int, int], int],
    now_ms: int,
    previous_ends: dict[int, int],
    topic: str = CITIZEN_EVENTS,
) -> tuple[list[dg.RunRequest], list[str]]:
    """The run requests of one tick, and one line per partition saying what happens to it and why;
    ``record_time_ms(partition, offset)`` is a record's bus timestamp, ``previous_ends`` the end offsets the last
    tick saw."""
    busy = in_flight_runs(instance, topic)
    requests, notes = [], []
    for partition in sorted(ends):
        rng = next_range(topic, partition, committed.get(partition, 0), ends[partition], tuning.batch_size)
        if rng is None:
            notes.append(f"partition {partition}: no lag (committed {committed.get(partition, 0)})")
            continue
        behind = ends[partition] - rng.start
        if partition in busy and not finishing(busy[partition], committed.get(partition, 0)):
            run = busy[partition]
            notes.append(
                f"partition {partition}: lag {behind}, run {run.run_id[:8]} "
                f"({run.tags.get(RANGE_TAG, '?')}) is {run.status.value.lower()}"
            )
            continue
        attempt = 1
        retry = retry_of_failed_range(instance, topic, partition, rng.start, tuning.retry_backoff_s)
        if retry is not None:
            rng, attempt, wait = retry
            if wait > 0:
                notes.append(
                    f"partition {partition}: range {rng.key} failed {attempt - 1}×, relaunching in {wait:.0f} s"
                )
                continue
        elif waiting := batching.wait_reason(
            behind,
            ends[partition] != previous_ends.get(partition),
            partial(record_time_ms, partition, rng.start),
            now_ms,
        ):
            notes.append(f"partition {partition}: {waiting}")
            continue
        requests.append(run_request(rng, attempt))
        notes.append(
            f"partition {partition}: lag {behind}, launching {rng.key}"
            + (f" (attempt {attempt}, the previous run failed)" if attempt > 1 else "")
        )
    return requests, notes


def _keyed(offsets: dict[int, int]) -> dict[str, int]:
    return {str(p): o for p, o in offsets.items()}


@dg.sensor(
    job=score_events,
    minimum_interval_seconds=1,  # the daemon's sensor loop ticks every ~5 s at most anyway
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches score_events over [committed, committed + batch) for every partition with no run in "
    "flight whose lag reaches DDSS_SCORING_MIN_BATCH or whose oldest record waited DDSS_SCORING_MAX_DELAY_S; "
    "relaunches a failed range. Skips while `ddss stream` owns the group.",
)
def scoring_sensor(context: dg.SensorEvaluationContext, stores: StoresResource, scoring: ScoringTuning):
    settings = stores.settings()
    holder = GroupLease(settings.home).holder()
    if holder is not None:
        return dg.SkipReason(
            f"`ddss stream` owns consumer group {SCORING_GROUP}: {holder.describe()}; no runs launched until it stops"
        )
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    offsets: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    with stores.bus() as bus:
        for topic in SCORED_TOPICS:
            try:
                offsets[topic] = bus.end_offsets(topic), bus.committed(SCORING_GROUP, topic)
            except UnknownTopicError:
                notes.append(f"topic {topic} does not exist yet (`ddss init` or `ddss simulate`)")
        if CITIZEN_EVENTS not in offsets:
            return dg.SkipReason("; ".join(notes))
        previous = json.loads(context.cursor) if context.cursor else {}
        previous_ends = {CITIZEN_EVENTS: previous.get("end_offsets", {})} | {
            topic: seen["end_offsets"] for topic, seen in previous.get("other_topics", {}).items()
        }

        def record_time_ms(topic: str, partition: int, offset: int) -> int:
            return bus.read_range(topic, partition, offset, offset + 1)[0].timestamp_ms

        for topic, (topic_ends, topic_committed) in offsets.items():
            topic_requests, topic_notes = plan(
                context.instance,
                topic_ends,
                topic_committed,
                scoring,
                Batching.from_settings(settings),
                partial(record_time_ms, topic),
                time.time_ns() // 1_000_000,
                {int(p): o for p, o in previous_ends.get(topic, {}).items()},
                topic,
            )
            requests += topic_requests
            notes += [f"{topic} {note}" for note in topic_notes]
    ends, committed = offsets[CITIZEN_EVENTS]
    observed = _keyed(ends)
    observations = []
    if previous.get("end_offsets") != observed:
        observations.append(
            dg.AssetObservation(
                asset_key=CITIZEN_EVENTS_ASSET,
                metadata=topic_metadata(ends, committed),
                tags={"dagster/data_version": data_version(ends).value},
            )
        )
    cursor = json.dumps(
        {
            "end_offsets": observed,
            "committed": _keyed(committed),
            "other_topics": {
                topic: {"end_offsets": _keyed(topic_ends), "committed": _keyed(topic_committed)}
                for topic, (topic_ends, topic_committed) in offsets.items()
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
