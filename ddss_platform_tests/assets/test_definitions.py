"""The Definitions load and hold the asset graph the platform promises: keys, dependencies, partitions, checks,
schedules and sensors."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from ddss_platform.definitions import defs
from ddss_platform.defs.profile_kinds import profile_kinds
from ddss_platform.settings import Settings

EXTERNAL = {"events_archive", "raw_events", "score_snapshots", "score_change_history"}
DEPENDENCIES = {
    "events_archive": {"citizen_events"},
    "raw_events": {"citizen_events"},
    "score_snapshots": {"citizen_events"},
    "score_change_history": {"citizen_events"},
    "social_graph": {"citizen_events"},
    "graph_derived_metrics": {"social_graph", "score_snapshots"},
    "flux_tasks": set(),
    "citizen_activity_hourly": {"raw_events", "flux_tasks"},
    "citizen_summary_daily": {"raw_events", "score_change_history", "flux_tasks"},
    "system_aggregates_daily": {"score_change_history", "flux_tasks"},
    "system_aggregates_monthly": {"system_aggregates_daily", "flux_tasks"},
    "credit_score_aggregates_by_region_date": {"events_archive", "score_snapshots"},
    "events_summary_by_type_location_date": {"events_archive"},
}
PARTITIONS = {
    "citizen_activity_hourly": dg.HourlyPartitionsDefinition,
    "citizen_summary_daily": dg.DailyPartitionsDefinition,
    "system_aggregates_daily": dg.DailyPartitionsDefinition,
    "system_aggregates_monthly": dg.MonthlyPartitionsDefinition,
    "graph_derived_metrics": dg.DailyPartitionsDefinition,
    "credit_score_aggregates_by_region_date": dg.DailyPartitionsDefinition,
    "events_summary_by_type_location_date": dg.DailyPartitionsDefinition,
}
KINDS = {  # the production profile's (the tests' default profile is embedded: see the profile kinds test)
    "citizen_events": "kafka",
    "events_archive": "scylladb",
    "raw_events": "influxdb",
    "score_snapshots": "mongodb",
    "score_change_history": "influxdb",
    "social_graph": "dgraph",
    "graph_derived_metrics": "dgraph",
    "flux_tasks": "influxdb",
    "citizen_activity_hourly": "influxdb",
    "citizen_summary_daily": "influxdb",
    "system_aggregates_daily": "influxdb",
    "system_aggregates_monthly": "influxdb",
    "credit_score_aggregates_by_region_date": "spark",
    "events_summary_by_type_location_date": "spark",
}
CHECKS = {
    ("score_snapshots", "scores_within_bounds"),
    ("score_snapshots", "tier_matches_score"),
    ("events_archive", "archive_matches_scoring_runs"),
    ("credit_score_aggregates_by_region_date", "citizen_counts_match_snapshots"),
}
SCHEDULES = {  # job -> cron
    "spark_aggregates": "30 0 * * *",
    "hourly_metrics": "5 * * * *",
    "daily_metrics": "15 0 * * *",
    "monthly_metrics": "0 1 1 * *",
    "graph_metrics": "40 0 * * *",
    "daily_decay": "5 0 * * *",
    "scoring_output_checks": "20 0 * * *",
}


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def test_asset_keys_and_dependencies(graph):
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert set(DEPENDENCIES) | {"citizen_events"} <= keys
    for key, parents in DEPENDENCIES.items():
        assert {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys} == parents, key


def test_scoring_outputs_are_external_and_the_rest_materializable(graph):
    for key in DEPENDENCIES:
        node = graph.get(dg.AssetKey(key))
        assert node.is_materializable == (key not in EXTERNAL), key


def test_partitions(graph):
    for key in DEPENDENCIES:
        partitions = graph.get(dg.AssetKey(key)).partitions_def
        expected = PARTITIONS.get(key)
        assert (partitions is None) if expected is None else isinstance(partitions, expected), key


def test_every_asset_has_a_description_group_owner_and_store_kind(graph):
    settings = Settings.from_env({})  # embedded, as the definitions under test were loaded
    for key, kind in KINDS.items():
        node = graph.get(dg.AssetKey(key))
        assert node.description and node.group_name != "default" and node.owners, key
        assert profile_kinds({kind}, settings) <= node.kinds, (key, node.kinds)
    assert not graph.get(dg.AssetKey("raw_events")).kinds & {"influxdb", "mongodb", "scylladb", "dgraph", "kafka"}


def test_kinds_name_the_profile_stores():
    production = Settings.from_env({"DDSS_TIMESERIES_URL": "influxdb://t@h:8086/o", "DDSS_GRAPH_URL": "dgraph://h"})
    assert profile_kinds({"influxdb", "dgraph", "scylladb", "spark"}, production) == {
        "influxdb",
        "dgraph",
        "parquet",
        "spark",
    }


def test_checks(graph):
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert CHECKS <= checks


def test_metrics_and_aggregates_have_a_freshness_policy_of_their_cadence(graph):
    windows = {
        key.to_user_string(): graph.get(key).freshness_policy.fail_window.to_timedelta()
        for key in graph.get_all_asset_keys()
        if graph.get(key).freshness_policy is not None
    }
    assert windows == {
        "citizen_activity_hourly": timedelta(hours=2),
        "citizen_summary_daily": timedelta(hours=25),
        "system_aggregates_daily": timedelta(hours=25),
        "system_aggregates_monthly": timedelta(days=31, hours=1),
        "credit_score_aggregates_by_region_date": timedelta(hours=25),
        "events_summary_by_type_location_date": timedelta(hours=25),
    }


def test_the_aggregates_citizen_count_check_blocks(graph):
    check = next(
        spec
        for assets_def in graph.assets_defs
        for spec in assets_def.check_specs
        if spec.name == "citizen_counts_match_snapshots"
    )
    assert check.blocking


def test_schedules_target_their_jobs():
    repository = defs.get_repository_def()
    crons = {s.job_name: s.cron_schedule for s in repository.schedule_defs}
    assert {job: crons.get(job) for job in SCHEDULES} == SCHEDULES
    # the README says they run the daily aggregation and decay: on from the start, no toggle in the UI needed
    assert {s.name: s.default_status for s in repository.schedule_defs} == {
        s.name: dg.DefaultScheduleStatus.RUNNING for s in repository.schedule_defs
    }
    # the partitioned schedules run the previous period: their jobs take the partitions of their assets
    assert isinstance(repository.get_job("spark_aggregates").partitions_def, dg.DailyPartitionsDefinition)
    assert isinstance(repository.get_job("hourly_metrics").partitions_def, dg.HourlyPartitionsDefinition)


def test_the_definitions_use_no_deprecated_dagster_parameter():
    """Loaded afresh in a child process, the definitions warn of nothing deprecated in this project's code."""
    import subprocess
    import sys

    code = "import ddss_platform.definitions as d; d.defs.get_repository_def()"
    result = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, check=True)
    ours = [line for line in result.stderr.splitlines() if "Deprecat" in line and "ddss_platform/" in line]
    assert not ours, ours


def test_sensors():
    repository = defs.get_repository_def()
    sensors = {s.name: s for s in repository.sensor_defs}
    assert "scoring_sensor" in sensors
    assert {j.name for j in sensors["scoring_sensor"].jobs} == {"score_events"}


def test_aggregates_run_the_spark_job_out_of_process():
    """The Dagster side never imports pyspark: the job runs through spark-submit."""
    import subprocess
    import sys

    code = "import ddss_platform.definitions, sys; print('pyspark' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_previews_round_floats():
    import pandas as pd

    from ddss_platform.defs.metadata import preview_table

    table = preview_table(pd.DataFrame({"score": [512.3456789], "citizens": [3]}))
    assert table.records[0].data == {"score": 512.346, "citizens": 3}
