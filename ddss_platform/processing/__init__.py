"""Range processing shared by the score_events runs and `ddss stream`.

``process_range(stores, OffsetRange(topic, partition, start, end))`` reads exactly that range in
chunks, dead-letters what it cannot decode or validate, scores the rest in offset order, writes
every sink idempotently and only then commits the group offset (see ``processor``); ``process_backlog`` does
every range of both scored topics until neither has lag.

The daily jobs' computations live here too, as plain functions over the ports: ``decay`` (the score
decay policy) and ``graph_metrics`` (the graph-derived metrics per citizen).
"""

from ddss_platform.processing.backlog import process_backlog
from ddss_platform.processing.dead_letters import DeadLetter, read_dead_letters
from ddss_platform.processing.lease import (
    RUN,
    WORKER,
    PartitionHold,
    describe_holder,
    holder_name,
    live_holders,
    take_partition,
)
from ddss_platform.processing.processor import (
    CHUNK_SIZE,
    CRASH_ENV,
    CRASH_EXIT_CODE,
    RangeGapError,
    SinkWrites,
    load_scoring,
    process_range,
)
from ddss_platform.processing.ranges import DEFAULT_BATCH_SIZE, OffsetRange, next_range
from ddss_platform.processing.result import RangeResult

__all__ = [
    "CHUNK_SIZE",
    "CRASH_ENV",
    "CRASH_EXIT_CODE",
    "DEFAULT_BATCH_SIZE",
    "RUN",
    "WORKER",
    "DeadLetter",
    "PartitionHold",
    "OffsetRange",
    "RangeGapError",
    "RangeResult",
    "SinkWrites",
    "describe_holder",
    "holder_name",
    "live_holders",
    "load_scoring",
    "next_range",
    "process_backlog",
    "process_range",
    "read_dead_letters",
    "take_partition",
]
