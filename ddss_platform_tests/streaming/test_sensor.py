"""scoring_sensor: what it launches for which lag, what it skips and why, and how it relaunches a failed range."""

from __future__ import annotations

import dataclasses
import json
import time

import dagster as dg
import pytest

from ddss_platform.defs.resources import StoresResource
from ddss_platform.defs.scoring_runs import PARTITION_TAG, RANGE_TAG, TOPIC_TAG, RunRanges
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.defs.streaming.sensor import run_request, scoring_sensor
from ddss_platform.events.topics import ALL_TOPICS, CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import WORKER, OffsetRange, take_partition
from ddss_platform.stores.bus import open_bus
from ddss_platform.stores.documents import open_documents


@pytest.fixture
def bus(embedded_settings):
    bus = open_bus(embedded_settings)
    for topic in ALL_TOPICS:
        bus.ensure_topic(topic, 2)
    yield bus
    bus.close()


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def fill(bus, partition_sizes: dict[int, int], timestamp_ms: int | None = None) -> None:
    """Produce records until each partition holds the given count (keys are chosen per partition), stamped
    ``timestamp_ms`` when given (else the produce time)."""
    from ddss_platform.stores.bus.partitioner import partition_for

    wanted = dict(partition_sizes)
    records, i = [], 0
    while any(wanted.values()):
        key = f"CIT{i:08d}"
        p = partition_for(key, 2)
        if wanted.get(p, 0) > 0:
            records.append((key, b"x") if timestamp_ms is None else (key, b"x", timestamp_ms))
            wanted[p] -= 1
        i += 1
    bus.produce(CITIZEN_EVENTS, records)


def tick(settings, instance, cursor=None, min_batch=1, **tuning):
    """One sensor evaluation; with a minimum batch of 1 (unless given) every lag is worth a run."""
    settings = dataclasses.replace(settings, scoring_min_batch=min_batch)
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"stores": StoresResource.from_settings(settings), "scoring": ScoringTuning(**tuning)},
    )
    return scoring_sensor(context)


