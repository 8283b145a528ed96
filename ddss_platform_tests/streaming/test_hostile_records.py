"""No record can stop a partition (issue 18): whatever key, value and headers a producer sends, the range commits,
every bad record is on the dead-letter topic with its reason, and every good one is scored.

The records are drawn by hypothesis and placed in one partition as a foreign producer could place them: on an
in-memory bus that holds anything Kafka holds, and on the real Kafka broker, written by a plain librdkafka
producer (not the project's adapter) with headers and explicit partitions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

import pytest
from confluent_kafka import Producer
from fastavro import parse_schema, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddss_platform.events.codec import SINGLE_OBJECT_MAGIC, EventCodec
from ddss_platform.events.schema import crc64_fingerprint
from ddss_platform.events.simulator import CitizenEventSimulator
from ddss_platform.events.topics import SCORING_GROUP
from ddss_platform.processing import OffsetRange, SinkWrites, process_range, read_dead_letters
from ddss_platform.processing.dead_letters import KEPT_ORIGINAL_BYTES, MAX_LETTER_BYTES
from ddss_platform.settings import Settings
from ddss_platform.stores import Stores, open_stores
from ddss_platform.stores.bus.partitioner import partition_for
from ddss_platform_tests.recent import START_MS
from ddss_platform_tests.streaming.memory_bus import MemoryBus
from ddss_platform_tests.streaming.support import seed_stores

CITIZENS = 40
PARTITIONS = 3
PARTITION = 1  # the one the records are placed in
BROKER_MAX_MESSAGE = 1_048_588
"""message.max.bytes of the test broker (Apache Kafka's default): the largest record batch it takes."""
RECORD_OVERHEAD = 512
"""Bytes of a one-record batch besides its key, value and headers (batch and record headers, with room)."""
HUGE_KEY_CHARS = 100_000

CODEC = EventCodec()
POOL = [CitizenEventSimulator(CITIZENS, seed=18, start_ms=START_MS).next_event() for _ in range(300)]
OTHER_SCHEMA_JSON = {
    "type": "record",
    "name": "Unrelated",
    "namespace": "elsewhere",
    "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}],
}
OTHER_SCHEMA = parse_schema(OTHER_SCHEMA_JSON)


@dataclass(frozen=True)
class Spec:
    """One record to produce: its key, what its value is, and the headers it carries."""

    key_kind: str  # none, citizen (the event's citizenId), other_citizen, text, binary, huge
    key_text: str | bytes | None
    value_kind: str  # tombstone, empty, random, other_schema, wire_format, invalid, event, huge
    event: int  # index into POOL (events, invalid events and the citizen keys)
    noise: bytes  # the random bytes, or the seed of a huge value
    huge_size: int
    headers: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Record:
    key: str | bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    expected_reason: str | None  # None: the record must be scored; "?": some decoding reason
    event_id: str | None


def _key_bytes(key: str | bytes | None) -> int:
    if key is None:
        return 0
    return len(key) if isinstance(key, bytes) else len(key.encode(errors="surrogateescape"))


@st.composite
def specs(draw) -> Spec:
    event = draw(st.integers(0, len(POOL) - 1))
    key_kind = draw(st.sampled_from(["none", "citizen", "citizen", "other_citizen", "text", "binary", "huge"]))
    key_text = {
        "none": None,
        "citizen": POOL[event]["citizenId"],
        "other_citizen": f"CIT{draw(st.integers(CITIZENS, 10**7)):08d}",
        "text": draw(st.text(max_size=40)),
        # not UTF-8: a lone continuation byte somewhere
        "binary": draw(st.binary(max_size=30)) + b"\x80" + draw(st.binary(max_size=30)),
        "huge": "K" * HUGE_KEY_CHARS,
    }[key_kind]
    headers = tuple(draw(st.lists(st.tuples(st.text(min_size=1, max_size=10), st.binary(max_size=50)), max_size=3)))
    value_kind = draw(
        st.sampled_from(
            ["tombstone", "empty", "random", "other_schema", "wire_format", "invalid", "event", "event", "huge"]
        )
    )
    room = BROKER_MAX_MESSAGE - RECORD_OVERHEAD - _key_bytes(key_text) - sum(len(k) + len(v) for k, v in headers)
    return Spec(
        key_kind=key_kind,
        key_text=key_text,
        value_kind=value_kind,
        event=event,
        noise=draw(st.binary(max_size=300)),
        huge_size=draw(st.one_of(st.just(room), st.integers(700_000, room))),
        headers=headers,
    )


def materialise(spec: Spec, event_id: str) -> Record:
    """The record a spec names, and what the scoring run must make of it."""
    event = {**POOL[spec.event], "eventId": event_id}
    key = spec.key_text
    value: bytes | None
    reason: str | None = "?"
    if spec.value_kind == "tombstone":
        value, reason = None, "tombstone"
    elif spec.value_kind == "empty":
        value, reason = b"", "empty"
    elif spec.value_kind == "random":
        value = spec.noise
    elif spec.value_kind == "other_schema":
        out = BytesIO()
        out.write(SINGLE_OBJECT_MAGIC + crc64_fingerprint(OTHER_SCHEMA_JSON))
        schemaless_writer(out, OTHER_SCHEMA, {"id": event["citizenId"], "amount": 1.5})
        value, reason = out.getvalue(), "unknown_schema"
    elif spec.value_kind == "wire_format":  # registry framing, but no registry is configured
        value, reason = b"\x00\x00\x00\x00\x07" + spec.noise, "unknown_schema"
    elif spec.value_kind == "invalid":
        value, reason = CODEC.encode({**event, "severity": 7.0}), "invalid"
    elif spec.value_kind == "huge":
        value = random.Random(spec.noise).randbytes(spec.huge_size)
    else:
        value = CODEC.encode(event)
        if key != event["citizenId"]:
            reason = "key_mismatch"
        elif partition_for(event["citizenId"], PARTITIONS) != PARTITION:
            reason = "wrong_partition"
        else:
            reason = None
    return Record(key, value, spec.headers, reason, event_id if reason is None else None)


def check_range(stores: Stores, topic: str, records: list[Record]) -> None:
    result = process_range(stores, OffsetRange(topic, PARTITION, 0, len(records)))

    assert stores.bus.committed(SCORING_GROUP, topic)[PARTITION] == len(records)
    assert result.records == len(records)
    letters = [d for d in read_dead_letters(stores.bus) if d.source_topic == topic]
    by_offset = {d.source_offset: d for d in letters}
    assert len(by_offset) == len(letters), "a record was dead-lettered twice"
    bad = {offset for offset, record in enumerate(records) if record.expected_reason is not None}
    assert set(by_offset) == bad
    for offset, letter in by_offset.items():
        record = records[offset]
        assert letter.reason and letter.detail
        if record.expected_reason != "?":
            assert letter.reason == record.expected_reason, letter.detail
        assert len(letter.encode()) <= MAX_LETTER_BYTES
        original = record.value or b""
        if letter.cut:
            assert letter.original == original[:KEPT_ORIGINAL_BYTES]
            assert letter.original_length == len(original)
            assert letter.original_sha256 == hashlib.sha256(original).hexdigest()
            assert "cut to fit" in letter.detail
        else:
            assert letter.original == original
            key = record.key.decode(errors="surrogateescape") if isinstance(record.key, bytes) else record.key
            assert letter.source_key == key
    scored = stores.archive.read_events()
    scored = scored[scored["topic"] == topic]
    assert set(scored["event_id"]) == {r.event_id for r in records if r.event_id is not None}
    assert set(scored["offset"]) == set(range(len(records))) - bad


@pytest.fixture(scope="module")
def seeded_stores(tmp_path_factory) -> Iterator[Stores]:
    """Embedded stores with the seed world (shared by the examples: each writes its own topic)."""
    settings = Settings.from_env({"DDSS_HOME": str(tmp_path_factory.mktemp("hostile") / "ddss")})
    seed_stores(settings, CITIZENS)
    with open_stores(settings) as stores:
        yield stores


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(specs(), min_size=1, max_size=12))
def test_no_record_stops_a_partition(seeded_stores, drawn):
    topic = f"hostile-{uuid.uuid4().hex[:12]}"
    bus = MemoryBus()
    bus.ensure_topic(topic, PARTITIONS)
    records = [materialise(spec, f"{topic}-{n}") for n, spec in enumerate(drawn)]
    for record in records:
        bus.put(topic, PARTITION, record.key, record.value)
    check_range(dataclasses.replace(seeded_stores, bus=bus), topic, records)


