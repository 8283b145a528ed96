"""Who scores each partition of the scoring group: a `ddss stream` worker, a score_events run, or nobody yet.

Two layers, as Kafka users know them:

* **Membership** decides who *should* own a partition: the `ddss stream` workers join group ddss-scoring on the
  bus (``EventBus.join``: Kafka's group protocol, or leases in the embedded log) and the group divides the
  partitions among the live ones.
* **The fence** decides who *may write* for it: one ``PartitionFence`` per partition in the document store,
  which every holder takes before it scores the partition (the epoch goes up by one) and renews before each of
  its writes (``PartitionHold.check``). A holder that lost the partition (paused, cut off, too slow) finds its
  epoch stale at its next write, which is refused (``FencedError``), and so is everything after it: nothing it
  does after losing the partition lands. Its offset commit is fenced twice, by the same check and by the bus
  (the member's generation on Kafka, the lease epoch in the embedded log).

A worker takes the fence of a partition the group gave it from any other worker (the group moved it, so that
one is gone or fenced), but waits while a score_events run holds it; a run waits while another run holds it
and leaves the range to a live worker that holds it. A holder silent for ``FENCE_TTL_S`` is gone.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ddss_platform.events.topics import SCORING_GROUP
from ddss_platform.stores.bus import FencedError
from ddss_platform.stores.documents import DocumentStore, PartitionFence

WORKER, RUN = "worker", "run"
FENCE_TTL_S = 15.0
"""A fence whose holder has not renewed it for this long is free: its holder died (or stopped) holding it."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def fence_key(partition: int) -> str:
    return f"{SCORING_GROUP}/{partition}"


def holder_name(what: str) -> str:
    """``what`` with where it runs: "ddss stream worker-1 (pid 4242 on host-a)"."""
    return f"{what} (pid {os.getpid()} on {socket.gethostname()})"


@dataclass
class PartitionHold:
    """The fence of one partition, held by this process with ``epoch``; ``commit`` writes the group's offsets for
    its topics (the bus's commit, or a group member's fenced one)."""

    documents: DocumentStore
    partition: int
    epoch: int
    holder: str
    commit: Callable[[str, Mapping[int, int]], None]
    refused: int = 0

    def check(self) -> None:
        """Before each write: renew the fence, or refuse the write (FencedError) when another holder took it."""
        if not self.documents.renew_fence(fence_key(self.partition), self.epoch, _now_ms()):
            self.refused += 1
            raise FencedError(
                f"{self.holder} lost partition {self.partition} (its fence epoch {self.epoch} is stale): "
                "the write is refused"
            )

    def guard(self, writes: Callable) -> Callable:
        """``writes`` (a ``SinkWrites``) with the fence checked before each write, the commit included."""

        def fenced(write: Callable, *args):
            self.check()
            return writes(write, *args)

        return fenced

    def release(self) -> None:
        self.documents.release_fence(fence_key(self.partition), self.epoch)


def take_partition(
    documents: DocumentStore,
    partition: int,
    holder: str,
    kind: str,
    commit: Callable[[str, Mapping[int, int]], None],
) -> PartitionHold | None:
    """The partition's fence for ``holder`` (a WORKER or a RUN), or None while a live holder it yields to has
    it (a worker yields to a run; a run to a run or a worker)."""
    now = _now_ms()
    yield_to = (RUN,) if kind == WORKER else (RUN, WORKER)
    epoch = documents.take_fence(fence_key(partition), holder, kind, now, now - int(FENCE_TTL_S * 1000), yield_to)
    return None if epoch is None else PartitionHold(documents, partition, epoch, holder, commit)


def live_holders(documents: DocumentStore, now_ms: int | None = None) -> dict[int, PartitionFence]:
    """partition -> its fence, for the partitions a live holder has now."""
    now_ms = _now_ms() if now_ms is None else now_ms
    prefix = f"{SCORING_GROUP}/"
    return {
        int(fence.key.removeprefix(prefix)): fence
        for fence in documents.fences()
        if fence.key.startswith(prefix)
        and fence.holder is not None
        and fence.heartbeat_ms >= now_ms - FENCE_TTL_S * 1000
    }


def describe_holder(fence: PartitionFence | None) -> str:
    """Who scores a partition now, in words."""
    if fence is None:
        return "the scoring sensor's runs"
    return f"{fence.holder}, epoch {fence.epoch}"


PARTITION_WAIT_S = 600.0
"""How long a run waits for another run scoring the same partition (one range at most): two daemons (a
`dagster dev` beside `ddss up`) or two instances on one data directory can each launch a run of it."""


def take_for_run(
    documents: DocumentStore,
    partition: int,
    holder: str,
    commit: Callable[[str, Mapping[int, int]], None],
    wait_s: float = PARTITION_WAIT_S,
) -> PartitionHold | PartitionFence:
    """The partition's fence for a score_events run, once no other run holds it; or the fence of the live
    `ddss stream` worker that holds it (the worker scores the range: the run has nothing to do). TimeoutError
    after ``wait_s`` seconds of another run holding it."""
    deadline = time.monotonic() + wait_s
    while (hold := take_partition(documents, partition, holder, RUN, commit)) is None:
        fence = live_holders(documents).get(partition)
        if fence is not None and fence.kind == WORKER:
            return fence
        if time.monotonic() > deadline:
            raise TimeoutError(f"partition {partition} is being scored by another run for more than {wait_s:.0f} s")
        time.sleep(0.5)
    return hold
