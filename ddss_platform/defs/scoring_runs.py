"""The score_events runs as the Dagster instance records them: their job name and tags, and which are in flight.

scoring_sensor tags each run with the offset range it scores; the embedded instance's run queue allows one run
per PARTITION_TAG value at a time (``dagster_instance``); ``ddss stream`` and ``ddss demo`` wait on the runs in
flight.
"""

import dagster as dg

from ddss_platform.events.topics import SCORED_TOPICS, SCORING_GROUP
from ddss_platform.stores.bus import EventBus, UnknownTopicError, lag

SCORE_EVENTS_JOB = "score_events"
TOPIC_TAG = "ddss/topic"
PARTITION_TAG = "ddss/partition"
RANGE_TAG = "ddss/range"

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
"""Run statuses of a run that is queued or running."""


def in_flight_runs(instance: dg.DagsterInstance, topic: str) -> dict[int, dg.DagsterRun]:
    """partition -> a scoring run queued or running on it (one query)."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=SCORE_EVENTS_JOB, statuses=IN_FLIGHT, tags={TOPIC_TAG: topic})
    )
    return {int(run.tags[PARTITION_TAG]): run for run in runs if PARTITION_TAG in run.tags}


def backlog(bus: EventBus, instance: dg.DagsterInstance) -> tuple[int, int, int]:
    """(records produced, records not yet committed, scoring runs queued or running), over both scored topics:
    done when the last two are 0."""
    produced = behind = running = 0
    for topic in SCORED_TOPICS:
        try:
            ends = bus.end_offsets(topic)
        except UnknownTopicError:
            continue
        produced += sum(ends.values())
        behind += sum(lag(ends, bus.committed(SCORING_GROUP, topic)).values())
        running += len(in_flight_runs(instance, topic))
    return produced, behind, running