@pytest.fixture(scope="module")
def kafka_stores(tmp_path_factory, kafka_bootstrap) -> Iterator[Stores]:
    """The same, the bus on the real Kafka broker."""
    env = {
        "DDSS_HOME": str(tmp_path_factory.mktemp("hostile-kafka") / "ddss"),
        "DDSS_BUS_URL": f"kafka://{kafka_bootstrap}",
    }
    settings = Settings.from_env({**env, "DDSS_PARTITIONS": str(PARTITIONS)})
    seed_stores(settings, CITIZENS)
    with open_stores(settings) as stores:
        yield stores


def produce_foreign(bootstrap: str, topic: str, records: list[Record]) -> None:
    """As kcat would: a plain librdkafka producer, explicit partition, any key, value and headers."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "message.max.bytes": BROKER_MAX_MESSAGE, "linger.ms": 0, "acks": "all"}
    )
    failures = []
    for record in records:
        producer.produce(
            topic,
            value=record.value,
            key=record.key.encode(errors="surrogateescape") if isinstance(record.key, str) else record.key,
            partition=PARTITION,
            headers=list(record.headers),
            on_delivery=lambda err, _msg: failures.append(err) if err else None,
        )
        producer.flush(30)  # one record per batch: a batch of two huge records would exceed the broker's limit
    assert producer.flush(30) == 0 and not failures, failures


@pytest.mark.live
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(drawn=st.lists(specs(), min_size=1, max_size=8))
def test_no_record_stops_a_partition_on_kafka(kafka_stores, kafka_bootstrap, drawn):
    topic = f"hostile-{uuid.uuid4().hex[:12]}"
    kafka_stores.bus.ensure_topic(topic, PARTITIONS)
    records = [materialise(spec, f"{topic}-{n}") for n, spec in enumerate(drawn)]
    produce_foreign(kafka_bootstrap, topic, records)
    check_range(kafka_stores, topic, records)


class FailAfterDeadLetters(SinkWrites):
    """Fails the attempt right after its first write (the dead letters), as a crash there would."""

    def crash(self) -> None:
        raise RuntimeError("the attempt fails after writing its dead letters")


def test_a_retried_range_writes_a_cut_dead_letter_once(seeded_stores):
    topic = f"hostile-{uuid.uuid4().hex[:12]}"
    bus = MemoryBus()
    bus.ensure_topic(topic, PARTITIONS)
    huge = random.Random(1).randbytes(900_000)  # the record: base64 would make its letter 1.2 MB
    bus.put(topic, PARTITION, "CIT00000001", huge)
    stores = dataclasses.replace(seeded_stores, bus=bus)
    with pytest.raises(RuntimeError, match="after writing its dead letters"):
        process_range(stores, OffsetRange(topic, PARTITION, 0, 1), writes=FailAfterDeadLetters(crash_at=2))
    assert bus.committed(SCORING_GROUP, topic)[PARTITION] == 0
    process_range(stores, OffsetRange(topic, PARTITION, 0, 1))
    (letter,) = [d for d in read_dead_letters(bus) if d.source_topic == topic]
    assert letter.cut and letter.original_length == len(huge) and letter.original == huge[:KEPT_ORIGINAL_BYTES]
    assert "cut to fit the bus: it keeps the first 65536 of 900000 original bytes" in letter.detail
    assert bus.committed(SCORING_GROUP, topic)[PARTITION] == 1
