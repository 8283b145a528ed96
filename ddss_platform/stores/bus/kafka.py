"""The production bus: confluent-kafka against Kafka or Redpanda (``DDSS_BUS_URL=kafka://h1:9092,h2:9092``).

The producer is idempotent with ``acks=all`` and librdkafka's ``murmur2_random``
partitioner (Java-compatible for keyed records, like the embedded log). Range
reads assign one partition at the start offset and consume up to the end offset;
group offsets are read and written explicitly (auto-commit is off).

Opening checks that a bootstrap broker accepts connections (``require_reachable``); metadata requests wait at
most the connect timeout (``DDSS_CONNECT_TIMEOUT_S``). librdkafka's own log lines go to the
``ddss_platform.librdkafka`` logger, which shows nothing unless a handler is attached (``ddss --debug``): an
unreachable broker makes it log every reconnection attempt, and every error that matters is raised anyway.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from ddss_platform.settings import DEFAULT_CONNECT_TIMEOUT_S, StoreURL
from ddss_platform.stores.bus import (
    DEFAULT_CHUNK,
    BusError,
    BusRecord,
    OffsetRangeError,
    ProduceRecord,
    UnknownTopicError,
)
from ddss_platform.stores.bus.kafka_group import KafkaMembership
from ddss_platform.stores.reachability import StoreUnreachableError, require_reachable

LIBRDKAFKA_LOG = logging.getLogger("ddss_platform.librdkafka")
LIBRDKAFKA_LOG.addHandler(logging.NullHandler())
LIBRDKAFKA_LOG.propagate = False
DEFAULT_PORT = 9092
_NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: the group has committed nothing for the partition


class KafkaBus:
    """``EventBus`` on a Kafka-protocol cluster. One range read at a time per instance (they share a consumer)."""

    def __init__(
        self,
        bootstrap: str,
        setting: str = "DDSS_BUS_URL",
        timeout_s: float = 30.0,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ):
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._setting = setting
        self._base = {
            "bootstrap.servers": bootstrap,
            "socket.connection.setup.timeout.ms": max(1, int(connect_timeout_s * 1000)),
            "logger": LIBRDKAFKA_LOG,
        }
        self._admin = AdminClient(self._base)
        self._producer: Producer | None = None
        self._reader: Consumer | None = None
        self._groups: dict[str, Consumer] = {}
        self._partition_counts: dict[str, int] = {}
        self._while_leader_moves = Retrying(
            retry=retry_if_exception(_leader_moving),
            stop=stop_after_delay(timeout_s),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        )

    @classmethod
    def from_url(cls, url: StoreURL, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> KafkaBus:
        require_reachable(url, DEFAULT_PORT, connect_timeout_s)
        return cls(",".join(url.endpoints(DEFAULT_PORT)), setting=url.setting, connect_timeout_s=connect_timeout_s)

    # -- topics ------------------------------------------------------------------------------

    def ensure_topic(self, topic: str, partitions: int) -> int:
        if partitions < 1:
            raise ValueError(f"a topic needs at least one partition, got {partitions}")
        if (existing := self._metadata_partitions(topic)) is not None:
            return existing
        future = self._admin.create_topics(
            [NewTopic(topic, num_partitions=partitions)], operation_timeout=self.timeout_s
        )[topic]
        try:
            future.result(timeout=self.timeout_s)
            wanted = partitions
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise BusError(f"creating topic {topic} on {self.bootstrap}: {exc}") from exc
            wanted = 1  # someone else created it: take its partition count as it is
        # Creation is asynchronous on the brokers: wait until metadata shows the partitions.
        deadline = time.monotonic() + self.timeout_s
        while (count := self._metadata_partitions(topic)) is None or count < wanted:
            if time.monotonic() > deadline:
                raise BusError(f"topic {topic} did not appear on {self.bootstrap} within {self.timeout_s:.0f} s")
            time.sleep(0.1)
        return count

    def _metadata_partitions(self, topic: str) -> int | None:
        try:
            # All topics: asking for one by name lets some brokers (noida-db) auto-create it.
            metadata = self._admin.list_topics(timeout=self.connect_timeout_s)
        except KafkaException as exc:
            raise StoreUnreachableError(self._setting, self.bootstrap, exc.args[0].str()) from exc
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            return None
        self._partition_counts[topic] = len(found.partitions)
        return len(found.partitions)

    def _count(self, topic: str) -> int:
        count = self._partition_counts.get(topic) or self._metadata_partitions(topic)
        if count is None:
            raise UnknownTopicError(f"topic {topic!r} does not exist on {self.bootstrap}")
        return count

    def partitions(self, topic: str) -> list[int]:
        return list(range(self._count(topic)))

    def end_offsets(self, topic: str) -> dict[int, int]:
        return {p: self._end_offset(topic, p) for p in self.partitions(topic)}

    def _end_offset(self, topic: str, partition: int) -> int:
        # Only the high watermark: noida-db sometimes reports the low one equal to the high one right
        # after a read. A start below a truncated log's beginning surfaces as a fetch error instead.
        try:
            return self._while_leader_moves(
                self._reader_consumer().get_watermark_offsets,
                TopicPartition(topic, partition),
                timeout=self.timeout_s,
                cached=False,
            )[1]
        except KafkaException as exc:
            raise BusError(f"reading the offsets of {topic}/{partition} from {self.bootstrap}: {exc}") from exc

    # -- produce -----------------------------------------------------------------------------

    def produce(self, topic: str, records: Sequence[ProduceRecord]) -> int:
        self._count(topic)  # refuse unknown topics instead of letting the broker auto-create them
        producer = self._producer_client()
        failures: list[KafkaError] = []

        def delivered(err, _msg) -> None:
            if err is not None:
                failures.append(err)

        sent = 0
        for record in records:
            timestamp = record[2] if len(record) > 2 else 0  # 0: librdkafka stamps the current time
            while True:
                try:
                    producer.produce(topic, value=record[1], key=record[0], timestamp=timestamp, on_delivery=delivered)
                    break
                except BufferError:  # local queue full: serve delivery reports, then retry
                    producer.poll(0.05)
            sent += 1
        left = producer.flush(self.timeout_s)
        if left or failures:
            raise BusError(
                f"producing to {topic}: {len(failures)} records failed ({failures[:1]}), {left} undelivered after "
                f"{self.timeout_s:.0f} s"
            )
        return sent

    def _producer_client(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(
                {
                    **self._base,
                    "enable.idempotence": True,
                    "acks": "all",
                    "partitioner": "murmur2_random",
                    "linger.ms": 5,
                    "batch.size": 1_000_000,
                    "queue.buffering.max.messages": 500_000,
                }
            )
        return self._producer

    # -- read --------------------------------------------------------------------------------

    def read_range(self, topic: str, partition: int, start: int, end: int) -> list[BusRecord]:
        records: list[BusRecord] = []
        for chunk in self.iter_range(topic, partition, start, end, chunk_size=max(end - start, 1)):
            records.extend(chunk)
        return records

    def iter_range(
        self, topic: str, partition: int, start: int, end: int, chunk_size: int = DEFAULT_CHUNK
    ) -> Iterator[list[BusRecord]]:
        count = self._count(topic)
        if not 0 <= partition < count:
            raise OffsetRangeError(f"{topic} has partitions 0..{count - 1}, not {partition}")
        high = self._end_offset(topic, partition)
        if not 0 <= start <= end <= high:
            raise OffsetRangeError(f"{topic}/{partition} ends at offset {high}; cannot read [{start}, {end})")
        if start == end:
            return
        consumer = self._reader_consumer()
        consumer.assign([TopicPartition(topic, partition, start)])
        try:
            yield from self._consume(consumer, topic, partition, start, end, chunk_size, count)
        finally:
            consumer.unassign()

    def _consume(
        self,
        consumer: Consumer,
        topic: str,
        partition: int,
        start: int,
        end: int,
        chunk_size: int,
        partition_count: int,
    ) -> Iterator[list[BusRecord]]:
        chunk: list[BusRecord] = []
        position = start
        deadline = time.monotonic() + self.timeout_s
        while position < end:
            messages = consumer.consume(min(end - position, 10_000), timeout=0.5)
            if messages:
                deadline = time.monotonic() + self.timeout_s  # the timeout bounds a stall, not the whole read
            elif time.monotonic() > deadline:
                raise OffsetRangeError(
                    f"reading {topic}/{partition} [{start}, {end}): stalled at offset {position} for "
                    f"{self.timeout_s:.0f} s on {self.bootstrap}"
                )
            for message in messages:
                if message.error():  # with auto.offset.reset=error, a start the log no longer holds lands here
                    raise OffsetRangeError(f"reading {topic}/{partition} [{start}, {end}): {message.error()}")
                offset = message.offset()
                if offset >= end:
                    position = end
                    break
                key = message.key()
                chunk.append(
                    BusRecord(
                        topic,
                        partition,
                        offset,
                        key.decode(errors="surrogateescape") if key is not None else None,
                        message.value(),
                        message.timestamp()[1],
                        partition_count,
                    )
                )
                position = offset + 1
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _reader_consumer(self) -> Consumer:
        if self._reader is None:
            self._reader = Consumer(
                {
                    **self._base,
                    # Range reads never join or commit for a group; librdkafka still wants a group id.
                    "group.id": f"ddss-range-reader-{uuid.uuid4().hex}",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "enable.partition.eof": False,
                    "auto.offset.reset": "error",
                    "fetch.max.bytes": 64 * 1024 * 1024,
                    "max.partition.fetch.bytes": 16 * 1024 * 1024,
                    "queued.min.messages": 200_000,
                }
            )
        return self._reader

    # -- consumer groups ---------------------------------------------------------------------

    def committed(self, group: str, topic: str) -> dict[int, int]:
        wanted = [TopicPartition(topic, p) for p in self.partitions(topic)]
        try:
            answer = self._group_consumer(group).committed(wanted, timeout=self.timeout_s)
        except KafkaException as exc:
            raise BusError(f"reading group {group} offsets of {topic}: {exc}") from exc
        return {tp.partition: (tp.offset if tp.offset >= 0 else 0) for tp in answer}

    def commit(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        count = self._count(topic)
        for partition, offset in offsets.items():
            if not 0 <= partition < count or offset < 0:
                raise OffsetRangeError(f"cannot commit offset {offset} for {topic}/{partition}")
        wanted = [TopicPartition(topic, p, o) for p, o in offsets.items()]
        try:
            answer = self._group_consumer(group).commit(offsets=wanted, asynchronous=False)
        except KafkaException as exc:
            raise BusError(f"committing group {group} offsets of {topic}: {exc}") from exc
        failed = [tp for tp in answer or () if tp.error is not None]
        if failed:
            raise BusError(f"committing group {group} offsets of {topic}: {failed}")

    def join(self, group: str, member: str, topic: str, static: bool = False) -> KafkaMembership:
        self._count(topic)  # UnknownTopicError before joining for a topic that does not exist
        return KafkaMembership(self._base, group, member, topic, static)

    def _group_consumer(self, group: str) -> Consumer:
        if group not in self._groups:
            self._groups[group] = Consumer({**self._base, "group.id": group, "enable.auto.commit": False})
        return self._groups[group]

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self.timeout_s)
        for consumer in (self._reader, *self._groups.values()):
            if consumer is not None:
                consumer.close()
        self._reader, self._producer, self._groups = None, None, {}


_LEADER_MOVING = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE}


def _leader_moving(exc: BaseException) -> bool:
    """A partition's leader is being elected or moved: right after a topic is created, Kafka's metadata can
    already name a leader that does not yet serve the partition's offsets. Retried; anything else is not."""
    return isinstance(exc, KafkaException) and exc.args[0].code() in _LEADER_MOVING
