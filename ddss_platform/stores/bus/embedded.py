"""The embedded bus: a durable, multi-process log in one SQLite (WAL) file.

Offsets are assigned inside the producing transaction (BEGIN IMMEDIATE), so
concurrent producers in different processes serialise on the write lock and
never hand out an offset twice. Records are keyed (topic, partition, offset),
so a range read is one index scan. A topic's partition count never changes
once created, which lets each connection cache it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from itertools import repeat
from pathlib import Path

from ddss_platform.stores.bus import (
    DEFAULT_CHUNK,
    BusError,
    BusRecord,
    OffsetRangeError,
    ProduceRecord,
    UnknownTopicError,
)
from ddss_platform.stores.bus.embedded_group import SCHEMA as GROUP_SCHEMA
from ddss_platform.stores.bus.embedded_group import EmbeddedMembership
from ddss_platform.stores.bus.partitioner import partition_for
from ddss_platform.stores.sqlite import connect, transaction

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS topics (
        topic_id   INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        partitions INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS partition_ends (
        topic_id    INTEGER NOT NULL,
        partition   INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        PRIMARY KEY (topic_id, partition)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS records (
        topic_id     INTEGER NOT NULL,
        partition    INTEGER NOT NULL,
        offset       INTEGER NOT NULL,
        key          TEXT,
        value        BLOB NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        PRIMARY KEY (topic_id, partition, offset)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS group_offsets (
        grp       TEXT NOT NULL,
        topic_id  INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        offset    INTEGER NOT NULL,
        PRIMARY KEY (grp, topic_id, partition)) WITHOUT ROWID""",
)

_SELECT_RANGE = (
    "SELECT offset, key, value, timestamp_ms FROM records"
    " WHERE topic_id = ? AND partition = ? AND offset >= ? AND offset < ? ORDER BY offset"
)


