"""Store records (documents, edges, archive frames) turned into response models."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ddss_platform.api.models import CitizenSummary, GraphMetrics, RecentEvent, RelationshipOut, ScoreChangeOut
from ddss_platform.stores.graph import GraphEdge

RISKY_TIERS = frozenset({"Caution", "HighRisk"})


def number(value: Any) -> float | None:
    """None for missing values (pandas gives NaN/NA for nulls)."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def text(value: Any) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else str(value)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as dicts of plain Python values (several times faster than ``to_dict("records")``
    on the small frames of a request)."""
    columns = list(frame.columns)
    return [dict(zip(columns, row)) for row in zip(*(frame[c].tolist() for c in columns))]


def citizen_summary(doc: Mapping[str, Any]) -> CitizenSummary:
    snapshot = doc.get("scoreSnapshot") or {}
    profile = doc.get("profile") or {}
    return CitizenSummary(
        nationalID=doc["nationalID"],
        score=snapshot.get("currentScore"),
        tier=snapshot.get("tier"),
        region=profile.get("region"),
        city=profile.get("city"),
        last_calculated_ms=snapshot.get("lastCalculated"),
    )


def relationship(edge: GraphEdge, related: Mapping[str, Any] | None, now_ms: int) -> RelationshipOut:
    snapshot = (related or {}).get("scoreSnapshot") or {}
    return RelationshipOut(
        nationalID=edge.target,
        type=str(edge.type),
        strength=edge.strength,
        start_ms=edge.start_ms,
        end_ms=edge.end_ms,
        active=edge.active_at(now_ms),
        score=snapshot.get("currentScore"),
        tier=snapshot.get("tier"),
    )


def graph_metrics(
    relationships: list[RelationshipOut], colleague_edges: Mapping[str, list[GraphEdge]], now_ms: int
) -> GraphMetrics:
    """The citizen's neighbourhood now, with the definitions of the graph store's bulk aggregate
    (``stores.graph.analysis.neighbour_aggregates``), for one citizen."""
    active = [r for r in relationships if r.active]
    family_scores = [r.score for r in active if r.type == "family" and r.score is not None]
    colleagues = {r.nationalID for r in active if r.type == "colleague"}
    links = sum(
        1
        for colleague in colleagues
        for edge in colleague_edges.get(colleague, ())
        if edge.type == "colleague"
        and edge.target in colleagues
        and edge.target != colleague
        and edge.active_at(now_ms)
    )
    k = len(colleagues)
    return GraphMetrics(
        family_size=len({r.nationalID for r in active if r.type == "family"}),
        family_avg_score=sum(family_scores) / len(family_scores) if family_scores else None,
        colleague_count=k,
        colleague_density=links / (k * (k - 1)) if k > 1 else 0.0,
        friend_count=len({r.nationalID for r in active if r.type == "friend"}),
        high_risk_neighbours=len({r.nationalID for r in active if r.tier in RISKY_TIERS}),
    )


def score_changes(rows: Iterable[Mapping[str, Any]]) -> list[ScoreChangeOut]:
    """Archive score-history rows (SCORE_HISTORY_COLUMNS dicts) as models, in their order."""
    return [
        ScoreChangeOut(
            citizen_id=row["citizen_id"],
            time_ms=int(row["changed_at"]),
            old_score=row["old_score"],
            new_score=row["new_score"],
            change=row["change"],
            reason=row["reason"],
            rule_id=row["rule_id"] or None,
            event_id=row["event_id"] or None,
            tier=text(row["tier"]),
        )
        for row in rows
    ]


def history_points(frame: pd.DataFrame) -> list[ScoreChangeOut]:
    """Time-series score_change_history points as models, oldest first."""
    return [
        ScoreChangeOut(
            citizen_id=row["citizenID"],
            time_ms=int(row["time_ns"]) // 1_000_000,
            old_score=row["oldScore"],
            new_score=row["newScore"],
            change=row["changeAmount"],
            reason=row["reasonCategory"],
            rule_id=text(row["triggeringRuleID"]) or None,
            event_id=text(row["relatedEventID"]) or None,
            tier=text(row["tier"]),
        )
        for row in records(frame)
    ]


def archived_event(row: Mapping[str, Any]) -> RecentEvent:
    """An archive row (EVENTS_ARCHIVE columns) as a model."""
    return RecentEvent(
        event_id=row["event_id"],
        time_ms=int(row["event_time"]),
        event_type=row["event_type"],
        event_subtype=text(row["event_subtype"]),
        source_system=text(row["source_system"]),
        region=text(row["region"]),
        city=text(row["city"]),
        severity=number(row["severity"]),
        confidence=number(row["confidence"]),
        score_impact=number(row["score_impact"]),
        status=text(row["status"]),
    )


def payload(row: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = text(row.get("payload"))
    return json.loads(raw) if raw else None
