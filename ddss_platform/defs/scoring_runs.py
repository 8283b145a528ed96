"""The score_events runs as the Dagster instance records them: their job name and tags, and which are in flight.

scoring_sensor tags each run with the offset ranges it takes (``RunRanges``: its partition's citizen-events
range and, when that partition has effects waiting, its citizen-effects range); the embedded instance's run
queue allows one run per PARTITION_TAG value at a time (``dagster_instance``); ``ddss stream`` and ``ddss demo``
wait on the runs in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from ddss_platform.events.topics import CITIZEN_EVENTS, SCORED_TOPICS, SCORING_GROUP
from ddss_platform.processing.ranges import OffsetRange
from ddss_platform.stores.bus import EventBus, UnknownTopicError, lag

SCORE_EVENTS_JOB = "score_events"
TOPIC_TAG = "ddss/topic"
PARTITION_TAG = "ddss/partition"
RANGE_TAG = "ddss/range"


@dataclass(frozen=True)
class RunRanges:
    """What one score_events run of a partition takes, in this order: a citizen-events range (empty when only
    effects wait) and the same partition's citizen-effects range, if any. One run for both, so that a partition
    costs one run worker per tick whichever topic has lag."""

    events: OffsetRange
    effects: OffsetRange | None = None

    @property
    def key(self) -> str:
        """Names the run in run keys and RANGE_TAG: ``citizen-events/0/100-200+citizen-effects/0/40-70``."""
        return self.events.key + (f"+{self.effects.key}" if self.effects else "")

    @classmethod
    def parse(cls, key: str) -> RunRanges:
        events, _, effects = key.partition("+")
        return cls(OffsetRange.parse(events), OffsetRange.parse(effects) if effects else None)

    @property
    def ranges(self) -> list[OffsetRange]:
        return [self.events, *([self.effects] if self.effects else [])]

    def committed_by(self, committed: dict[str, dict[int, int]]) -> bool:
        """Whether the group has committed every range (``committed``: topic -> partition -> offset)."""
        return all(r.end <= committed.get(r.topic, {}).get(r.partition, 0) for r in self.ranges)


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
"""Run statuses of a run that is queued or running."""


def in_flight_runs(instance: dg.DagsterInstance) -> dict[int, dg.DagsterRun]:
    """partition -> a scoring run queued or running on it (one query)."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=SCORE_EVENTS_JOB, statuses=IN_FLIGHT, tags={TOPIC_TAG: CITIZEN_EVENTS})
    )
    return {int(run.tags[PARTITION_TAG]): run for run in runs if PARTITION_TAG in run.tags}


def backlog(bus: EventBus, instance: dg.DagsterInstance) -> tuple[int, int, int]:
    """(records produced, records not yet committed, scoring runs queued or running), over both scored topics:
    done when the last two are 0."""
    produced = behind = 0
    for topic in SCORED_TOPICS:
        try:
            ends = bus.end_offsets(topic)
        except UnknownTopicError:
            continue
        produced += sum(ends.values())
        behind += sum(lag(ends, bus.committed(SCORING_GROUP, topic)).values())
    return produced, behind, len(in_flight_runs(instance))
