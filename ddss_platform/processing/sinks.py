"""What a scored chunk writes to each store, derived from the scoring core's BatchOutcome (pure).

Outcomes the citizen's snapshot already holds (status ``duplicate``, a replay after a failed attempt)
write no rows: the attempt that applied them wrote their rows before it wrote the snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pyarrow as pa

from ddss_platform.scoring import (
    BatchOutcome,
    CreatedCitizen,
    EventOutcome,
    ScoreChange,
    ScoredSnapshot,
    ScoringConfig,
)
from ddss_platform.scoring.batch import COOLDOWN, DUPLICATE, NO_RULE
from ddss_platform.stores.archive import EVENTS_ARCHIVE, CooldownRow
from ddss_platform.stores.documents import SnapshotUpdate
from ddss_platform.stores.graph import GraphEdge
from ddss_platform.stores.timeseries import event_time_ns

# a rule matched but its cooldown window was full: for the archive, no rule applied
_ARCHIVE_STATUS = {COOLDOWN: NO_RULE}


def written_outcomes(outcome: BatchOutcome) -> list[EventOutcome]:
    return [o for o in outcome.outcomes if o.status != DUPLICATE]


def _payload_json(event) -> str:
    payload = dict(event["payload"])
    for block in ("relationship", "newCitizen"):
        if event.get(block) is not None:
            payload[block] = event[block]
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()


def _transposed(rows: Sequence[tuple], record: type) -> tuple[tuple, ...]:
    """NamedTuple rows as one tuple per field (zip transposes them in one pass)."""
    return tuple(zip(*rows)) if rows else ((),) * len(record._fields)


class EventColumns:
    """The written outcomes' events column by column: the archive rows and the raw-event points share them."""

    def __init__(self, outcomes: list[EventOutcome]):
        offsets, events, statuses, impacts, _rule_ids = _transposed(outcomes, EventOutcome)
        locations = [e["location"] for e in events]
        self.size = len(events)
        self.event_id = [e["eventId"] for e in events]
        self.citizen_id = [e["citizenId"] for e in events]
        self.event_time = [e["timestamp"] for e in events]
        self.event_type = [e["eventType"] for e in events]
        self.event_subtype = [e.get("eventSubtype") for e in events]
        self.source_system = [e["sourceSystem"] for e in events]
        self.region = [loc["region"] for loc in locations]
        self.city = [loc.get("city") for loc in locations]
        self.latitude = [loc.get("latitude") for loc in locations]
        self.longitude = [loc.get("longitude") for loc in locations]
        self.severity = [e["severity"] for e in events]
        self.confidence = [e["confidence"] for e in events]
        self.amount = [e["payload"].get("amount") for e in events]
        self.payload = [_payload_json(e) for e in events]  # with its relationship / newCitizen block
        self.score_impact = list(impacts)
        self.status = [_ARCHIVE_STATUS.get(status, status) for status in statuses]
        self.offset = list(offsets)


def archive_table(columns: EventColumns, topic: str, partition: int) -> pa.Table:
    c = columns
    return pa.table(
        {
            "event_id": c.event_id,
            "citizen_id": c.citizen_id,
            "event_time": c.event_time,
            "event_type": c.event_type,
            "event_subtype": c.event_subtype,
            "source_system": c.source_system,
            "region": c.region,
            "city": c.city,
            "severity": c.severity,
            "confidence": c.confidence,
            "payload": c.payload,
            "score_impact": c.score_impact,
            "status": c.status,
            "topic": pa.repeat(topic, c.size),
            "partition": pa.repeat(pa.scalar(partition, pa.int32()), c.size),
            "offset": c.offset,
        },
        schema=EVENTS_ARCHIVE,
    )


def raw_event_table(columns: EventColumns) -> pa.Table:
    """CITIZEN_EVENT points (``TimeSeries.write_table``)."""
    c = columns
    return pa.table(
        {
            "time_ns": [event_time_ns(t, e) for t, e in zip(c.event_time, c.event_id)],
            "citizenID": c.citizen_id,
            "eventType": c.event_type,
            "eventSubtype": c.event_subtype,
            "sourceSystem": c.source_system,
            "region": c.region,
            "city": c.city,
            "eventID": c.event_id,
            "severity": c.severity,
            "confidence": c.confidence,
            "latitude": c.latitude,
            "longitude": c.longitude,
            "payload_amount": pa.array(c.amount, pa.float64()),
            "payload_full_json": c.payload,
            "score_impact": c.score_impact,
        }
    )


