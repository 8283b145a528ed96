"""Dagster definitions of the archive domain; merged by ddss_platform.definitions.

The scoring runs' outputs (events_archive, raw_events, score_snapshots, score_change_history) as external
assets with their checks, a job that runs those checks, and the daily decay job.
"""

import dagster as dg

from ddss_platform.defs.archive.checks import SCORING_OUTPUT_CHECKS
from ddss_platform.defs.archive.decay import daily_decay, daily_decay_schedule
from ddss_platform.defs.archive.scoring_outputs import SCORING_OUTPUTS

scoring_output_checks = dg.define_asset_job(
    "scoring_output_checks",
    selection=dg.AssetSelection.checks(*SCORING_OUTPUT_CHECKS),
    description="Check the snapshots (bounds, tiers) and the archive (events per day against the runs' reports).",
)
scoring_output_checks_schedule = dg.ScheduleDefinition(
    job=scoring_output_checks,
    cron_schedule="20 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(
    assets=SCORING_OUTPUTS,
    asset_checks=SCORING_OUTPUT_CHECKS,
    jobs=[scoring_output_checks, daily_decay],
    schedules=[scoring_output_checks_schedule, daily_decay_schedule],
)
