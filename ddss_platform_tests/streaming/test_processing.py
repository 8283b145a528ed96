"""The range processor's contract at its edges, the partition fences, dead-letter envelopes and the Dagster instance."""

from __future__ import annotations

import os
import subprocess
import time

import dagster as dg
import psutil
import pytest
import yaml
from typer.testing import CliRunner

from ddss_platform.cli import app
from ddss_platform.defs import dagster_instance
from ddss_platform.events.topics import CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import (
    RUN,
    WORKER,
    DeadLetter,
    OffsetRange,
    RangeGapError,
    live_holders,
    next_range,
    process_range,
    take_partition,
)
from ddss_platform.processing.lease import take_for_run
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform.stores.bus import FencedError
from ddss_platform_tests.streaming.support import produce, seed_stores
from ddss_platform_tests.waiting import wait_until


def test_next_range_takes_at_most_a_batch_after_the_committed_offset():
    assert next_range("t", 1, 100, 100, 50) is None
    assert next_range("t", 1, 100, 130, 50) == OffsetRange("t", 1, 100, 130)
    assert next_range("t", 1, 100, 500, 50) == OffsetRange("t", 1, 100, 150)
    rng = OffsetRange("citizen-events", 2, 10, 20)
    assert OffsetRange.parse(rng.key) == rng


def test_a_dead_letter_round_trips_with_its_original_bytes():
    letter = DeadLetter("truncated", "ends early", None, "citizen-events", 2, 41, "CIT1", 123, b"\xc3\x01\x00\xff")
    assert DeadLetter.decode(letter.encode()) == letter
    assert letter.bus_key == "citizen-events/2"


@pytest.fixture
def scored_home(embedded_settings):
    seed_stores(embedded_settings, 200)
    produce(embedded_settings, 200, 1_500)
    return embedded_settings


def test_a_committed_range_is_a_no_op_and_a_gap_is_refused(scored_home):
    with open_stores(scored_home) as ports:
        end = ports.bus.end_offsets(CITIZEN_EVENTS)[0]
        first = process_range(ports, OffsetRange(CITIZEN_EVENTS, 0, 0, 100))
        assert (first.records, first.range.end) == (100, 100)
        assert ports.bus.committed(SCORING_GROUP, CITIZEN_EVENTS)[0] == 100
        assert process_range(ports, OffsetRange(CITIZEN_EVENTS, 0, 0, 100)).already_committed
        # a duplicate run over an overlapping range scores only what is not committed yet
        overlap = process_range(ports, OffsetRange(CITIZEN_EVENTS, 0, 50, 150))
        assert overlap.range == OffsetRange(CITIZEN_EVENTS, 0, 100, 150) and overlap.records == 50
        with pytest.raises(RangeGapError):
            process_range(ports, OffsetRange(CITIZEN_EVENTS, 0, 200, end))
        assert ports.bus.committed(SCORING_GROUP, CITIZEN_EVENTS)[0] == 150


def test_counts_of_a_range_add_up_to_its_records(scored_home):
    with open_stores(scored_home) as ports:
        end = ports.bus.end_offsets(CITIZEN_EVENTS)[1]
        result = process_range(ports, OffsetRange(CITIZEN_EVENTS, 1, 0, end), chunk_size=128)
    parts = (
        result.scored,
        result.no_rule,
        result.cooldown,
        result.unknown_citizen,
        result.duplicate,
        result.dead_lettered,
    )
    assert sum(parts) == result.records == end
    assert result.sink_rows["archive_events"] == result.sink_rows["raw_events"] == result.events
    assert result.sink_rows["score_change_history"] == result.score_changes > 0
    assert result.max_rss_mb > 0  # reported in the run metadata; the 600 MB target is bench/streaming.py's


def _no_commit(topic, offsets):
    raise AssertionError("not committed in this test")


def test_a_holder_whose_fence_was_taken_writes_nothing_more(embedded_settings):
    seed_stores(embedded_settings, 20)
    with open_stores(embedded_settings) as stores:
        first = take_partition(stores.documents, 0, "worker a", WORKER, _no_commit)
        assert first is not None and first.epoch == 1
        first.check()  # still its own
        second = take_partition(stores.documents, 0, "worker b", WORKER, _no_commit)  # the group moved it
        assert second is not None and second.epoch == 2
        with pytest.raises(FencedError, match="worker a lost partition 0"):
            first.check()
        assert first.refused == 1
        second.check()
        assert live_holders(stores.documents)[0].holder == "worker b"
        first.release()  # a stale release lets nothing go
        assert live_holders(stores.documents)[0].holder == "worker b"
        second.release()
        assert 0 not in live_holders(stores.documents)


