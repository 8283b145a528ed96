"""The citizen-effects flow on one partition: bad effect records go to the DLQ with their reason, an effect on a
citizen not registered yet is parked once and applied once when the citizen registers, and one whose target
never registers expires after the park window (``docs/effects.md``)."""

from __future__ import annotations

from ddss_platform.events.codec import EventCodec
from ddss_platform.events.simulator import CitizenEventSimulator
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import OffsetRange, process_range, read_dead_letters
from ddss_platform.processing.effect_records import effect_records
from ddss_platform.scoring import ASSOCIATION_EFFECT, EffectChange, RoutedEffect
from ddss_platform.stores import open_stores
from ddss_platform.stores.bus.partitioner import partition_for
from ddss_platform.stores.documents import APPLIED, EXPIRED
from ddss_platform_tests.recent import START_MS
from ddss_platform_tests.streaming.support import seed_stores, settings_for

PARTITIONS = 3


def registration():
    """The first new_citizen event the simulator makes."""
    simulator = CitizenEventSimulator(50, seed=4, start_ms=START_MS)
    return next(e for e in iter(simulator.next_event, None) if e["eventType"] == "new_citizen")


def same_partition_id(citizen: str) -> str:
    """Another citizen id (never registered) in the partition of ``citizen``."""
    wanted = partition_for(citizen, PARTITIONS)
    return next(f"CIT9{i:07d}" for i in range(10**6) if partition_for(f"CIT9{i:07d}", PARTITIONS) == wanted)


def effects_range(ports, partition: int) -> OffsetRange:
    start = ports.bus.committed(SCORING_GROUP, CITIZEN_EFFECTS)[partition]
    return OffsetRange(CITIZEN_EFFECTS, partition, start, ports.bus.end_offsets(CITIZEN_EFFECTS)[partition])


def test_effects_are_dead_lettered_parked_applied_late_once_or_expired(tmp_path):
    settings = settings_for(tmp_path / "ddss", PARTITIONS)
    seed_stores(settings, 50)
    event = registration()
    target, at = event["citizenId"], event["timestamp"]
    partition = partition_for(target, PARTITIONS)
    window_ms = int(settings.effect_park_window_s * 1000)
    late = RoutedEffect(target, "citizen-events/0", 5, "EV-LATE", at - 1_000, (EffectChange("R1", -12.345),))
    never = RoutedEffect(same_partition_id(target), "citizen-events/2", 9, "EV-OLD", at - window_ms - 1, ())
    good = effect_records([late, never])
    with open_stores(settings) as ports:
        ports.bus.produce(CITIZEN_EFFECTS, [*good, (target, b"garbage"), (target, good[1][1])])
        result = process_range(ports, effects_range(ports, partition))
        assert (result.effects_parked, result.effects_delivered, result.dead_lettered) == (2, 0, 2)
        assert dict(result.dead_letter_reasons) == {"bad_magic": 1, "key_mismatch": 1}
        letters = {(d.source_topic, d.reason) for d in read_dead_letters(ports.bus)}
        assert letters == {(CITIZEN_EFFECTS, "bad_magic"), (CITIZEN_EFFECTS, "key_mismatch")}

        # a retried source range produces the effect again: it is parked once
        ports.bus.produce(CITIZEN_EFFECTS, good[:1])
        again = process_range(ports, effects_range(ports, partition))
        assert (again.effects_parked, again.effects_replayed) == (0, 1)

        ports.bus.produce(CITIZEN_EVENTS, [(target, EventCodec().encode(event))])
        end = ports.bus.end_offsets(CITIZEN_EVENTS)[partition]
        scored = process_range(ports, OffsetRange(CITIZEN_EVENTS, partition, 0, end))
        assert (scored.new_citizens, scored.effects_applied_late, scored.effects_expired) == (1, 1, 1)
        assert ports.documents.parked_effect_counts() == {APPLIED: 1, EXPIRED: 1}
        history = ports.archive.read_score_history(target, limit=100)
        effect_rows = history[history["reason"] == ASSOCIATION_EFFECT]
        assert effect_rows["change"].tolist() == [-12.35] and effect_rows["event_id"].tolist() == ["EV-LATE"]
        score = ports.documents.get_citizens([target])[target]["scoreSnapshot"]["currentScore"]

        # the registering range again (as after a crash before its commit): nothing is applied twice
        ports.bus.commit(SCORING_GROUP, CITIZEN_EVENTS, {partition: 0})
        retried = process_range(ports, OffsetRange(CITIZEN_EVENTS, partition, 0, end))
        assert (retried.duplicate, retried.effects_applied_late) == (1, 0)
        assert ports.documents.get_citizens([target])[target]["scoreSnapshot"]["currentScore"] == score