def add_run(instance, rng: OffsetRange | RunRanges, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    request = run_request(rng if isinstance(rng, RunRanges) else RunRanges(rng))
    failed = status == dg.DagsterRunStatus.FAILURE
    run = instance.add_run(
        dg.DagsterRun(
            job_name="score_events",
            run_config=request.run_config,
            tags=request.tags,
            status=dg.DagsterRunStatus.STARTED if failed else status,
        )
    )
    if failed:  # through the failure event, which gives the run its end time
        instance.report_run_failed(run, "test")
    return instance.get_run_by_id(run.run_id)


def ranges_of(result) -> list[str]:
    return [r.tags[RANGE_TAG] for r in result.run_requests]


def test_no_topic_and_no_lag_are_skips_that_say_why(embedded_settings, instance):
    assert "topic citizen-events does not exist yet" in tick(embedded_settings, instance).skip_message
    bus = open_bus(embedded_settings)
    bus.ensure_topic(CITIZEN_EVENTS, 2)
    bus.close()
    result = tick(embedded_settings, instance)
    assert not result.run_requests
    assert "no `ddss stream` worker: the scoring sensor's runs score every partition" in result.skip_reason.skip_message
    assert "partition 0: no lag" in result.skip_reason.skip_message
    assert "partition 1: no lag" in result.skip_reason.skip_message


def test_each_partition_with_lag_gets_one_run_of_at_most_a_batch(embedded_settings, instance, bus):
    fill(bus, {0: 250, 1: 40})
    bus.commit(SCORING_GROUP, CITIZEN_EVENTS, {0: 10})
    result = tick(embedded_settings, instance, batch_size=100)
    assert ranges_of(result) == ["citizen-events/0/10-110", "citizen-events/1/0-40"]
    first = result.run_requests[0]
    assert first.run_key == "citizen-events/0/10-110"
    assert first.tags[TOPIC_TAG] == CITIZEN_EVENTS and first.tags[PARTITION_TAG] == "0"
    assert first.run_config["ops"]["score_range"]["config"] == {
        "topic": CITIZEN_EVENTS,
        "partition": 0,
        "start": 10,
        "end": 110,
    }
    cursor = json.loads(result.cursor)
    assert cursor["end_offsets"] == {"0": 250, "1": 40} and cursor["committed"] == {"0": 10, "1": 0}
    # the topic's end offsets moved: citizen_events is observed
    assert [e.asset_key for e in result.asset_events] == [dg.AssetKey("citizen_events")]
    again = tick(embedded_settings, instance, cursor=result.cursor, batch_size=100)
    assert again.asset_events == []  # nothing moved since the last observation


def test_a_partition_with_a_run_in_flight_is_skipped_with_the_reason(embedded_settings, instance, bus):
    fill(bus, {0: 50, 1: 50})
    running = add_run(instance, OffsetRange(CITIZEN_EVENTS, 0, 0, 50), dg.DagsterRunStatus.STARTED)
    result = tick(embedded_settings, instance)
    assert ranges_of(result) == ["citizen-events/1/0-50"]
    add_run(instance, OffsetRange(CITIZEN_EVENTS, 1, 0, 50), dg.DagsterRunStatus.STARTED)
    result = tick(embedded_settings, instance)
    assert not result.run_requests
    assert f"run {running.run_id[:8]} (citizen-events/0/0-50) is started" in result.skip_reason.skip_message


def test_a_run_that_committed_its_range_no_longer_holds_the_partition(embedded_settings, instance, bus):
    fill(bus, {0: 80})
    add_run(instance, OffsetRange(CITIZEN_EVENTS, 0, 0, 50), dg.DagsterRunStatus.STARTED)
    assert not tick(embedded_settings, instance).run_requests
    bus.commit(SCORING_GROUP, CITIZEN_EVENTS, {0: 50})  # the run's last write: it only reports and exits now
    assert ranges_of(tick(embedded_settings, instance)) == ["citizen-events/0/50-80"]


def test_a_failed_range_is_relaunched_as_it_was_with_an_attempt_suffix(embedded_settings, instance, bus):
    fill(bus, {0: 80})
    failed = OffsetRange(CITIZEN_EVENTS, 0, 0, 50)
    add_run(instance, failed, dg.DagsterRunStatus.FAILURE)
    # more records arrived since, but the retry covers exactly the failed range
    result = tick(embedded_settings, instance, batch_size=1000, retry_backoff_s=0)
    assert [r.run_key for r in result.run_requests] == ["citizen-events/0/0-50/attempt-2"]
    assert ranges_of(result) == [failed.key]
    add_run(instance, failed, dg.DagsterRunStatus.FAILURE)
    result = tick(embedded_settings, instance, batch_size=1000, retry_backoff_s=60)
    assert not result.run_requests
    assert "failed 2×, relaunching in" in result.skip_reason.skip_message


def test_after_a_success_the_next_range_starts_at_the_committed_offset(embedded_settings, instance, bus):
    fill(bus, {0: 80})
    add_run(instance, OffsetRange(CITIZEN_EVENTS, 0, 0, 50), dg.DagsterRunStatus.SUCCESS)
    bus.commit(SCORING_GROUP, CITIZEN_EVENTS, {0: 50})
    assert ranges_of(tick(embedded_settings, instance)) == ["citizen-events/0/50-80"]


def test_a_partition_a_ddss_stream_worker_holds_is_left_to_it(embedded_settings, instance, bus):
    fill(bus, {0: 10})
    documents = open_documents(embedded_settings)
    try:
        hold = take_partition(documents, 0, "ddss stream w1 (pid 1 on h)", WORKER, bus.commit)
        result = tick(embedded_settings, instance)
        assert not result.run_requests
        assert "`ddss stream` workers own partitions [0]" in result.skip_reason.skip_message
        assert "partition 0: scored by ddss stream w1 (pid 1 on h), epoch 1" in result.skip_reason.skip_message
        fill(bus, {1: 10})
        assert ranges_of(tick(embedded_settings, instance)) == ["citizen-events/1/0-10"]  # the others are scored
        hold.release()
    finally:
        documents.close()
    assert "citizen-events/0/0-10" in ranges_of(tick(embedded_settings, instance))


def test_a_lag_below_the_minimum_batch_waits_until_its_oldest_record_is_old_enough(embedded_settings, instance, bus):
    fill(bus, {0: 10})
    result = tick(embedded_settings, instance, min_batch=100)
    assert not result.run_requests
    assert "partition 0: lag 10 < minimum batch 100, oldest record waiting" in result.skip_reason.skip_message
    assert ranges_of(tick(embedded_settings, instance, min_batch=10)) == ["citizen-events/0/0-10"]
    # records stamped a minute ago have waited past a 30 s maximum delay
    minute_ago = time.time_ns() // 1_000_000 - 60_000
    fill(bus, {1: 5}, timestamp_ms=minute_ago)
    old = dataclasses.replace(embedded_settings, scoring_max_delay_s=30.0)
    assert ranges_of(tick(old, instance, min_batch=100)) == ["citizen-events/1/0-5"]


def test_a_partitions_waiting_effects_ride_in_its_one_run(embedded_settings, instance, bus):
    from ddss_platform.stores.bus.partitioner import partition_for

    fill(bus, {0: 50})
    keys = [f"CIT{i:08d}" for i in range(200)]
    bus.produce(CITIZEN_EFFECTS, [(k, b"x") for k in keys if partition_for(k, 2) == 1][:7])
    bus.produce(CITIZEN_EFFECTS, [(k, b"x") for k in keys if partition_for(k, 2) == 0][:3])
    result = tick(embedded_settings, instance, batch_size=40)
    assert ranges_of(result) == [
        "citizen-events/0/0-40+citizen-effects/0/0-3",
        "citizen-events/1/0-0+citizen-effects/1/0-7",  # effects only: the empty events range names where it stands
    ]
    configs = [r.run_config["ops"]["score_range"]["config"] for r in result.run_requests]
    assert [(c["effects_start"], c["effects_end"]) for c in configs] == [(0, 3), (0, 7)]
    assert {r.tags[PARTITION_TAG] for r in result.run_requests} == {"0", "1"}
    # a run in flight holds its partition for both topics
    add_run(instance, RunRanges.parse(ranges_of(result)[1]), dg.DagsterRunStatus.STARTED)
    assert ranges_of(tick(embedded_settings, instance, batch_size=40)) == [
        "citizen-events/0/0-40+citizen-effects/0/0-3"
    ]
