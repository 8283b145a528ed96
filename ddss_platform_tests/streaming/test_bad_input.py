"""`ddss simulate --bad-fraction 0.05` then the pipeline (`ddss stream`): every bad record is dead-lettered with a
reason and its original bytes, every good one is scored and archived, and nothing is lost."""

from __future__ import annotations

from itertools import islice

from typer.testing import CliRunner

from ddss_platform.cli import app
from ddss_platform.events.codec import EventCodec
from ddss_platform.events.simulator import CitizenEventSimulator, simulate_records
from ddss_platform.events.topics import CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import read_dead_letters
from ddss_platform.stores import open_stores
from ddss_platform.stores.bus.partitioner import partition_for
from ddss_platform_tests.recent import START_MS
from ddss_platform_tests.streaming.support import seed_stores

CITIZENS, EVENTS, SEED = 400, 6_000, 5


def expected_records(partitions: int):
    """(partition, offset) -> (event, whether the record is the event's good encoding), regenerated from the seed."""
    codec = EventCodec()
    events = islice(CitizenEventSimulator(CITIZENS, SEED, start_ms=START_MS), EVENTS)
    records = simulate_records(codec, CITIZENS, EVENTS, seed=SEED, bad_fraction=0.05, start_ms=START_MS)
    next_offset = dict.fromkeys(range(partitions), 0)
    expected = {}
    for event, (key, value) in zip(events, records):
        partition = partition_for(key, partitions)
        expected[(partition, next_offset[partition])] = (event, value == codec.encode(event), value)
        next_offset[partition] += 1
    return expected


def test_every_bad_record_is_dead_lettered_and_every_good_one_scored(embedded_settings):
    seed_stores(embedded_settings, CITIZENS)
    cli = CliRunner()
    produced = cli.invoke(
        app,
        [
            "simulate",
            "--citizens",
            str(CITIZENS),
            "--events",
            str(EVENTS),
            "--seed",
            str(SEED),
            "--bad-fraction",
            "0.05",
            "--start-ms",
            str(START_MS),
        ],
    )
    assert produced.exit_code == 0, produced.output
    streamed = cli.invoke(app, ["stream", "--exit-when-idle", "0.5", "--batch-size", "1500"])
    assert streamed.exit_code == 0, streamed.output
    assert "joined consumer group ddss-scoring" in streamed.output

    expected = expected_records(embedded_settings.partitions)
    bad = {position for position, (_event, good, _value) in expected.items() if not good}
    good_ids = {event["eventId"] for event, good, _value in expected.values() if good}
    assert 0.03 * EVENTS < len(bad) < 0.07 * EVENTS

    with open_stores(embedded_settings) as ports:
        letters = read_dead_letters(ports.bus)
        archive = ports.archive.read_events()
        ends = ports.bus.end_offsets(CITIZEN_EVENTS)
        committed = ports.bus.committed(SCORING_GROUP, CITIZEN_EVENTS)

    assert committed == ends and sum(ends.values()) == EVENTS
    by_position = {(d.source_partition, d.source_offset): d for d in letters}
    assert len(by_position) == len(letters), "a record was dead-lettered twice"
    assert set(by_position) == bad
    for position, letter in by_position.items():
        assert letter.reason and letter.detail
        assert letter.original == expected[position][2]
        assert letter.source_topic == CITIZEN_EVENTS
    assert {"bad_magic", "invalid"} <= {d.reason for d in letters}
    assert set(archive["event_id"]) == good_ids
    assert len(archive) == len(good_ids)
    assert set(archive["status"]) <= {"scored", "no_rule", "unknown_citizen"}
    assert (archive["status"] == "scored").sum() > len(good_ids) / 2
    assert len(letters) + len(archive) == EVENTS