def test_a_worker_waits_for_a_run_and_a_run_for_a_run_but_not_for_a_worker(embedded_settings):
    seed_stores(embedded_settings, 20)
    with open_stores(embedded_settings) as stores:
        run = take_partition(stores.documents, 0, "run 1", RUN, _no_commit)
        assert take_partition(stores.documents, 0, "worker a", WORKER, _no_commit) is None
        with pytest.raises(TimeoutError, match="partition 0 is being scored by another run"):
            take_for_run(stores.documents, 0, "run 2", _no_commit, wait_s=0.2)
        assert take_for_run(stores.documents, 1, "run 2", _no_commit, wait_s=0.2).epoch == 1  # another partition
        run.release()
        worker = take_partition(stores.documents, 0, "worker a", WORKER, _no_commit)
        assert worker is not None
        assert take_for_run(stores.documents, 0, "run 3", _no_commit, wait_s=0.2).holder == "worker a"


def test_ddss_stream_leaves_a_partition_to_the_run_scoring_it(embedded_settings):
    seed_stores(embedded_settings, 50)
    produce(embedded_settings, 50, 400, seed=1)
    with open_stores(embedded_settings) as stores:
        run = take_partition(stores.documents, 0, "score_events run 1234", RUN, _no_commit)
        result = CliRunner().invoke(app, ["stream", "--exit-when-idle", "0", "--member", "w"])
        assert result.exit_code == 0, result.output
        assert "partition 0: assigned; waiting for the score_events run scoring it" in result.output
        assert "partition 1: taken (fence epoch 1)" in result.output
        committed = stores.bus.committed(SCORING_GROUP, CITIZEN_EVENTS)
        assert committed[0] == 0 and committed[1] == stores.bus.end_offsets(CITIZEN_EVENTS)[1] > 0
        run.release()


def test_the_instance_queues_one_run_per_partition_and_retries_runs(embedded_settings):
    home = dagster_instance.prepare_instance(embedded_settings)
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert {"key": "ddss/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in (
        coordinator["config"]["tag_concurrency_limits"]
    )
    assert coordinator["config"]["max_concurrent_runs"] >= 1
    assert config["run_retries"]["enabled"] is True
    assert str(embedded_settings.home) in config["storage"]["sqlite"]["base_dir"]
    instance = dagster_instance.open_instance(embedded_settings)
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert dagster_instance.dagster_env(embedded_settings)["DAGSTER_HOME"] == str(home)
    instance.dispose()


def test_stop_ends_the_whole_process_group_even_when_sigterm_is_ignored(tmp_path):
    # a leader that ignores SIGTERM, with a child in its group (as a daemon's code server and run workers are)
    process = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300 & sleep 300"], start_new_session=True)
    child = dagster_instance.DagsterProcess("test", process, tmp_path / "log")
    # the shell has set its trap once it has started its background child
    wait_until(lambda: len(_living_members(process.pid)) >= 2, what="the shell's children started", timeout_s=60)
    started = time.monotonic()
    child.stop(grace_s=1.0)
    assert time.monotonic() - started < 1.0 + 10.0 + 20.0  # the grace, the SIGKILL wait, slack for a busy machine
    assert not child.alive()
    # SIGKILLed members take a moment to leave the process table
    wait_until(lambda: _living_members(process.pid) == [], what="every member of the group gone", timeout_s=60)


def _living_members(group: int) -> list:
    return [
        p for p in psutil.process_iter(["status"]) if _group_of(p) == group and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


def _group_of(process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except OSError:
        return None


def test_the_repository_dagster_yaml_is_the_embedded_instance_with_storage_found_from_ddss_home(tmp_path, monkeypatch):
    from dagster._core.instance.ref import InstanceRef

    assert dagster_instance.REPOSITORY_INSTANCE_YAML.read_text() == dagster_instance.repository_yaml()
    home = tmp_path / "ddss"
    monkeypatch.setenv("DDSS_HOME", str(home))
    settings = Settings.from_env({"DDSS_HOME": str(home)})
    ours = dagster_instance.open_instance(settings)
    run = ours.add_run(dg.DagsterRun(job_name="score_events", tags={"ddss/partition": "0"}))
    # what `dagster dev` in the repository root without DAGSTER_HOME loads: a temporary home, the repository's config
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    theirs = dg.DagsterInstance.from_ref(
        InstanceRef.from_dir(str(scratch), config_dir=str(dagster_instance.REPOSITORY))
    )
    try:
        assert theirs.get_run_by_id(run.run_id) is not None
        assert type(theirs.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert not any(scratch.iterdir())  # nothing of the instance went to the temporary home
    finally:
        theirs.dispose()
        ours.dispose()
