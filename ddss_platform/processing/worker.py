"""One `ddss stream` worker's partitions: those the group assigns it (``GroupMembership``) whose fence it holds
(``processing.lease``). A partition the group moves away is let go; one the group gives it is taken, unless a
score_events run is scoring it (then taken once the run is done). A partition whose fence another holder took
is dropped at once, and not taken back before the group has reassigned it (``REFENCE_AFTER_S``), so two
workers never take a partition from each other in turn while one of them still catches up with the group."""

from __future__ import annotations

import time
from collections.abc import Callable

from ddss_platform.processing.lease import WORKER, PartitionHold, take_partition
from ddss_platform.stores.bus import SESSION_TIMEOUT_S, FencedError, GroupMembership
from ddss_platform.stores.documents import DocumentStore

POLL_INTERVAL_S = 0.5
"""How often the worker looks at the group's assignment."""
RENEW_INTERVAL_S = 2.0
"""How often an idle worker renews its fences (each write renews the fence it writes under)."""
REFENCE_AFTER_S = 2 * SESSION_TIMEOUT_S


class WorkerPartitions:
    def __init__(self, documents: DocumentStore, membership: GroupMembership, holder: str, echo: Callable[[str], None]):
        self.documents, self.membership, self.holder, self.echo = documents, membership, holder, echo
        self.held: dict[int, PartitionHold] = {}
        self.refused_writes = 0
        self.ever_assigned = False
        self._fenced_at: dict[int, float] = {}
        self._waiting: set[int] = set()
        self._polled = self._renewed = float("-inf")

    def refresh(self) -> dict[int, PartitionHold]:
        """The partitions to score now, after following the group's assignment and renewing the fences."""
        now = time.monotonic()
        if now - self._polled >= POLL_INTERVAL_S:
            self._polled = now
            self._follow(self.membership.poll(), now)
        if now - self._renewed >= RENEW_INTERVAL_S:
            self._renewed = now
            for partition, hold in list(self.held.items()):
                try:
                    hold.check()
                except FencedError as error:
                    self._lose(partition, f"lost partition {partition} at its renewal: {error}")
        return dict(self.held)

    def _follow(self, assigned: set[int], now: float) -> None:
        self.ever_assigned |= bool(assigned)
        for partition in sorted(set(self.held) - assigned):
            self.held.pop(partition).release()
            self.echo(f"partition {partition}: moved to another member of the group, released")
        for partition in list(self._fenced_at):
            if partition not in assigned or now - self._fenced_at[partition] > REFENCE_AFTER_S:
                del self._fenced_at[partition]
        for partition in sorted(assigned - set(self.held) - set(self._fenced_at)):
            hold = take_partition(self.documents, partition, self.holder, WORKER, self.membership.commit)
            if hold is None:
                if partition not in self._waiting:
                    self.echo(f"partition {partition}: assigned; waiting for the score_events run scoring it")
                self._waiting.add(partition)
                continue
            self._waiting.discard(partition)
            self.held[partition] = hold
            self.echo(f"partition {partition}: taken (fence epoch {hold.epoch})")

    def refused(self, partition: int, error: FencedError) -> None:
        """A write of ``partition`` was refused: another holder has it now."""
        self.refused_writes += 1
        self._lose(partition, f"refused a write for partition {partition}: {error}")

    def _lose(self, partition: int, message: str) -> None:
        self.held.pop(partition, None)
        self._fenced_at[partition] = time.monotonic()
        self.echo(f"fenced: {message}")

    def release_all(self) -> None:
        for hold in self.held.values():
            hold.release()
        self.held.clear()
