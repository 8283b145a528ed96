"""The simulator: deterministic, realistic mix, valid events, citizens that match `ddss init`."""

from __future__ import annotations

import collections

import pytest

from ddss_platform.events.codec import EventCodec, EventDecodeError
from ddss_platform.events.simulator import (
    NEW_CITIZEN_SHARE,
    CitizenEventSimulator,
    citizen_id,
    simulate_records,
)
from ddss_platform.events.validation import EventValidationError, validate_event
from ddss_platform_tests.recent import START_MS

codec = EventCodec()
CITIZENS = 300
EVENTS = 20_000


@pytest.fixture(scope="module")
def events() -> list[dict]:
    simulator = CitizenEventSimulator(CITIZENS, seed=5, start_ms=START_MS)
    return [simulator.next_event() for _ in range(EVENTS)]


def test_citizen_ids_are_zero_padded():
    assert citizen_id(0) == "CIT00000000"
    assert citizen_id(1234) == "CIT00001234"


def test_same_seed_same_bytes_other_seed_other_bytes():
    first = list(simulate_records(codec, 100, 500, seed=9, bad_fraction=0.1, start_ms=START_MS))
    assert first == list(simulate_records(codec, 100, 500, seed=9, bad_fraction=0.1, start_ms=START_MS))
    assert first != list(simulate_records(codec, 100, 500, seed=10, bad_fraction=0.1, start_ms=START_MS))


def test_mix_follows_the_original_producer(events):
    counts = collections.Counter(e["eventType"] for e in events)
    assert counts["new_citizen"] / EVENTS == pytest.approx(NEW_CITIZEN_SHARE, abs=0.005)
    others = EVENTS - counts["new_citizen"]
    for event_type, share in {"financial": 0.30, "social": 0.35, "legal": 0.20, "relationship": 0.15}.items():
        assert counts[event_type] / others == pytest.approx(share, abs=0.015), event_type


def test_every_event_is_valid_and_round_trips(events):
    now = events[-1]["timestamp"]
    for event in events:
        validate_event(event, now)
    assert codec.decode_many([codec.encode(e) for e in events]) == events


def test_timestamps_never_go_back_for_a_citizen(events):
    last: dict[str, int] = {}
    for event in events:
        assert event["timestamp"] >= last.get(event["citizenId"], 0)
        last[event["citizenId"]] = event["timestamp"]


def test_events_use_seeded_and_registered_citizens_only(events):
    registered = [e["citizenId"] for e in events if e["eventType"] == "new_citizen"]
    assert registered == [citizen_id(CITIZENS + k) for k in range(len(registered))]  # fresh nationalIDs
    known = {citizen_id(i) for i in range(CITIZENS)}
    seen_newcomers = set()
    for event in events:
        if event["eventType"] == "new_citizen":
            known.add(event["citizenId"])
            continue
        assert event["citizenId"] in known
        if event["relationship"]:
            assert event["relationship"]["relatedCitizenId"] in known
        if int(event["citizenId"][3:]) >= CITIZENS:
            seen_newcomers.add(event["citizenId"])
    assert seen_newcomers  # registered citizens take part in later events


def test_relationship_ends_close_an_open_relationship(events):
    open_edges = set()
    for event in (e for e in events if e["relationship"]):
        rel = event["relationship"]
        edge = (event["citizenId"], rel["relatedCitizenId"], rel["relationshipType"])
        if rel["action"] == "START":
            assert edge not in open_edges
            open_edges.add(edge)
        else:
            assert edge in open_edges
            open_edges.remove(edge)
    assert open_edges


def test_subtypes_carry_their_payload(events):
    for event in events:
        metadata = event["payload"]["metadata"]
        subtype = event["eventSubtype"]
        if subtype == "payment_failed":
            assert {"method", "failure_reason"} <= set(metadata) and event["payload"]["amount"] > 0
        elif subtype == "payment_completed":
            assert "method" in metadata and event["payload"]["amount"] > 0
        elif subtype == "volunteering":
            assert int(metadata["hours"]) > 0 and metadata["organization"]
        elif subtype == "violation":
            assert metadata["kind"]


def test_bad_fraction_mixes_in_records_the_scoring_must_refuse():
    records = list(simulate_records(codec, 200, 4000, seed=2, bad_fraction=0.1, start_ms=START_MS))
    good = list(simulate_records(codec, 200, 4000, seed=2, start_ms=START_MS))
    outcomes = collections.Counter()
    for (key, value), (good_key, good_value) in zip(records, good):
        assert key == good_key  # the good stream is the same
        if value == good_value:
            continue
        try:
            validate_event(codec.decode(value), codec.decode(good_value)["timestamp"])
        except (EventDecodeError, EventValidationError) as exc:
            outcomes[getattr(exc, "reason", None) if isinstance(exc, EventDecodeError) else "invalid"] += 1
        else:
            pytest.fail("a bad record decoded and validated")
    assert sum(outcomes.values()) / len(records) == pytest.approx(0.1, abs=0.02)
    assert {"bad_magic", "unknown_schema", "invalid"} <= set(outcomes)
    assert outcomes["truncated"] + outcomes["malformed_body"] > 0
