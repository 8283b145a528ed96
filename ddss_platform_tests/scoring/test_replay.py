"""Replays never double-score: guards on every state, convergence after a crash between any two sink writes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ddss_platform.events.simulator import CitizenEventSimulator, citizen_id
from ddss_platform.scoring import (
    CitizenState,
    Edge,
    SourcedEvent,
    load_configuration,
    load_rules,
    reference_scores,
    score_batch,
)
from ddss_platform_tests.recent import START_MS

from .builders import T0, TP, citizen, config, event, rule_doc, rules, sourced
from .memory_stores import MemoryStores

SEED = Path(__file__).resolve().parents[2] / "schemas" / "seed"
SEED_RULES = load_rules(json.loads((SEED / "scoring_rules.json").read_text()))
SEED_CONFIG = load_configuration(json.loads((SEED / "system_configuration.json").read_text()))
CONFIG = config()
SHARED = rules(
    rule_doc(
        "SHARED",
        category="LEGAL",
        eventType="legal",
        points=-20,
        cooldown={"periodSeconds": 3600, "maxApplicationsInPeriod": 2},
        associationEffect={"relationshipTypes": ["family"], "factor": 0.5},
    )
)


def legal(citizen_id="C1", time_ms=T0, event_id=None):
    return event(citizen_id, "legal", "violation", time_ms, event_id=event_id)


def test_events_at_or_below_the_stored_offset_are_duplicates():
    events = sourced(*(legal(time_ms=T0 + i * 3_600_000, event_id=f"e{i}") for i in range(8)))
    outcome = score_batch(events, SHARED, CONFIG, {"C1": citizen(applied={TP: 5})}, {}, {}, TP)
    assert [row.status for row in outcome.outcomes] == ["duplicate"] * 6 + ["scored"] * 2
    assert outcome.counts["duplicate"] == 6
    assert [change.offset for change in outcome.score_changes] == [6, 7]
    assert outcome.citizens["C1"].applied_offsets == {TP: 7}


def test_other_partitions_guards_do_not_interfere():
    state = citizen(applied={"citizen-events/1": 99})
    outcome = score_batch(sourced(legal()), SHARED, CONFIG, {"C1": state}, {}, {}, TP)
    assert outcome.outcomes[0].status == "scored"
    assert outcome.citizens["C1"].applied_offsets == {"citizen-events/1": 99, TP: 0}


def test_replaying_a_scored_range_changes_nothing():
    stores = MemoryStores({c: citizen(c) for c in ("C1", "C2")}, [Edge("C1", "C2", "family", 1.0, 0)])
    events = sourced(legal(event_id="a"), legal(time_ms=T0 + 1, event_id="b"), legal("C2", event_id="c"))
    stores.write_all(score_batch(events, SHARED, CONFIG, *stores.inputs(), TP))
    before = json.dumps(repr(stores.content()))
    replay = score_batch(events, SHARED, CONFIG, *stores.inputs(), TP)
    assert [row.status for row in replay.outcomes] == ["duplicate"] * 3
    assert replay.score_changes == () and replay.snapshots == () and replay.cooldowns == ()
    stores.write_all(replay)
    assert json.dumps(repr(stores.content())) == before


def test_an_association_effect_produced_twice_lands_once():
    stores = MemoryStores({c: citizen(c) for c in ("C1", "C2")}, [Edge("C1", "C2", "family", 1.0, 0)])
    events = sourced(legal())
    first = score_batch(events, SHARED, CONFIG, *stores.inputs(), TP)
    stores.sink_writes(first)[0]()  # the effect is produced, then the run crashes
    retry = score_batch(events, SHARED, CONFIG, *stores.inputs(), TP)
    assert retry.outcomes[0].status == "scored" and retry.effects == first.effects
    stores.write_all(retry)
    assert stores.deliver(CONFIG) == []
    assert (stores.citizens["C1"].score, stores.citizens["C2"].score) == (480.0, 490.0)
    again = score_batch(events, SHARED, CONFIG, *stores.inputs(), TP)
    assert again.outcomes[0].status == "duplicate" and again.effects == first.effects
    stores.write_all(again)
    stores.deliver(CONFIG)
    assert (stores.citizens["C1"].score, stores.citizens["C2"].score) == (480.0, 490.0)


# -- whole streams -----------------------------------------------------------------------------------------


def _world(citizens=40, events=1600, partitions=2, seed=11):
    rng = random.Random(seed)
    people = {
        citizen_id(i): CitizenState(
            citizen_id(i),
            500.0,
            "Standard",
            {
                "isPublicOfficial": rng.random() < 0.2,
                "isVeteran": rng.random() < 0.2,
                "hasCriminalRecord": rng.random() < 0.2,
            },
        )
        for i in range(citizens)
    }
    edges = [Edge(citizen_id(i), citizen_id((i + 1) % citizens), "family", 0.9, 0) for i in range(citizens)]
    by_partition: dict[str, list[SourcedEvent]] = {f"citizen-events/{p}": [] for p in range(partitions)}
    simulator = CitizenEventSimulator(citizens, seed=seed, start_ms=START_MS)
    for _ in range(events):
        ev = simulator.next_event()
        log = by_partition[f"citizen-events/{int(ev['citizenId'][3:]) % partitions}"]
        log.append(SourcedEvent(len(log), ev))
    return people, edges, by_partition


def _batches(by_partition, size):
    """Batches of each partition, interleaved across partitions, as the sensor may launch them."""
    queues = {tp: [events[i : i + size] for i in range(0, len(events), size)] for tp, events in by_partition.items()}
    while any(queues.values()):
        for tp, queue in queues.items():
            if queue:
                yield tp, queue.pop(0)


def _process(people, edges, by_partition, crash_rng=None, size=100):
    stores = MemoryStores(people, edges)
    for tp, batch in _batches(by_partition, size):
        for _attempt in range(crash_rng.randint(0, 2) if crash_rng else 0):
            writes = stores.sink_writes(score_batch(batch, SEED_RULES, SEED_CONFIG, *stores.inputs(), tp))
            for write in writes[: crash_rng.randrange(len(writes))]:  # killed before the remaining writes
                write()
        stores.write_all(score_batch(batch, SEED_RULES, SEED_CONFIG, *stores.inputs(), tp))
        stores.deliver(SEED_CONFIG)
    return stores


@pytest.mark.parametrize("crash_seed", [1, 2, 3])
def test_a_run_killed_between_any_two_sink_writes_converges_to_the_clean_result(crash_seed):
    people, edges, by_partition = _world()
    clean = _process(people, edges, by_partition)
    crashed = _process(people, edges, by_partition, crash_rng=random.Random(crash_seed))
    for clean_part, crashed_part in zip(clean.content(), crashed.content()):
        assert crashed_part == clean_part
    assert len(clean.history) > 1000 and any(c.reason_category == "ASSOCIATION_EFFECT" for c in clean.history.values())
    assert clean.cooldowns and any(edge.end_ms for edge in clean.edges.values())


def test_reference_scores_do_not_depend_on_batch_boundaries():
    people, edges, by_partition = _world(events=1200)
    whole = reference_scores(by_partition, SEED_RULES, SEED_CONFIG, people, edges)
    assert whole == reference_scores(by_partition, SEED_RULES, SEED_CONFIG, people, edges, batch_size=1)
    assert whole == reference_scores(by_partition, SEED_RULES, SEED_CONFIG, people, edges, batch_size=37)
    assert len(whole) > len(people)  # new citizens registered on the way
    assert len(set(whole.values())) > 10


def test_reference_equals_the_store_pipeline_processing_partitions_in_turn():
    people, edges, by_partition = _world(events=1200)
    stores = MemoryStores(people, edges)
    for tp, events in by_partition.items():
        for start in range(0, len(events), 100):
            stores.write_all(score_batch(events[start : start + 100], SEED_RULES, SEED_CONFIG, *stores.inputs(), tp))
            stores.deliver(SEED_CONFIG)
    expected = reference_scores(by_partition, SEED_RULES, SEED_CONFIG, people, edges)
    assert {cid: state.score for cid, state in stores.citizens.items()} == expected
