"""An in-memory ``EventBus`` that holds records as any Kafka producer can leave them: no key, a key that is not
UTF-8 (returned as the Kafka adapter returns it), no value, placed in any partition."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

from ddss_platform.stores.bus import DEFAULT_CHUNK, BusRecord, OffsetRangeError, ProduceRecord, UnknownTopicError
from ddss_platform.stores.bus.partitioner import partition_for


class MemoryBus:
    def __init__(self) -> None:
        self._logs: dict[str, list[list[BusRecord]]] = {}
        self._committed: dict[tuple[str, str], dict[int, int]] = {}

    def put(self, topic: str, partition: int, key: str | bytes | None, value: bytes | None) -> None:
        """Append one record to ``partition`` as a foreign producer could."""
        if isinstance(key, bytes):
            key = key.decode(errors="surrogateescape")
        log = self._log(topic)
        log[partition].append(
            BusRecord(topic, partition, len(log[partition]), key, value, time.time_ns() // 1_000_000, len(log))
        )

    def _log(self, topic: str) -> list[list[BusRecord]]:
        if topic not in self._logs:
            raise UnknownTopicError(topic)
        return self._logs[topic]

    def ensure_topic(self, topic: str, partitions: int) -> int:
        return len(self._logs.setdefault(topic, [[] for _ in range(partitions)]))

    def produce(self, topic: str, records: Sequence[ProduceRecord]) -> int:
        count = len(self._log(topic))
        for key, value, *_timestamp in records:
            self.put(topic, partition_for(key, count), key, value)
        return len(records)

    def partitions(self, topic: str) -> list[int]:
        return list(range(len(self._log(topic))))

    def end_offsets(self, topic: str) -> dict[int, int]:
        return {p: len(records) for p, records in enumerate(self._log(topic))}

    def read_range(self, topic: str, partition: int, start: int, end: int) -> list[BusRecord]:
        records = self._log(topic)[partition]
        if not 0 <= start <= end <= len(records):
            raise OffsetRangeError(f"{topic}/{partition} ends at {len(records)}; cannot read [{start}, {end})")
        return records[start:end]

    def iter_range(
        self, topic: str, partition: int, start: int, end: int, chunk_size: int = DEFAULT_CHUNK
    ) -> Iterator[list[BusRecord]]:
        for first in range(start, end, chunk_size):
            yield self.read_range(topic, partition, first, min(first + chunk_size, end))

    def committed(self, group: str, topic: str) -> dict[int, int]:
        return {p: self._committed.get((group, topic), {}).get(p, 0) for p in self.partitions(topic)}

    def commit(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        self._committed.setdefault((group, topic), {}).update(offsets)

    def close(self) -> None:
        pass
