"""RunState: a run reads each state from the stores once, and later chunks see earlier chunks' outcomes."""

from __future__ import annotations

import json

from ddss_platform.cli.store_commands import SEED_DIR
from ddss_platform.processing.state import RunState
from ddss_platform.scoring import SourcedEvent, load_configuration, load_rules, score_batch
from ddss_platform.stores.documents import new_citizen_document
from ddss_platform.stores.graph import GraphEdge

CONFIG = load_configuration(json.loads((SEED_DIR / "system_configuration.json").read_text()))
RULES = load_rules(json.loads((SEED_DIR / "scoring_rules.json").read_text()))
TP = "citizen-events/0"


class CountingStores:
    """documents + graph + archive fakes that record every read."""

    def __init__(self, docs: dict[str, dict], edges: dict[str, list[GraphEdge]]):
        self.docs, self.edges, self.reads = docs, edges, []

    def outgoing(self, ids):
        self.reads.append(("edges", set(ids)))
        return {i: self.edges[i] for i in ids if i in self.edges}

    def get_citizens(self, ids):
        self.reads.append(("citizens", set(ids)))
        return {i: self.docs[i] for i in ids if i in self.docs}

    def load_cooldowns(self, ids):
        self.reads.append(("cooldowns", set(ids)))
        return {}


def event(citizen: str, offset: int, event_type: str = "social", **extra) -> SourcedEvent:
    return SourcedEvent(
        offset,
        {
            "eventId": f"e{offset}",
            "citizenId": citizen,
            "timestamp": 1_735_689_600_000 + offset,
            "eventType": event_type,
            "eventSubtype": None,
            "sourceSystem": "test",
            "location": {"region": "North"},
            "severity": 0.5,
            "confidence": 1.0,
            "payload": {},
            "relationship": None,
            "newCitizen": None,
            **extra,
        },
    )


def citizen_doc(national_id: str, score: float) -> dict:
    return new_citizen_document(national_id, {"region": "North"}, {}, score, CONFIG.tier_for(score), 0)


def test_each_state_is_read_once_per_run_and_absent_ones_are_remembered():
    stores = CountingStores(
        {"A": citizen_doc("A", 600.0), "B": citizen_doc("B", 500.0)}, {"A": [GraphEdge("A", "B", "family", 0.5, 0)]}
    )
    state = RunState(stores, stores, stores)
    first = state.for_chunk([event("A", 0), event("Z", 1)])
    assert set(first.citizens) == {"A"}  # not B (A's edge leads effects to B's partition); Z does not exist
    assert [e.to_id for e in first.relationships["A"]] == ["B"]
    reads = len(stores.reads)
    again = state.for_chunk([event("A", 2), event("Z", 3)])
    assert len(stores.reads) == reads  # nothing read twice, not even the absent Z
    assert again.citizens == first.citizens


def test_a_later_chunk_sees_what_an_earlier_chunk_changed_without_reading_it():
    stores = CountingStores({}, {})
    state = RunState(stores, stores, stores)
    created = event(
        "N",
        0,
        "new_citizen",
        newCitizen={
            "firstName": "Ada",
            "lastName": "L",
            "dateOfBirth": "1990-01-01",
            "gender": "F",
            "region": "North",
            "city": "Pinecrest",
            "occupation": "engineer",
            "flags": {},
        },
    )
    chunk = state.for_chunk([created])
    assert chunk.citizens == {}
    outcome = score_batch([created], RULES, CONFIG, chunk.citizens, chunk.cooldowns, chunk.relationships, TP)
    state.absorb(outcome)
    reads = len(stores.reads)
    later = state.for_chunk([event("N", 1)])
    assert stores.reads[reads:] == []  # N, its edges and its cooldown states were read with the creating event
    assert later.citizens["N"] == outcome.citizens["N"]
    assert later.citizens["N"].applied_offsets == {TP: 0}
