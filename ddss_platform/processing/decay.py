"""The daily decay: the configuration's decay policy applied to every snapshot once per day.

Idempotent per day: each citizen's ``appliedOffsets["decay"]`` holds the number of the last decayed day (days
since the epoch), the same guard the scoring runs use per topic partition, so running a day again, or an older
day after a newer one, changes nothing. A day that was missed is caught up by the next run (it decays by the
days elapsed since the citizen's last decay). History is written before the snapshots: a run that fails in
between is re-run, recomputes the same changes for the citizens whose snapshot is not yet updated, and rewrites
the same keyed history rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from ddss_platform.processing.sinks import ScoreChangeColumns, score_change_table, score_history_table
from ddss_platform.scoring import DecayPolicy, ScoreChange, ScoringConfig, decay, load_configuration, round_score
from ddss_platform.stores.archive import DAY_MS, Archive, day_start_ms
from ddss_platform.stores.documents import DocumentStore, SnapshotUpdate
from ddss_platform.stores.timeseries import DERIVED_METRICS, SCORE_CHANGE_HISTORY, TimeSeries

DECAY_ADJUSTMENT = "DECAY_ADJUSTMENT"
DECAY_GUARD = "decay"  # the appliedOffsets key; its value is the last decayed day number
CHUNK = 5_000  # citizens read at a time


@dataclass(frozen=True)
class DecayResult:
    day: str
    citizens: int
    decayed: int  # citizens whose score changed
    snapshots_updated: int
    net_score_change: float
    policy: DecayPolicy


def day_number(day: str) -> int:
    return (date.fromisoformat(day) - date(1970, 1, 1)).days


def decay_changes(citizens: Mapping[str, Mapping], config: ScoringConfig, day: str) -> list[ScoreChange]:
    """The score changes decay makes on `day` to the given citizen documents (pure). A citizen already decayed
    for this day or a later one is skipped; one never decayed decays by one day."""
    number = day_number(day)
    at_ms = day_start_ms(day) + DAY_MS - 1  # the day's last millisecond: the change belongs to that day
    changes = []
    for national_id, doc in sorted(citizens.items()):
        last = doc.get("appliedOffsets", {}).get(DECAY_GUARD)
        days = 1 if last is None else number - int(last)
        if days <= 0:
            continue
        old = float(doc["scoreSnapshot"]["currentScore"])
        new = decay(old, days, config.decay, config)
        if new != old:
            changes.append(
                ScoreChange(national_id, old, new, round_score(new - old), DECAY_ADJUSTMENT, "", "", at_ms, number)
            )
    return changes


def apply_decay(documents: DocumentStore, archive: Archive, timeseries: TimeSeries, day: str) -> DecayResult:
    """Decay every citizen's snapshot for `day`: the score history (archive and time series), then the
    snapshots, each guarded by DECAY_GUARD."""
    batch_id = f"decay-{day}"
    config = load_configuration(documents.load_active_configuration())
    ids = list(documents.all_snapshots()["nationalID"])
    changes = []
    for first in range(0, len(ids), CHUNK):
        changes += decay_changes(documents.get_citizens(ids[first : first + CHUNK]), config, day)
    columns = ScoreChangeColumns(tuple(changes), config)
    archive.write_score_history(score_history_table(columns), batch_id)
    timeseries.write_table(DERIVED_METRICS, SCORE_CHANGE_HISTORY, score_change_table(columns), batch_id)
    updates = [
        SnapshotUpdate(c.citizen_id, c.new_score, config.tier_for(c.new_score), c.time_ms, DECAY_GUARD, c.offset)
        for c in changes
    ]
    applied = documents.apply_snapshot_updates(updates)
    net = round_score(sum(c.change for c in changes))
    return DecayResult(day, len(ids), len(changes), applied, net, config.decay)
