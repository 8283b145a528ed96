"""The event-bus contract: the same assertions on every adapter.

embedded: always. kafka: a real Apache Kafka broker (KRaft) for the session, or the one DDSS_TEST_KAFKA_BOOTSTRAP
names. kafka-noida: noida-db, a second Kafka-protocol peer.
"""

from __future__ import annotations

import time
import uuid

import pytest

from ddss_platform.settings import Settings
from ddss_platform.stores.bus import BusRecord, FencedError, OffsetRangeError, UnknownTopicError, open_bus
from ddss_platform.stores.bus.partitioner import partition_for
from ddss_platform_tests.waiting import wait_until

ADAPTERS = [
    "embedded",
    pytest.param("kafka", marks=pytest.mark.live),
    pytest.param("kafka-noida", marks=pytest.mark.live),
]


@pytest.fixture(params=ADAPTERS)
def bus(request, tmp_path):
    yield from _opened(request, tmp_path)


@pytest.fixture(params=ADAPTERS[:2])
def group_bus(request, tmp_path):
    """The adapters with consumer-group membership: noida-db implements no JoinGroup/SyncGroup, which a
    Kafka-protocol peer for range reads and offset commits does not need."""
    yield from _opened(request, tmp_path)


def _opened(request, tmp_path):
    env = {"DDSS_HOME": str(tmp_path / "ddss")}
    if request.param == "kafka-noida":
        env["DDSS_BUS_URL"] = f"kafka://{request.getfixturevalue('noida_kafka')}"
    elif request.param == "kafka":
        env["DDSS_BUS_URL"] = f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    opened = open_bus(Settings.from_env(env))
    if request.param != "embedded":
        opened.timeout_s = 5.0  # a stalled read fails fast in tests
    yield opened
    opened.close()


@pytest.fixture
def topic() -> str:
    """A fresh topic name: the Kafka broker is shared by the whole session."""
    return f"contract-{uuid.uuid4().hex[:12]}"


def _records(n: int, keys: int = 17) -> list[tuple[str, bytes, int]]:
    # recent timestamps: a broker's time retention would delete records stamped long ago
    base_ms = time.time_ns() // 1_000_000 - 60_000
    return [(f"CIT{i % keys:08d}", f"value-{i}".encode() + bytes([i % 256]), base_ms + i) for i in range(n)]


def test_ensure_topic_creates_partitions_once(bus, topic):
    assert bus.ensure_topic(topic, 3) == 3
    assert bus.ensure_topic(topic, 5) == 3  # an existing topic keeps its partition count
    assert bus.partitions(topic) == [0, 1, 2]
    assert bus.end_offsets(topic) == {0: 0, 1: 0, 2: 0}


def test_unknown_topic_is_refused(bus, topic):
    with pytest.raises(UnknownTopicError):
        bus.partitions(topic)
    with pytest.raises(UnknownTopicError):
        bus.produce(topic, [("CIT00000001", b"x")])


def test_produce_places_keys_by_murmur2_and_keeps_order(bus, topic):
    bus.ensure_topic(topic, 3)
    records = _records(300)
    assert bus.produce(topic, records) == 300
    ends = bus.end_offsets(topic)
    assert sum(ends.values()) == 300
    for partition, end in ends.items():
        read = bus.read_range(topic, partition, 0, end)
        assert [r.offset for r in read] == list(range(end))
        assert all(partition_for(r.key, 3) == partition for r in read)
        expected = [(k, v, t) for k, v, t in records if partition_for(k, 3) == partition]
        assert [(r.key, r.value, r.timestamp_ms) for r in read] == expected
        assert all(isinstance(r, BusRecord) and r.topic == topic and r.partition == partition for r in read)


def test_read_range_is_exactly_the_half_open_range(bus, topic):
    bus.ensure_topic(topic, 1)
    bus.produce(topic, _records(50))
    read = bus.read_range(topic, 0, 10, 20)
    assert [r.offset for r in read] == list(range(10, 20))
    assert [r.value for r in read] == [v for _, v, _ in _records(50)[10:20]]
    assert bus.read_range(topic, 0, 20, 20) == []


