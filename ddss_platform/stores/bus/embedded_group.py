"""Consumer-group membership on the embedded log: per-partition leases in its SQLite file.

Members heartbeat into ``group_members`` from a background thread; a member silent for the session timeout is
gone. Each ``poll`` settles this member's share in one transaction: the live members, ordered by name, divide
the partitions as evenly as they can (the first ``partitions mod members`` one more); a member above its share
lets its highest partitions go, one below takes free ones (never held, let go, or held by a gone member).
Taking a lease raises its epoch, and a commit checks the lease's owner and epoch in the transaction that
writes the offsets: a member that lost a partition (paused past the session timeout) commits nothing for it.
These are Kafka's cooperative-sticky semantics: partitions only move when they must, and a partition leaves
its owner before another member takes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path

from ddss_platform.stores.bus import SESSION_TIMEOUT_S, FencedError, OffsetRangeError
from ddss_platform.stores.sqlite import connect, transaction

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS group_members (
        grp          TEXT NOT NULL,
        member       TEXT NOT NULL,
        heartbeat_ms INTEGER NOT NULL,
        PRIMARY KEY (grp, member)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS partition_leases (
        grp       TEXT NOT NULL,
        partition INTEGER NOT NULL,
        owner     TEXT,
        epoch     INTEGER NOT NULL,
        PRIMARY KEY (grp, partition)) WITHOUT ROWID""",
)
HEARTBEAT_S = 1.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def share(members: list[str], member: str, partitions: int) -> int:
    """How many of ``partitions`` ``member`` should own among the live ``members`` (sorted)."""
    base, extra = divmod(partitions, len(members))
    return base + (members.index(member) < extra)


class EmbeddedMembership:
    """``GroupMembership`` in the embedded log's file (``EmbeddedBus.join``)."""

    def __init__(self, path: Path, group: str, member: str, topic_id: int, partitions: int, topic: str):
        self.member, self.group = member, group
        self._topic, self._topic_id, self._partitions = topic, topic_id, partitions
        self._conn = connect(path)
        self._owned: dict[int, int] = {}  # partition -> the epoch this member took it with
        self._session_ms = int(SESSION_TIMEOUT_S * 1000)
        self._stop = threading.Event()
        self._beats = threading.Thread(target=self._heartbeat, args=(connect(path),), daemon=True)
        self._join()
        self._beats.start()

    def _join(self) -> None:
        """The group's lease rows, once (the member itself registers at its first ``poll``)."""
        with transaction(self._conn) as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO partition_leases VALUES (?, ?, NULL, 0)",
                ((self.group, p) for p in range(self._partitions)),
            )

    def _heartbeat(self, conn) -> None:
        """Keep this member alive while the process runs (a stopped process stops beating, as Kafka's client)."""
        try:
            while not self._stop.wait(HEARTBEAT_S):
                with transaction(conn):
                    conn.execute(
                        "UPDATE group_members SET heartbeat_ms = ? WHERE grp = ? AND member = ?",
                        (_now_ms(), self.group, self.member),
                    )
        finally:
            conn.close()

    def poll(self) -> set[int]:
        now = _now_ms()
        with transaction(self._conn) as conn:
            # joins, or is back in the group if the others dropped it while it was silent (what it owned moved on)
            conn.execute(
                "INSERT INTO group_members VALUES (?, ?, ?) ON CONFLICT (grp, member) DO UPDATE SET"
                " heartbeat_ms = excluded.heartbeat_ms",
                (self.group, self.member, now),
            )
            conn.execute(
                "DELETE FROM group_members WHERE grp = ? AND heartbeat_ms < ?", (self.group, now - self._session_ms)
            )
            live = [
                m
                for (m,) in conn.execute(
                    "SELECT member FROM group_members WHERE grp = ? ORDER BY member", (self.group,)
                )
            ]
            leases = {
                p: (owner, epoch)
                for p, owner, epoch in conn.execute(
                    "SELECT partition, owner, epoch FROM partition_leases WHERE grp = ? ORDER BY partition",
                    (self.group,),
                )
            }
            mine = [p for p, (owner, _) in leases.items() if owner == self.member]
            wanted = share(live, self.member, self._partitions)
            for p in mine[wanted:]:  # above its share: let the highest go, for the members below theirs
                conn.execute(
                    "UPDATE partition_leases SET owner = NULL WHERE grp = ? AND partition = ?", (self.group, p)
                )
            free = [p for p, (owner, _) in leases.items() if owner is None or owner not in live]
            for p in free[: max(0, wanted - len(mine))]:
                conn.execute(
                    "UPDATE partition_leases SET owner = ?, epoch = epoch + 1 WHERE grp = ? AND partition = ?",
                    (self.member, self.group, p),
                )
            self._owned = {
                p: epoch
                for p, owner, epoch in conn.execute(
                    "SELECT partition, owner, epoch FROM partition_leases WHERE grp = ? AND owner = ?",
                    (self.group, self.member),
                )
            }
        return set(self._owned)

    def commit(self, topic: str, offsets: Mapping[int, int]) -> None:
        topic_id = self._topic_id if topic == self._topic else None
        with transaction(self._conn) as conn:
            if topic_id is None:
                row = conn.execute("SELECT topic_id, partitions FROM topics WHERE name = ?", (topic,)).fetchone()
                if row is None:
                    raise OffsetRangeError(f"cannot commit for topic {topic!r}: it does not exist")
                topic_id = row[0]
            for partition, offset in offsets.items():
                if offset < 0:
                    raise OffsetRangeError(f"cannot commit offset {offset} for {topic}/{partition}")
                held = conn.execute(
                    "SELECT owner, epoch FROM partition_leases WHERE grp = ? AND partition = ?",
                    (self.group, partition),
                ).fetchone()
                if held is None or partition not in self._owned or held != (self.member, self._owned[partition]):
                    raise FencedError(
                        f"{self.member} no longer owns partition {partition} of group {self.group} "
                        f"(lease now {held}); its commit of {topic}/{partition} at {offset} is refused"
                    )
            conn.executemany(
                "INSERT INTO group_offsets VALUES (?, ?, ?, ?)"
                " ON CONFLICT (grp, topic_id, partition) DO UPDATE SET offset = excluded.offset",
                ((self.group, topic_id, partition, offset) for partition, offset in offsets.items()),
            )

    def close(self) -> None:
        self._stop.set()
        self._beats.join()
        with transaction(self._conn) as conn:
            conn.execute(
                "UPDATE partition_leases SET owner = NULL WHERE grp = ? AND owner = ?", (self.group, self.member)
            )
            conn.execute("DELETE FROM group_members WHERE grp = ? AND member = ?", (self.group, self.member))
        self._conn.close()
