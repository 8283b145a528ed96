"""The score_events job in process: what a run records (materializations, run metadata, the dead-letter check)."""

from __future__ import annotations

import dagster as dg
import pytest

from ddss_platform.defs.partitions import EVENT_HOURS, hour_keys
from ddss_platform.defs.resources import StoresResource
from ddss_platform.defs.scoring_runs import RunRanges
from ddss_platform.defs.streaming import defs as streaming_defs
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.defs.streaming.sensor import run_request
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import OffsetRange, process_range
from ddss_platform.stores import open_stores
from ddss_platform_tests.streaming.support import produce, seed_stores

SINK_ASSETS = ("events_archive", "raw_events", "score_snapshots", "score_change_history")


def score_events(settings):
    merged = dg.Definitions.merge(
        streaming_defs, dg.Definitions(resources={"stores": StoresResource.from_settings(settings)})
    )
    return merged.get_job_def("score_events")


def execute(settings, instance, rng: OffsetRange):
    request = run_request(RunRanges(rng))
    return score_events(settings).execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags, raise_on_error=False
    )


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_a_run_reports_its_range_counts_and_sinks(embedded_settings, instance):
    seed_stores(embedded_settings, 200)
    produce(embedded_settings, 200, 900, bad_fraction=0.05)
    result = execute(embedded_settings, instance, OffsetRange(CITIZEN_EVENTS, 0, 0, 200))
    assert result.success
    materialized = {
        m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node("score_range")
    }
    assert set(materialized) == set(SINK_ASSETS)
    for metadata in materialized.values():
        # text, not numbers: the UI charts numeric metadata across runs
        assert (metadata["partition"].value, metadata["start"].value, metadata["end"].value) == ("0", "0", "200")
    archive = materialized["events_archive"]
    assert archive["records"].value == 200 and 0 < archive["dead_lettered"].value < 40
    assert archive["rows"].value == 200 - archive["dead_lettered"].value
    [output] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_OUTPUT)
    metadata = output.dagster_event.step_output_data.metadata
    outcomes = ("scored", "no_rule", "cooldown", "unknown_citizen", "replayed", "dead_lettered")
    assert sum(metadata[k].value for k in outcomes) == metadata["records"].value == 200
    assert metadata["score_changes"].value > 0 and metadata["events_per_s"].value > 0
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("dead_letter_rate", True)]
    with open_stores(embedded_settings) as ports:
        assert ports.bus.committed(SCORING_GROUP, CITIZEN_EVENTS)[0] == 200
        archived = ports.archive.read_events()
    # the hours the late-data sensor recomputes the derived metrics of
    assert materialized["raw_events"][EVENT_HOURS].value == hour_keys(archived["event_time"])


def test_a_failed_run_commits_nothing(embedded_settings, instance):
    seed_stores(embedded_settings, 50)
    produce(embedded_settings, 50, 300)
    result = execute(embedded_settings, instance, OffsetRange(CITIZEN_EVENTS, 0, 10, 60))  # a gap: refused
    assert not result.success
    with open_stores(embedded_settings) as ports:
        assert ports.bus.committed(SCORING_GROUP, CITIZEN_EVENTS)[0] == 0


def test_the_dead_letter_check_fails_when_too_many_records_were_bad(embedded_settings, instance):
    seed_stores(embedded_settings, 50)
    produce(embedded_settings, 50, 400, bad_fraction=0.5)
    assert ScoringTuning().dead_letter_threshold < 0.3
    result = execute(embedded_settings, instance, OffsetRange(CITIZEN_EVENTS, 1, 0, 100))
    assert result.success  # bad records do not fail the run...
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR  # ...the check does
    assert "dead-lettered in the last 1 runs" in check.description


def test_a_run_applies_its_partitions_effects_after_its_events_and_reports_both(embedded_settings, instance):
    seed_stores(embedded_settings, 200)
    produce(embedded_settings, 200, 900)
    with open_stores(embedded_settings) as ports:
        partitions = sorted(ports.bus.end_offsets(CITIZEN_EVENTS))
        for p in partitions:  # every partition's events: their effects wait on citizen-effects
            process_range(ports, OffsetRange(CITIZEN_EVENTS, p, 0, ports.bus.end_offsets(CITIZEN_EVENTS)[p]))
        ports.bus.produce(CITIZEN_EFFECTS, [(key, b"not avro") for key in ("CIT00000001", "CIT00000002")])
        waiting = ports.bus.end_offsets(CITIZEN_EFFECTS)
    end = waiting[0]
    request = run_request(
        RunRanges(OffsetRange(CITIZEN_EVENTS, 0, *(2 * [0])), OffsetRange(CITIZEN_EFFECTS, 0, 0, end))
    )
    result = score_events(embedded_settings).execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags
    )
    [snapshots] = [
        m.metadata
        for m in result.asset_materializations_for_node("score_range")
        if m.asset_key.path == ["score_snapshots"]
    ]
    assert snapshots["topic"].value == CITIZEN_EFFECTS and snapshots["records"].value == end
    assert snapshots["effects_delivered"].value + snapshots["dead_lettered"].value == end
    [output] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_OUTPUT)
    metadata = output.dagster_event.step_output_data.metadata
    assert (metadata["effects_range_start"].value, metadata["effects_range_end"].value) == (0, end)
    assert metadata["effects_delivered"].value == snapshots["effects_delivered"].value > 0
    [check] = result.get_asset_check_evaluations()  # the effects range's dead letters count in the check
    assert f"{snapshots['dead_lettered'].value} of {end} records" in check.description
    with open_stores(embedded_settings) as ports:
        assert ports.bus.committed(SCORING_GROUP, CITIZEN_EFFECTS)[0] == end
