"""A backfill of three daily partitions of the Spark aggregates, launched from the CLI and run by the Dagster
daemon (queued runs, one run worker process each); each run's lineage names its inputs."""

from __future__ import annotations

import dagster as dg
import pytest

from ddss_platform.defs import lineage
from ddss_platform.defs.dagster_instance import WORKSPACE, open_instance, start_daemon, wait_for_daemon
from ddss_platform.stores.archive import CREDIT_SCORE_AGGREGATES, EVENTS_SUMMARY
from ddss_platform_tests.assets.conftest import dagster
from ddss_platform_tests.waiting import wait_until

pytestmark = pytest.mark.slow

JOB = "spark_aggregates"
TIMEOUT_S = 900


def finished_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(
        instance.get_runs(
            filters=dg.RunsFilter(
                job_name=JOB,
                statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
            )
        )
    )


def daemon_alive(daemon) -> None:
    assert daemon.alive(), f"the daemon exited; see {daemon.log_path}"


def test_backfill_of_three_days_through_the_daemon(world):
    daemon = start_daemon(world.settings)
    try:
        wait_for_daemon(world.settings, daemon)
        # through workspace.yaml, as the daemon loads the code: the backfill's runs name the location it knows
        dagster(
            world,
            "job",
            "backfill",
            "-w",
            str(WORKSPACE),
            "-j",
            JOB,
            "--partitions",
            ",".join(world.days),
            "--noprompt",
        )
        instance = open_instance(world.settings)
        try:
            wait_until(
                lambda: len(finished_runs(instance)) >= len(world.days),
                what=f"{len(world.days)} backfill runs finished",
                timeout_s=TIMEOUT_S,
                interval_s=2.0,
                check=lambda: daemon_alive(daemon),
            )
            runs = finished_runs(instance)
            assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * len(world.days)
            assert sorted(r.tags["dagster/partition"] for r in runs) == list(world.days)
            assert all("dagster/backfill" in r.tags for r in runs)
            for run in runs:
                day = run.tags["dagster/partition"]
                for asset in (CREDIT_SCORE_AGGREGATES, EVENTS_SUMMARY):
                    record = lineage.read_lineage(instance, asset, day)
                    assert record["run_id"] == run.run_id
                    assert {i["asset"] for i in record["inputs"]} == {"events_archive", "score_snapshots"}
                    assert all(i["data_version"] for i in record["inputs"])
                    assert record["archive"]["rows"] > 0 and record["archive"]["offsets"]
                    assert record["scoring_runs"], f"{asset} {day}: no score_events run found for its offsets"
                    assert record["spark"]["app_id"]
        finally:
            instance.dispose()
    finally:
        daemon.stop()