def _change_keys(event_ids, citizen_ids, rule_ids, reasons) -> list[str]:
    """A stable unique string per change: one event can move one citizen several times by the same rule
    (an association effect over two relationship types), and each move must stay its own point."""
    seen: dict[str, int] = {}
    keys = []
    for base in map("/".join, zip(event_ids, citizen_ids, rule_ids, reasons)):
        count = seen.get(base, 0)
        seen[base] = count + 1
        keys.append(f"{base}/{count}")
    return keys


class ScoreChangeColumns:
    """Score changes column by column, each with its new tier: the time series and the score history share them."""

    def __init__(self, changes: Sequence[ScoreChange], config: ScoringConfig):
        citizen_id, old_score, new_score, change, reason, rule_id, event_id, time_ms, _offset = _transposed(
            changes, ScoreChange
        )
        self.time_ns = list(map(event_time_ns, time_ms, _change_keys(event_id, citizen_id, rule_id, reason)))
        self.citizen_id = list(citizen_id)
        self.time_ms = list(time_ms)
        self.event_id = list(event_id)
        self.rule_id = list(rule_id)
        self.old_score = pa.array(old_score, pa.float64())
        self.new_score = pa.array(new_score, pa.float64())
        self.change = pa.array(change, pa.float64())
        self.reason = list(reason)
        self.tier = [config.tier_for(score) for score in new_score]


def score_change_table(columns: ScoreChangeColumns) -> pa.Table:
    """SCORE_CHANGE_HISTORY points (``TimeSeries.write_table``)."""
    c = columns
    return pa.table(
        {
            "time_ns": c.time_ns,
            "citizenID": c.citizen_id,
            "reasonCategory": c.reason,
            "triggeringRuleID": c.rule_id,
            "oldScore": c.old_score,
            "newScore": c.new_score,
            "changeAmount": c.change,
            "relatedEventID": c.event_id,
            "tier": c.tier,
        }
    )


def score_history_table(columns: ScoreChangeColumns) -> pa.Table:
    """citizen_score_history rows (``Archive.write_score_history``)."""
    c = columns
    return pa.table(
        {
            "citizen_id": c.citizen_id,
            "changed_at": pa.array(c.time_ms, pa.int64()),
            "event_id": c.event_id,
            "rule_id": c.rule_id,
            "old_score": c.old_score,
            "new_score": c.new_score,
            "change": c.change,
            "reason": c.reason,
            "tier": c.tier,
        }
    )


def snapshot_updates(
    snapshots: Sequence[ScoredSnapshot], created: Sequence[CreatedCitizen] = ()
) -> list[SnapshotUpdate]:
    """One guarded update per changed citizen (per source partition, for effects), moving the stored score by
    the net change; a created citizen's carries its profile."""
    by_id = {c.citizen_id: c for c in created}
    updates = []
    for s in snapshots:
        new = by_id.get(s.citizen_id)
        updates.append(
            SnapshotUpdate(
                national_id=s.citizen_id,
                score=s.score,
                tier=s.tier,
                calculated_at=s.last_calculated,
                topic_partition=s.topic_partition,
                offset=s.applied_offset,
                profile=new.profile if new else None,
                flags=new.flags if new else None,
                change=s.score_delta,
            )
        )
    return updates


def cooldown_rows(outcome: BatchOutcome) -> list[CooldownRow]:
    """Cooldown states to save; the guard carries only this topic-partition (the store merges it with the rest)."""
    tp = outcome.topic_partition
    return [
        CooldownRow(
            u.citizen_id,
            u.rule_id,
            tuple(a.time_ms for a in u.state.applications),
            {tp: u.state.applied_offsets[tp]},
        )
        for u in outcome.cooldowns
    ]


def relationship_writes(outcome: BatchOutcome) -> tuple[list[GraphEdge], list[tuple[str, str, str, int]]]:
    """(edges to upsert, edges to end): an edge started in this chunk is upserted as it ends up (its end
    included), an edge that was only ended here gets its end time."""
    final = {change.edge.key: change.edge for change in outcome.relationship_changes}
    started = {change.edge.key for change in outcome.relationship_changes if change.action == "START"}
    upserts = [
        GraphEdge(e.from_id, e.to_id, e.relationship_type, e.strength, e.start_ms, e.end_ms)
        for key, e in final.items()
        if key in started
    ]
    ends = [(e.from_id, e.to_id, e.relationship_type, e.end_ms) for key, e in final.items() if key not in started]
    return upserts, ends
