"""Who consumes the scoring group: the sensor-launched runs, or one `ddss stream` process.

`ddss stream` holds an exclusive lock file under DDSS_HOME for as long as it runs; the operating
system drops the lock when the process ends, however it ends, so a crashed stream never blocks the
sensor. The sensor only looks: while the lock is held it launches nothing and says who holds it.
The lock is per data directory: it coordinates the processes of one machine (the embedded
profile, or a production profile driven from one host).

``partition_lease`` is held by a score_events run while it scores its range: one daemon's run queue never starts
two runs of one partition together, but two daemons (a `dagster dev` beside `ddss up`) or two instances on one
data directory (a DAGSTER_HOME of one's own) could; their runs then take turns, and the second finds its range
committed and scores only what is left of it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from ddss_platform.events.topics import SCORING_GROUP


@dataclass(frozen=True)
class LeaseHolder:
    owner: str
    pid: int
    host: str
    since_ms: int

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since_ms / 1000))
        return f"{self.owner} (pid {self.pid} on {self.host}, since {since})"


def describe_owner(holder: LeaseHolder | None) -> str:
    """Who scores every partition of the group now, in words (``GroupLease.holder``): the `ddss stream` that holds
    the lease, or else the scoring sensor's runs."""
    return holder.describe() if holder is not None else "the scoring sensor's runs"


class GroupLease:
    def __init__(self, home: Path, group: str = SCORING_GROUP):
        folder = home / "leases"
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(folder / f"{group}.lock", is_singleton=False, thread_local=False)
        self._info = folder / f"{group}.owner.json"
        self.group = group

    def acquire(self, owner: str, wait_s: float = 0.0) -> bool:
        """Take the group for ``owner``; False when someone else holds it after ``wait_s`` seconds."""
        try:
            self._lock.acquire(timeout=wait_s)
        except Timeout:
            return False
        holder = LeaseHolder(owner, os.getpid(), socket.gethostname(), time.time_ns() // 1_000_000)
        tmp = self._info.with_suffix(".tmp")
        tmp.write_text(json.dumps(holder.__dict__))
        os.replace(tmp, self._info)
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._info.unlink(missing_ok=True)
            self._lock.release(force=True)

    def holder(self) -> LeaseHolder | None:
        """Who holds the group now (None: nobody, the sensor may launch runs)."""
        if self._lock.is_locked:
            return self._read()
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return self._read() or LeaseHolder("another process", -1, "?", 0)
        self._lock.release(force=True)
        return None

    def _read(self) -> LeaseHolder | None:
        try:
            return LeaseHolder(**json.loads(self._info.read_text()))
        except (OSError, ValueError, TypeError):
            return None


PARTITION_WAIT_S = 600.0
"""How long a run waits for the run of another instance that scores the same partition (one range at most)."""


@contextmanager
def partition_lease(home: Path, topic: str, partition: int, wait_s: float = PARTITION_WAIT_S) -> Iterator[None]:
    """Hold the scoring of ``topic``'s ``partition`` on this data directory; TimeoutError after ``wait_s``."""
    folder = home / "leases"
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / f"{topic}.{partition}.lock", is_singleton=False, thread_local=False)
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        raise TimeoutError(
            f"{topic}/{partition} is being scored by another process for more than {wait_s:.0f} s"
        ) from None
    try:
        yield
    finally:
        lock.release(force=True)
