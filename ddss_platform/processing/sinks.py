"""What a scored chunk writes to each store, derived from the scoring core's BatchOutcome (pure).

Outcomes the citizen's snapshot already holds (status ``duplicate``, a replay after a failed attempt)
write no rows: the attempt that applied them wrote their rows before it wrote the snapshot.
"""
from __future__ import annotations

import json
from collections import Counter

from ddss_platform.scoring import BatchOutcome, EventOutcome, ScoreChange, ScoringConfig
from ddss_platform.scoring.batch import COOLDOWN, DUPLICATE, NO_RULE
from ddss_platform.stores import archive as archive_port
from ddss_platform.stores.documents import SnapshotUpdate
from ddss_platform.stores.graph import Edge as GraphEdge
from ddss_platform.stores.timeseries import CITIZEN_EVENT, SCORE_CHANGE_HISTORY, Point, event_time_ns

# a rule matched but its cooldown window was full: for the archive, no rule applied
_ARCHIVE_STATUS = {COOLDOWN: NO_RULE}


def written_outcomes(outcome: BatchOutcome) -> list[EventOutcome]:
    return [o for o in outcome.outcomes if o.status != DUPLICATE]


def _payload_json(event) -> str:
    payload = dict(event["payload"])
    for block in ("relationship", "newCitizen"):
        if event.get(block) is not None:
            payload[block] = event[block]
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def payloads(outcomes: list[EventOutcome]) -> list[str]:
    """Each event's payload as JSON (with its relationship / newCitizen block): archive and raw events share it."""
    return [_payload_json(o.event) for o in outcomes]


def archive_rows(outcomes: list[EventOutcome], payload_json: list[str], topic: str, partition: int) -> list[dict]:
    rows = []
    for o, payload in zip(outcomes, payload_json):
        event, location = o.event, o.event["location"]
        rows.append({
            "event_id": event["eventId"],
            "citizen_id": event["citizenId"],
            "event_time": event["timestamp"],
            "event_type": event["eventType"],
            "event_subtype": event.get("eventSubtype"),
            "source_system": event["sourceSystem"],
            "region": location["region"],
            "city": location.get("city"),
            "severity": event["severity"],
            "confidence": event["confidence"],
            "payload": payload,
            "score_impact": o.score_impact,
            "status": _ARCHIVE_STATUS.get(o.status, o.status),
            "topic": topic,
            "partition": partition,
            "offset": o.offset,
        })
    return rows


def raw_event_points(outcomes: list[EventOutcome], payload_json: list[str]) -> list[Point]:
    points = []
    for o, payload in zip(outcomes, payload_json):
        event, location = o.event, o.event["location"]
        tags = {"citizenID": event["citizenId"], "eventType": event["eventType"],
                "sourceSystem": event["sourceSystem"], "region": location["region"]}
        if event.get("eventSubtype") is not None:
            tags["eventSubtype"] = event["eventSubtype"]
        if location.get("city") is not None:
            tags["city"] = location["city"]
        fields = {"eventID": event["eventId"], "severity": event["severity"], "confidence": event["confidence"],
                  "payload_full_json": payload, "score_impact": o.score_impact}
        for name, value in (("latitude", location.get("latitude")), ("longitude", location.get("longitude")),
                            ("payload_amount", event["payload"].get("amount"))):
            if value is not None:
                fields[name] = value
        points.append(Point(CITIZEN_EVENT, tags, fields, event_time_ns(event["timestamp"], event["eventId"])))
    return points


def _change_keys(changes: tuple[ScoreChange, ...]) -> list[str]:
    """A stable unique string per change: one event can move one citizen several times by the same rule
    (an association effect over two relationship types), and each move must stay its own point."""
    seen: Counter = Counter()
    keys = []
    for c in changes:
        base = (c.related_event_id, c.citizen_id, c.triggering_rule_id, c.reason_category)
        keys.append(f"{'/'.join(base)}/{seen[base]}")
        seen[base] += 1
    return keys


def score_change_points(changes: tuple[ScoreChange, ...], config: ScoringConfig) -> list[Point]:
    return [
        Point(
            SCORE_CHANGE_HISTORY,
            {"citizenID": c.citizen_id, "reasonCategory": c.reason_category, "triggeringRuleID": c.triggering_rule_id},
            {"oldScore": c.old_score, "newScore": c.new_score, "changeAmount": c.change,
             "relatedEventID": c.related_event_id, "tier": config.tier_for(c.new_score)},
            event_time_ns(c.time_ms, key),
        )
        for c, key in zip(changes, _change_keys(changes))
    ]


def score_history_rows(changes: tuple[ScoreChange, ...], config: ScoringConfig) -> list[archive_port.ScoreChange]:
    return [
        archive_port.ScoreChange(
            citizen_id=c.citizen_id, changed_at=c.time_ms, event_id=c.related_event_id,
            rule_id=c.triggering_rule_id, old_score=c.old_score, new_score=c.new_score, change=c.change,
            reason=c.reason_category, tier=config.tier_for(c.new_score),
        )
        for c in changes
    ]


def snapshot_updates(outcome: BatchOutcome) -> list[SnapshotUpdate]:
    """One guarded update per changed citizen; a created citizen's carries its profile (creates it when missing)."""
    created = {c.citizen_id: c for c in outcome.created}
    updates = []
    for s in outcome.snapshots:
        new = created.get(s.citizen_id)
        updates.append(SnapshotUpdate(
            national_id=s.citizen_id, score=s.score, tier=s.tier, calculated_at=s.last_calculated,
            topic_partition=s.topic_partition, offset=s.applied_offset,
            profile=new.profile if new else None, flags=new.flags if new else None,
        ))
    return updates


def cooldown_rows(outcome: BatchOutcome) -> list[archive_port.CooldownState]:
    """Cooldown states to save; the guard carries only this topic-partition (the store merges it with the rest)."""
    tp = outcome.topic_partition
    return [
        archive_port.CooldownState(
            u.citizen_id, u.rule_id, tuple(a.time_ms for a in u.state.applications),
            {tp: u.state.applied_offsets[tp]},
        )
        for u in outcome.cooldowns
    ]


def relationship_writes(outcome: BatchOutcome) -> tuple[list[GraphEdge], list[tuple[str, str, str, int]]]:
    """(edges to upsert, edges to end): an edge started in this chunk is upserted as it ends up (its end
    included), an edge that was only ended here gets its end time."""
    final = {change.edge.key: change.edge for change in outcome.relationship_changes}
    started = {change.edge.key for change in outcome.relationship_changes if change.action == "START"}
    upserts = [GraphEdge(e.from_id, e.to_id, e.relationship_type, e.strength, e.start_ms, e.end_ms)
               for key, e in final.items() if key in started]
    ends = [(e.from_id, e.to_id, e.relationship_type, e.end_ms) for key, e in final.items() if key not in started]
    return upserts, ends
