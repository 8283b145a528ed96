"""Consumer-group membership on Kafka: the group protocol itself (``KafkaBus.join``).

The member subscribes to the topic with the cooperative-sticky assignor, so a rebalance moves only the
partitions that must move and the others keep being scored; with ``static`` its name is its
``group.instance.id``, so a restart under the same name gets its partitions back without a rebalance.
librdkafka heartbeats from its own thread; a member silent for ``session.timeout.ms`` is removed and its
partitions move. The member never consumes through this consumer (ranges are read by offset): assigned
partitions are paused at once, and ``poll`` only serves the rebalance callbacks.

Offsets are committed through this consumer, which sends the member's id and generation: the broker refuses
the commit of a member the group has moved on from (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from ddss_platform.stores.bus import SESSION_TIMEOUT_S, BusError, FencedError

_FENCED = {
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.FENCED_INSTANCE_ID,
    KafkaError._ASSIGNMENT_LOST,
    KafkaError._STATE,
}
REBALANCE_WAIT_S = 30.0


class KafkaMembership:
    """``GroupMembership`` through a subscribed confluent-kafka consumer."""

    def __init__(self, base: Mapping, group: str, member: str, topic: str, static: bool):
        self.member, self.group = member, group
        config = {
            **base,
            "group.id": group,
            "client.id": member,
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": int(SESSION_TIMEOUT_S * 1000),
            "heartbeat.interval.ms": 1000,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
        if static:
            config["group.instance.id"] = member
        self._consumer = Consumer(config)
        self._owned: set[int] = set()
        self._consumer.subscribe([topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked)

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.incremental_assign(partitions)
        consumer.pause(partitions)
        self._owned |= {tp.partition for tp in partitions}

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._owned -= {tp.partition for tp in partitions}

    def poll(self) -> set[int]:
        self._consumer.poll(0)  # serves rebalance callbacks; every partition is paused, so no record comes
        return set(self._owned)

    def commit(self, topic: str, offsets: Mapping[int, int]) -> None:
        wanted = [TopicPartition(topic, p, o) for p, o in offsets.items()]
        deadline = time.monotonic() + REBALANCE_WAIT_S
        while True:
            lost = set(offsets) - self._owned
            if lost:
                raise FencedError(f"{self.member} no longer owns partition(s) {sorted(lost)} of group {self.group}")
            try:
                answer = self._consumer.commit(offsets=wanted, asynchronous=False)
            except KafkaException as exc:
                code = exc.args[0].code()
                if code in _FENCED:
                    raise FencedError(f"group {self.group} refused the commit of {self.member}: {exc}") from exc
                if code != KafkaError.REBALANCE_IN_PROGRESS or time.monotonic() > deadline:
                    raise BusError(f"committing group {self.group} offsets of {topic}: {exc}") from exc
                self._consumer.poll(0.2)  # let the rebalance finish (it may take the partition away)
                continue
            failed = [tp for tp in answer or () if tp.error is not None]
            if failed:
                raise BusError(f"committing group {self.group} offsets of {topic}: {failed}")
            return

    def close(self) -> None:
        self._consumer.close()
