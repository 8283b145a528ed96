"""The event-bus port: partitioned, append-only topics and consumer-group offsets.

Adapters: ``embedded`` (a SQLite WAL log under ``DDSS_HOME``) and ``kafka://``
(confluent-kafka against Kafka or Redpanda). Both place a key in the same
partition (Kafka's murmur2 partitioner), so data moved between them keeps its
per-citizen order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ddss_platform.events.codec import EventCodec
from ddss_platform.settings import Settings

DEFAULT_CHUNK = 10_000

ProduceRecord = tuple[str, bytes] | tuple[str, bytes, int]
"""(key, value) or (key, value, record timestamp ms); without a timestamp the bus stamps the produce time.
Kafka applies time retention to record timestamps, so an old timestamp can get a record deleted at once."""


@dataclass(slots=True)
class BusRecord:
    """One record as any producer left it: the bus checks nothing about its key or value.

    ``key`` is None for a keyless record; a key that is not UTF-8 comes back with its bad bytes as lone
    surrogates (``surrogateescape``), so it stays a ``str`` and still encodes back to the original bytes.
    ``value`` is None for a tombstone (a null value). ``partition_count`` is the topic's partition count
    when the record was read, against which a reader checks that the record's key owns its partition."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    timestamp_ms: int
    partition_count: int


class BusError(RuntimeError):
    """The bus refused or failed an operation."""


class UnknownTopicError(BusError):
    """The topic was never created (``ensure_topic``)."""


class OffsetRangeError(BusError):
    """A requested offset range is not (or no longer, or not yet) in the log."""


class FencedError(BusError):
    """A write or an offset commit for a partition by a holder that no longer owns it: refused."""


SESSION_TIMEOUT_S = 6.0
"""A group member that sent no heartbeat for this long is gone and its partitions move (Kafka's lowest
session.timeout.ms by default)."""


class GroupMembership(Protocol):
    """One member of a consumer group: the group divides a topic's partitions among its live members (sticky:
    a member keeps what it has while the division stays fair) and moves a gone member's partitions to the
    others. Heartbeats run in the background; ``poll`` serves the rebalances."""

    member: str

    def poll(self) -> set[int]:
        """The partitions the group assigns this member now."""

    def commit(self, topic: str, offsets: Mapping[int, int]) -> None:
        """Commit the group's offsets of partitions this member owns, with its generation: FencedError when the
        group has moved one of them on (the member was paused or cut off), and nothing is committed."""

    def close(self) -> None:
        """Leave the group: the partitions move to the other members."""


class EventBus(Protocol):
    def ensure_topic(self, topic: str, partitions: int) -> int:
        """Create the topic with ``partitions`` partitions unless it exists; return its partition count."""

    def produce(self, topic: str, records: Sequence[ProduceRecord]) -> int:
        """Append the records (partition by murmur2 of the key); return how many were written.
        Raises when any record could not be written durably."""

    def partitions(self, topic: str) -> list[int]:
        """The topic's partition numbers (UnknownTopicError when it does not exist)."""

    def end_offsets(self, topic: str) -> dict[int, int]:
        """partition -> the offset the next record will get."""

    def read_range(self, topic: str, partition: int, start: int, end: int) -> list[BusRecord]:
        """Exactly the records with start ≤ offset < end, in offset order (OffsetRangeError if not all there)."""

    def iter_range(
        self, topic: str, partition: int, start: int, end: int, chunk_size: int = DEFAULT_CHUNK
    ) -> Iterator[list[BusRecord]]:
        """``read_range`` in chunks of at most ``chunk_size`` records, so a huge range keeps memory flat."""

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """partition -> the group's committed offset (the next offset to process; 0 when none)."""

    def commit(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        """Set the group's committed offsets for the given partitions."""

    def join(self, group: str, member: str, topic: str, static: bool = False) -> GroupMembership:
        """Join ``group`` as ``member``, sharing ``topic``'s partitions with its other members. ``static``: the
        member name is a stable identity (Kafka static membership), so a member restarted under the same name
        within the session timeout gets its partitions back without a rebalance."""

    def close(self) -> None: ...


def lag(end_offsets: Mapping[int, int], committed: Mapping[int, int]) -> dict[int, int]:
    """partition -> records not yet committed by the group (``end_offsets`` and ``committed`` as the bus gives
    them)."""
    return {p: max(0, end - committed.get(p, 0)) for p, end in end_offsets.items()}


def open_bus(settings: Settings) -> EventBus:
    """The bus adapter named by ``DDSS_BUS_URL``."""
    if settings.bus.embedded:
        from ddss_platform.stores.bus.embedded import EmbeddedBus

        return EmbeddedBus(settings.home / "bus.sqlite")
    from ddss_platform.stores.bus.kafka import KafkaBus

    return KafkaBus.from_url(settings.bus, settings.connect_timeout_s)


def open_codec(settings: Settings) -> EventCodec:
    """The event codec: registry wire format when ``DDSS_SCHEMA_REGISTRY_URL`` is set, else single-object."""
    if not settings.schema_registry_url:
        return EventCodec()
    from ddss_platform.events.topics import CITIZEN_EVENTS
    from ddss_platform.stores.bus.registry import ConfluentSchemaRegistry

    registry = ConfluentSchemaRegistry(
        settings.schema_registry_url, subject=f"{CITIZEN_EVENTS}-value", timeout_s=settings.connect_timeout_s
    )
    return EventCodec(registry)
