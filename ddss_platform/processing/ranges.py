"""Offset ranges: which slice of a partition a scoring run (or a `ddss stream` step) takes next."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BATCH_SIZE = 50_000
"""Most records one run takes; bounds a run's duration, not its memory (runs read in chunks)."""


@dataclass(frozen=True, slots=True)
class OffsetRange:
    topic: str
    partition: int
    start: int
    end: int  # exclusive

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def key(self) -> str:
        """Names the range in run keys, tags and batch ids: ``citizen-events/0/1000-2000``."""
        return f"{self.topic}/{self.partition}/{self.start}-{self.end}"

    @classmethod
    def parse(cls, key: str) -> OffsetRange:
        """The inverse of ``key``."""
        topic, partition, span = key.rsplit("/", 2)
        start, end = span.split("-")
        return cls(topic, int(partition), int(start), int(end))

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition} [{self.start}, {self.end})"


def next_range(topic: str, partition: int, committed: int, end_offset: int, batch_size: int) -> OffsetRange | None:
    """The range after the committed offset, at most ``batch_size`` records; None when there is no lag."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    if end_offset <= committed:
        return None
    return OffsetRange(topic, partition, committed, min(end_offset, committed + batch_size))