def test_read_beyond_the_end_fails_clearly(bus, topic):
    bus.ensure_topic(topic, 1)
    bus.produce(topic, _records(5))
    with pytest.raises(OffsetRangeError):
        bus.read_range(topic, 0, 0, 6)
    with pytest.raises(OffsetRangeError):
        bus.read_range(topic, 3, 0, 1)  # no such partition


def test_iter_range_chunks_cover_the_range(bus, topic):
    bus.ensure_topic(topic, 1)
    bus.produce(topic, _records(95))
    chunks = list(bus.iter_range(topic, 0, 3, 95, chunk_size=20))
    assert [len(c) for c in chunks] == [20, 20, 20, 20, 12]
    assert [r.offset for c in chunks for r in c] == list(range(3, 95))


def test_produce_appends_after_earlier_batches(bus, topic):
    bus.ensure_topic(topic, 2)
    bus.produce(topic, _records(40))
    first = bus.end_offsets(topic)
    bus.produce(topic, [("CIT00000001", b"late")])
    p = partition_for("CIT00000001", 2)
    assert bus.end_offsets(topic)[p] == first[p] + 1
    [last] = bus.read_range(topic, p, first[p], first[p] + 1)
    assert (last.key, last.value, last.offset) == ("CIT00000001", b"late", first[p])
    assert abs(last.timestamp_ms - time.time_ns() // 1_000_000) < 60_000  # stamped by the bus when not given


def test_group_offsets_start_at_zero_and_commit(bus, topic):
    bus.ensure_topic(topic, 3)
    bus.produce(topic, _records(60))
    group = f"group-{uuid.uuid4().hex[:8]}"
    assert bus.committed(group, topic) == {0: 0, 1: 0, 2: 0}
    bus.commit(group, topic, {1: 7})
    assert bus.committed(group, topic) == {0: 0, 1: 7, 2: 0}
    bus.commit(group, topic, {1: 9, 2: 4})
    assert bus.committed(group, topic) == {0: 0, 1: 9, 2: 4}
    assert bus.committed(f"{group}-other", topic) == {0: 0, 1: 0, 2: 0}


def test_binary_values_survive(bus, topic):
    bus.ensure_topic(topic, 1)
    payload = bytes(range(256)) * 40
    bus.produce(topic, [("k", payload), ("k", b"")])
    assert [r.value for r in bus.read_range(topic, 0, 0, 2)] == [payload, b""]


def _settle(members, wanted) -> dict[str, set[int]]:
    """Poll every member (a rebalance needs all of them) until ``wanted(assignment)`` holds; the assignment."""
    assignment: dict[str, set[int]] = {}

    def settled():
        assignment.update({m.member: m.poll() for m in members})
        return wanted(assignment)

    wait_until(settled, what=f"the group settles (now {assignment})", timeout_s=120, interval_s=0.2)
    return assignment


def test_group_members_share_the_partitions_and_a_moved_partition_cannot_be_committed(group_bus, topic):
    bus = group_bus
    bus.ensure_topic(topic, 4)
    group = f"group-{uuid.uuid4().hex[:8]}"
    first = bus.join(group, "member-a", topic, static=True)
    second = None
    try:
        _settle([first], lambda a: a["member-a"] == {0, 1, 2, 3})
        second = bus.join(group, "member-b", topic, static=True)
        split = _settle([first, second], lambda a: len(a["member-a"]) == len(a["member-b"]) == 2)
        assert split["member-a"] | split["member-b"] == {0, 1, 2, 3}
        mine, theirs = min(split["member-a"]), min(split["member-b"])
        first.commit(topic, {mine: 0})
        with pytest.raises(FencedError):
            first.commit(topic, {theirs: 0})
        first.close()
        first = None
        _settle([second], lambda a: a["member-b"] == {0, 1, 2, 3})  # the leaver's partitions move
        second.commit(topic, {mine: 0, theirs: 0})
        assert bus.committed(group, topic) == {0: 0, 1: 0, 2: 0, 3: 0}
    finally:
        for member in (first, second):
            if member is not None:
                member.close()