class EmbeddedBus:
    """``EventBus`` on a SQLite log file (``DDSS_HOME/bus.sqlite``)."""

    def __init__(self, path: Path):
        self.path = path
        self._conn = connect(path)
        with transaction(self._conn) as conn:
            for statement in (*_SCHEMA, *GROUP_SCHEMA):
                conn.execute(statement)
        self._topics: dict[str, tuple[int, int]] = {}

    # -- topics ------------------------------------------------------------------------------

    def ensure_topic(self, topic: str, partitions: int) -> int:
        if partitions < 1:
            raise ValueError(f"a topic needs at least one partition, got {partitions}")
        with transaction(self._conn) as conn:
            row = conn.execute("SELECT partitions FROM topics WHERE name = ?", (topic,)).fetchone()
            if row:
                return row[0]
            topic_id = conn.execute(
                "INSERT INTO topics (name, partitions) VALUES (?, ?)", (topic, partitions)
            ).lastrowid
            conn.executemany("INSERT INTO partition_ends VALUES (?, ?, 0)", ((topic_id, p) for p in range(partitions)))
        return partitions

    def _topic(self, topic: str) -> tuple[int, int]:
        """(topic id, partition count), cached: neither changes once the topic exists."""
        found = self._topics.get(topic)
        if found is None:
            row = self._conn.execute("SELECT topic_id, partitions FROM topics WHERE name = ?", (topic,)).fetchone()
            if row is None:
                raise UnknownTopicError(f"topic {topic!r} does not exist in {self.path}")
            found = self._topics[topic] = (row[0], row[1])
        return found

    def partitions(self, topic: str) -> list[int]:
        return list(range(self._topic(topic)[1]))

    def end_offsets(self, topic: str) -> dict[int, int]:
        topic_id, _ = self._topic(topic)
        return dict(
            self._conn.execute(
                "SELECT partition, next_offset FROM partition_ends WHERE topic_id = ? ORDER BY partition", (topic_id,)
            )
        )

    # -- produce -----------------------------------------------------------------------------

    def produce(self, topic: str, records: Sequence[ProduceRecord]) -> int:
        topic_id, count = self._topic(topic)
        now_ms = time.time_ns() // 1_000_000
        # Partitioning happens before taking the write lock; only offset assignment needs it.
        placed = [(partition_for(r[0], count), r[0], r[1], r[2] if len(r) > 2 else now_ms) for r in records]
        if not placed:
            return 0
        with transaction(self._conn) as conn:
            ends = dict(
                conn.execute("SELECT partition, next_offset FROM partition_ends WHERE topic_id = ?", (topic_id,))
            )
            rows = []
            for partition, key, value, timestamp_ms in placed:
                offset = ends[partition]
                ends[partition] = offset + 1
                rows.append((topic_id, partition, offset, key, value, timestamp_ms))
            conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.executemany(
                "UPDATE partition_ends SET next_offset = ? WHERE topic_id = ? AND partition = ?",
                ((offset, topic_id, partition) for partition, offset in ends.items()),
            )
        return len(rows)

    # -- read --------------------------------------------------------------------------------

    def read_range(self, topic: str, partition: int, start: int, end: int) -> list[BusRecord]:
        topic_id = self._check_range(topic, partition, start, end)
        rows = self._conn.execute(_SELECT_RANGE, (topic_id, partition, start, end)).fetchall()
        return self._records(topic, partition, start, end, rows)

    def iter_range(
        self, topic: str, partition: int, start: int, end: int, chunk_size: int = DEFAULT_CHUNK
    ) -> Iterator[list[BusRecord]]:
        topic_id = self._check_range(topic, partition, start, end)
        for first in range(start, end, chunk_size):
            last = min(first + chunk_size, end)
            rows = self._conn.execute(_SELECT_RANGE, (topic_id, partition, first, last)).fetchall()
            yield self._records(topic, partition, first, last, rows)

    def _check_range(self, topic: str, partition: int, start: int, end: int) -> int:
        topic_id, count = self._topic(topic)
        if not 0 <= partition < count:
            raise OffsetRangeError(f"{topic} has partitions 0..{count - 1}, not {partition}")
        if not 0 <= start <= end:
            raise OffsetRangeError(f"bad range [{start}, {end}) of {topic}/{partition}")
        available = self.end_offsets(topic)[partition]
        if end > available:
            raise OffsetRangeError(f"{topic}/{partition} ends at offset {available}; cannot read [{start}, {end})")
        return topic_id

    def _records(self, topic: str, partition: int, start: int, end: int, rows: list[tuple]) -> list[BusRecord]:
        if len(rows) != end - start:
            raise BusError(f"{topic}/{partition} [{start}, {end}) holds {len(rows)} records, expected {end - start}")
        if not rows:
            return []
        return list(map(BusRecord, repeat(topic), repeat(partition), *zip(*rows), repeat(self._topic(topic)[1])))

    # -- consumer groups ---------------------------------------------------------------------

    def committed(self, group: str, topic: str) -> dict[int, int]:
        topic_id, count = self._topic(topic)
        offsets = dict.fromkeys(range(count), 0)
        offsets.update(
            self._conn.execute(
                "SELECT partition, offset FROM group_offsets WHERE grp = ? AND topic_id = ?", (group, topic_id)
            )
        )
        return offsets

    def commit(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        topic_id, count = self._topic(topic)
        for partition, offset in offsets.items():
            if not 0 <= partition < count or offset < 0:
                raise OffsetRangeError(f"cannot commit offset {offset} for {topic}/{partition}")
        with transaction(self._conn) as conn:
            conn.executemany(
                "INSERT INTO group_offsets VALUES (?, ?, ?, ?)"
                " ON CONFLICT (grp, topic_id, partition) DO UPDATE SET offset = excluded.offset",
                ((group, topic_id, partition, offset) for partition, offset in offsets.items()),
            )

    def join(self, group: str, member: str, topic: str, static: bool = False) -> EmbeddedMembership:
        # every member name is an identity here: a restarted member resumes its place either way
        topic_id, count = self._topic(topic)
        return EmbeddedMembership(self.path, group, member, topic_id, count, topic)

    def close(self) -> None:
        self._conn.close()
