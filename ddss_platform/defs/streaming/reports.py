"""What one scored offset range reports to Dagster: the materializations of the scoring outputs it wrote.

The sensor's score_events runs log them as events of their run; ``ddss stream`` reports them as runless asset
events of the same instance. Both report the same asset keys and metadata (topic, partition, [start, end) and the
counts), so the asset catalog, ``ddss lineage`` (``defs.lineage``), ``late_data_sensor`` (the ``event_hours`` of
raw_events) and the dead_letter_rate check read either mode alike.
"""

from __future__ import annotations

import dagster as dg

from ddss_platform.defs.asset_keys import (
    EVENTS_ARCHIVE_ASSET,
    RAW_EVENTS_ASSET,
    SCORE_CHANGE_HISTORY_ASSET,
    SCORE_SNAPSHOTS_ASSET,
)
from ddss_platform.defs.partitions import EVENT_HOURS, hour_keys
from ddss_platform.defs.streaming.checks import dead_letter_evaluation
from ddss_platform.defs.streaming.resources import ScoringTuning
from ddss_platform.events.topics import CITIZEN_EFFECTS


def range_text(done) -> dict:
    """The range as text: numbers would be charted by the UI as if successive runs' offsets were one series."""
    return {
        "topic": done.topic,
        **{key: dg.MetadataValue.text(str(getattr(done, key))) for key in ("partition", "start", "end")},
    }


def range_materializations(result) -> list[dg.AssetMaterialization]:
    """The materializations of what one range (a RangeResult) wrote, one per scoring output it writes."""
    done = result.range
    common = range_text(done)
    sinks = result.sink_rows
    effects = {f"effects_{name}": count for name, count in result.effect_counts().items()}
    snapshots = {"snapshots": sinks["snapshots"], "new_citizens": result.new_citizens, **effects}
    score_changes = {
        "points": sinks["score_change_history"],
        "beyond_retention": result.beyond_retention["score_change_history"],
        "net_score_change": result.net_score_change,
    }
    if done.topic == CITIZEN_EFFECTS:
        # the records and dead letters of an effects range count in the dead-letter check (``checks``)
        written = [
            (SCORE_SNAPSHOTS_ASSET, {**snapshots, "records": result.records, "dead_lettered": result.dead_lettered}),
            (SCORE_CHANGE_HISTORY_ASSET, score_changes),
        ]
    else:
        written = [
            (
                EVENTS_ARCHIVE_ASSET,
                {"rows": sinks["archive_events"], "records": result.records, "dead_lettered": result.dead_lettered},
            ),
            (
                RAW_EVENTS_ASSET,
                {
                    "points": sinks["raw_events"],
                    "beyond_retention": result.beyond_retention["raw_events"],
                    EVENT_HOURS: hour_keys(result.event_hours_ms),
                },
            ),
            (SCORE_SNAPSHOTS_ASSET, snapshots),
            (SCORE_CHANGE_HISTORY_ASSET, score_changes),
        ]
    return [dg.AssetMaterialization(asset_key=key, metadata={**common, **rows}) for key, rows in written]


def report_committed_range(instance: dg.DagsterInstance, tuning: ScoringTuning, result) -> None:
    """Report a range that ``ddss stream`` committed as runless asset events: its materializations, then the
    dead-letter check over the latest ranges (which now include it), as a score_events run logs them."""
    for materialization in range_materializations(result):
        instance.report_runless_asset_event(materialization)
    instance.report_runless_asset_event(dead_letter_evaluation(instance, tuning))
