"""Bring a data directory's scoring up to date in one process: every range of both scored topics, until neither
has lag (citizen-events ranges produce the effects a later pass over citizen-effects applies). For the sample
worlds of tests and the API, and benchmarks; the sensor's runs and `ddss stream` do the same range by range."""

from __future__ import annotations

from ddss_platform.events.topics import SCORED_TOPICS, SCORING_GROUP
from ddss_platform.processing.processor import process_range
from ddss_platform.processing.ranges import DEFAULT_BATCH_SIZE, next_range
from ddss_platform.processing.result import RangeResult
from ddss_platform.stores import Stores
from ddss_platform.stores.bus import UnknownTopicError


def process_backlog(stores: Stores, batch_size: int = DEFAULT_BATCH_SIZE) -> list[RangeResult]:
    """Process every range with lag, topic by topic, partition by partition, until there is none; the results."""
    results: list[RangeResult] = []
    while True:
        done = len(results)
        for topic in SCORED_TOPICS:
            try:
                ends = stores.bus.end_offsets(topic)
            except UnknownTopicError:
                continue
            committed = stores.bus.committed(SCORING_GROUP, topic)
            for partition in sorted(ends):
                rng = next_range(topic, partition, committed.get(partition, 0), ends[partition], batch_size)
                if rng is not None:
                    results.append(process_range(stores, rng))
        if len(results) == done:
            return results
