"""`ddss simulate`, `ddss emit` and `ddss topics` on the embedded bus."""

from __future__ import annotations

import json
import re
import time

import pytest
from typer.testing import CliRunner

from ddss_platform.cli import app
from ddss_platform.events.codec import EventCodec
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, CITIZEN_EVENTS_DLQ, SCORING_GROUP
from ddss_platform.processing import WORKER, process_backlog, take_partition
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform.stores.bus import open_bus
from ddss_platform.stores.bus.digest import topic_digest
from ddss_platform_tests.streaming.support import produce, seed_stores

runner = CliRunner()


def _invoke(home, *args, input=None):
    return runner.invoke(app, list(args), input=input, env={"DDSS_HOME": str(home), "DDSS_BUS_URL": "embedded"})


def _topic_records(home) -> list:
    bus = open_bus(Settings.from_env({"DDSS_HOME": str(home)}))
    try:
        return [
            r for p, end in bus.end_offsets(CITIZEN_EVENTS).items() for r in bus.read_range(CITIZEN_EVENTS, p, 0, end)
        ]
    finally:
        bus.close()


def _digest(home) -> str:
    bus = open_bus(Settings.from_env({"DDSS_HOME": str(home)}))
    try:
        return topic_digest(bus, CITIZEN_EVENTS)
    finally:
        bus.close()


def test_simulate_twice_gives_byte_identical_topics(tmp_path):
    args = ("simulate", "--citizens", "200", "--events", "3000", "--seed", "7", "--bad-fraction", "0.02")
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for home in (first, second):
        result = _invoke(home, *args)
        assert result.exit_code == 0, result.output
        assert "events/s" in result.output.strip().splitlines()[-1]
    assert _digest(first) == _digest(second)
    assert _invoke(other, *args[:-3], "8").exit_code == 0
    assert _digest(other) != _digest(first)


def test_simulated_records_are_keyed_by_citizen(tmp_path):
    started_ms = time.time_ns() // 1_000_000
    assert _invoke(tmp_path, "simulate", "--citizens", "50", "--events", "500", "--partitions", "4").exit_code == 0
    records = _topic_records(tmp_path)
    assert len(records) == 500 and {r.partition for r in records} == {0, 1, 2, 3}
    codec = EventCodec()
    for record in records:
        event = codec.decode(record.value)
        assert record.key == event["citizenId"]
        # the record timestamp is the produce time (brokers apply retention to it), the event time is inside
        assert record.timestamp_ms >= started_ms > event["timestamp"]


def test_simulate_paces_to_the_rate(tmp_path):
    result = _invoke(tmp_path, "simulate", "--citizens", "10", "--events", "40", "--rate", "100")
    assert result.exit_code == 0, result.output
    rate = float(result.output.strip().splitlines()[-1].split(": ")[-1].split()[0])
    assert rate <= 110


VALID = {
    "citizenId": "CIT00000001",
    "eventType": "legal",
    "eventSubtype": "violation",
    "location": {"region": "North", "city": "Frostvale"},
    "severity": 0.4,
    "confidence": 0.9,
    "payload": {"metadata": {"kind": "noise"}},
}


def test_emit_fills_id_and_time_and_produces(tmp_path):
    result = _invoke(tmp_path, "emit", json.dumps(VALID))
    assert result.exit_code == 0, result.output
    [record] = _topic_records(tmp_path)
    event = EventCodec().decode(record.value)
    assert event["eventId"] and abs(event["timestamp"] - record.timestamp_ms) < 60_000
    assert event["sourceSystem"] == "manual-input" and event["payload"]["amount"] is None
    assert {k: event[k] for k in ("citizenId", "severity", "location")} == {
        "citizenId": "CIT00000001",
        "severity": 0.4,
        "location": {"region": "North", "city": "Frostvale", "latitude": None, "longitude": None},
    }


def test_emit_reads_stdin_and_keeps_given_fields(tmp_path):
    given = {**VALID, "eventId": "manual-1", "timestamp": 1_735_689_600_000}
    assert _invoke(tmp_path, "emit", input=json.dumps(given)).exit_code == 0
    [record] = _topic_records(tmp_path)
    event = EventCodec().decode(record.value)
    assert (event["eventId"], event["timestamp"]) == ("manual-1", 1_735_689_600_000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": 1.5}, "severity"),
        ({"eventType": "gossip"}, "eventType"),
        ({"severty": 0.4}, "severty: unknown field"),
        ({"eventType": "relationship", "eventSubtype": "friend"}, "relationship: a relationship event needs"),
        ({"location": {"region": "North", "latitude": "north"}}, "location.latitude"),
        ({"timestamp": 9_999_999_999_999}, "timestamp"),
    ],
)
def test_emit_refuses_invalid_events_and_produces_nothing(tmp_path, change, message):
    result = _invoke(tmp_path, "emit", json.dumps({**VALID, **change}))
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "bus.sqlite").exists() or _topic_records(tmp_path) == []


