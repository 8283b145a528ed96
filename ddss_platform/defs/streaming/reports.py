"""What one scored offset range reports to Dagster: the materializations of the scoring outputs it wrote.

The sensor's score_events runs log them as events of their run; ``ddss stream`` reports them as runless asset
events of the same instance. Both report the same asset keys and metadata (topic, partition, [start, end) and the
counts), so the asset catalog, ``ddss lineage`` (``defs.lineage``), ``late_data_sensor`` (the ``event_hours`` of
raw_events) and the dead_letter_rate check read either mode alike.
"""

from __future__ import annotations

import queue
import threading

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


def report_committed_ranges(instance: dg.DagsterInstance, tuning: ScoringTuning, results: list) -> None:
    """Report ranges that ``ddss stream`` committed, in commit order, as runless asset events: their
    materializations, then the dead-letter check over the latest ranges (which now include them), as a score_events
    run logs them."""
    for result in results:
        for materialization in range_materializations(result):
            instance.report_runless_asset_event(materialization)
    instance.report_runless_asset_event(dead_letter_evaluation(instance, tuning))


_CLOSE = object()


class BackgroundReports:
    """Reports the committed ranges from a thread of its own, in commit order: Dagster's SQLite event storage takes
    tens of milliseconds per event, which the scoring loop would otherwise add to continuous mode's latency. What
    queued while a report was written goes in one batch (one check evaluation). When the thread falls behind,
    ``submit`` waits: the loop's next ranges are then larger, so there are fewer to report. ``close`` reports what
    is left; a report that failed is raised by the next ``submit`` or by ``close``."""

    def __init__(self, instance: dg.DagsterInstance, tuning: ScoringTuning, backlog: int = 16):
        self._instance, self._tuning = instance, tuning
        self._queue: queue.Queue = queue.Queue(maxsize=backlog)
        self._failure: BaseException | None = None
        self._failure_raised = False
        self._thread = threading.Thread(target=self._report, name="dagster-reports", daemon=True)
        self._thread.start()

    def submit(self, result) -> None:
        self._raise_failure()
        self._queue.put(result)

    def close(self) -> None:
        self._queue.put(_CLOSE)
        self._thread.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None and not self._failure_raised:
            self._failure_raised = True  # once: ``close`` after a failed ``submit`` does not raise it again
            raise RuntimeError("reporting a committed range to Dagster failed") from self._failure

    def _report(self) -> None:
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            results = [item for item in batch if item is not _CLOSE]
            if results and self._failure is None:  # after a failure, keep draining so that submit never blocks
                try:
                    report_committed_ranges(self._instance, self._tuning, results)
                except Exception as failure:  # handed to the scoring loop, which stops on it
                    self._failure = failure
            if len(results) < len(batch):
                return
