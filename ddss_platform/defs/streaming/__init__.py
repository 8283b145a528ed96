"""Dagster definitions of the streaming domain; merged by ddss_platform.definitions.

scoring_sensor turns the ddss-scoring group's lag into score_events runs over exact offset ranges;
citizen_events is the topic as an observable source asset, with the dead_letter_rate check.
"""

import dagster as dg

from ddss_platform.defs.streaming.checks import dead_letter_rate
from ddss_platform.defs.streaming.job import score_events
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.defs.streaming.sensor import scoring_sensor
from ddss_platform.defs.streaming.source import citizen_events

defs = dg.Definitions(
    assets=[citizen_events],
    asset_checks=[dead_letter_rate],
    jobs=[score_events],
    sensors=[scoring_sensor],
    resources={"scoring": ScoringTuning()},
)