def test_emit_file_is_all_or_nothing(tmp_path):
    lines = tmp_path / "events.jsonl"
    lines.write_text(json.dumps(VALID) + "\n\n" + json.dumps({**VALID, "confidence": -1}) + "\n")
    result = _invoke(tmp_path, "emit", "--file", str(lines))
    assert result.exit_code == 2 and "events.jsonl:3: confidence" in result.output
    assert not (tmp_path / "bus.sqlite").exists()
    lines.write_text("\n".join(json.dumps({**VALID, "citizenId": f"CIT0000000{i}"}) for i in range(3)))
    assert _invoke(tmp_path, "emit", "--file", str(lines)).exit_code == 0
    assert sorted(r.key for r in _topic_records(tmp_path)) == ["CIT00000000", "CIT00000001", "CIT00000002"]


def test_emit_refuses_malformed_json(tmp_path):
    result = _invoke(tmp_path, "emit", "{not json")
    assert result.exit_code == 2 and "not valid JSON" in result.output


def test_topics_shows_end_offsets_and_group_lag(tmp_path):
    assert _invoke(tmp_path, "simulate", "--citizens", "20", "--events", "100", "--partitions", "2").exit_code == 0
    bus = open_bus(Settings.from_env({"DDSS_HOME": str(tmp_path)}))
    ends = bus.end_offsets(CITIZEN_EVENTS)
    bus.commit(SCORING_GROUP, CITIZEN_EVENTS, {0: ends[0]})
    bus.close()
    result = _invoke(tmp_path, "topics")
    assert result.exit_code == 0, result.output
    assert (f"{CITIZEN_EVENTS}: 2 partitions, 100 records, group {SCORING_GROUP} lag {ends[1]}") in result.output
    assert (
        f"partition 0: end offset {ends[0]}, committed {ends[0]}, lag 0, scored by the scoring sensor's runs"
        in result.output
    )
    assert f"partition 1: end offset {ends[1]}, committed 0, lag {ends[1]}, scored by" in result.output
    # no group reads the dead-letter topic: it has no lag to report
    dlq = result.output.split(f"{CITIZEN_EVENTS_DLQ}:", 1)[1]
    assert dlq.startswith(" 2 partitions, 0 records, read by no consumer group") and "lag" not in dlq


def test_topics_says_which_worker_scores_each_partition(tmp_path):
    assert _invoke(tmp_path, "simulate", "--citizens", "20", "--events", "10").exit_code == 0
    settings = Settings.from_env({"DDSS_HOME": str(tmp_path)})
    with open_stores(settings) as stores:
        hold = take_partition(stores.documents, 1, "ddss stream w1 (pid 7 on h)", WORKER, stores.bus.commit)
        result = _invoke(tmp_path, "topics")
        hold.release()
    assert result.exit_code == 0, result.output
    for topic in (CITIZEN_EFFECTS, CITIZEN_EVENTS):
        section = result.output.split(f"{topic}:", 1)[1]
        assert re.search(r"partition 0: .*, scored by the scoring sensor's runs", section)
        assert re.search(r"partition 1: .*, scored by ddss stream w1 \(pid 7 on h\), epoch 1", section)


def test_lineage_of_an_unknown_asset_says_there_is_no_such_asset(tmp_path):
    result = _invoke(tmp_path, "lineage", "no_such_asset")
    assert result.exit_code == 1
    assert (
        "no such asset 'no_such_asset'" in result.output and "credit_score_aggregates_by_region_date" in result.output
    )


def test_help_wraps_whole_sentences_and_shows_no_type_for_flags(tmp_path):
    top = _invoke(tmp_path, "--help").output
    assert "<bool>" not in top and "--debug  Show the traceback" in top
    lineage = _invoke(tmp_path, "lineage", "--help").output
    # the docstring's paragraph is rewrapped: no line ends where its source line does
    assert "application and\n" not in lineage and "<bool>" not in lineage


def test_topics_counts_what_became_of_the_association_effects(tmp_path):
    settings = Settings.from_env({"DDSS_HOME": str(tmp_path), "DDSS_PARTITIONS": "2"})
    seed_stores(settings, 200)
    produce(settings, 200, 3_000, seed=2)
    with open_stores(settings) as ports:
        results = process_backlog(ports)
        produced = sum(ports.bus.end_offsets(CITIZEN_EFFECTS).values())
    assert produced == sum(r.effects_produced for r in results) > 0
    delivered = sum(r.effects_delivered for r in results)
    parked = sum(r.effects_parked for r in results)
    result = _invoke(tmp_path, "topics")
    assert result.exit_code == 0, result.output
    assert f"{CITIZEN_EFFECTS}: 2 partitions, {produced} records, group {SCORING_GROUP} lag 0" in result.output
    assert (
        f"association effects: {produced} produced, {produced} consumed: {delivered} applied on delivery "
        f"(or dropped: replays of a retried range, dead letters), {parked} parked"
    ) in result.output
