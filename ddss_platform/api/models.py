"""Response bodies (they are the OpenAPI schema at /docs). Times are epoch milliseconds, days 'YYYY-MM-DD'.

A model named like a record of a lower layer carries the suffix Out (ScoreChangeOut, RelationshipOut)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Profile(BaseModel):
    firstName: str | None = None
    lastName: str | None = None
    dateOfBirth: str | None = None
    gender: str | None = None
    region: str | None = None
    city: str | None = None
    occupation: str | None = None


class CitizenSummary(BaseModel):
    nationalID: str
    score: float | None
    tier: str | None
    region: str | None
    city: str | None
    last_calculated_ms: int | None


class CitizenPage(BaseModel):
    items: list[CitizenSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class RecentEvent(BaseModel):
    event_id: str
    time_ms: int
    event_type: str
    event_subtype: str | None
    source_system: str | None
    region: str | None
    city: str | None
    severity: float | None
    confidence: float | None
    score_impact: float | None
    status: str | None = Field(None, description="scored, no_rule or unknown_citizen")


class ScoreChangeOut(BaseModel):
    citizen_id: str
    time_ms: int
    old_score: float
    new_score: float
    change: float
    reason: str
    rule_id: str | None
    event_id: str | None
    tier: str | None


class RelationshipOut(BaseModel):
    nationalID: str = Field(description="The related citizen (target of the outgoing edge).")
    type: str
    strength: float
    start_ms: int | None
    end_ms: int | None
    active: bool
    score: float | None
    tier: str | None


class GraphMetrics(BaseModel):
    """Computed from the citizen's active outgoing edges at request time."""

    family_size: int
    family_avg_score: float | None
    colleague_count: int
    colleague_density: float
    friend_count: int
    high_risk_neighbours: int = Field(description="Related citizens in the Caution or HighRisk tier.")


class Citizen(BaseModel):
    nationalID: str
    profile: Profile
    flags: dict[str, bool]
    score: float | None
    tier: str | None
    last_calculated_ms: int | None
    recent_events: list[RecentEvent]
    score_history: list[ScoreChangeOut]
    relationships: list[RelationshipOut]
    graph_metrics: GraphMetrics


class ArchivedEvent(BaseModel):
    event: RecentEvent
    citizen_id: str
    payload: dict[str, Any] | None
    topic: str | None
    partition: int | None
    offset: int | None
    score_changes: list[ScoreChangeOut] = Field(
        description="Every score change this event caused (its citizen's and association effects)."
    )


class RegionAggregate(BaseModel):
    date: str
    citizens: int
    avg_score: float | None
    median_score: float | None
    min_score: float | None
    max_score: float | None
    tier_counts: dict[str, int]
    improvements: int
    deteriorations: int
    last_updated_ms: int | None


class EventTypeAggregate(BaseModel):
    date: str
    event_type: str
    event_count: int
    total_score_impact: float | None
    avg_score_impact: float | None
    distinct_citizens: int


class RegionAggregates(BaseModel):
    region: str
    start: str = Field(description="First day (the request's `from`).")
    end: str = Field(description="Last day, inclusive (the request's `to`).")
    rows: list[RegionAggregate] = Field(description="credit_score_aggregates_by_region_date, one row per day.")
    events: list[EventTypeAggregate] = Field(description="events_summary_by_type_location_date for the region.")


class Regions(BaseModel):
    regions: list[str]
    first_day: str | None = Field(description="The oldest day with score aggregates (null: none yet).")
    last_day: str | None = Field(description="The newest day with score aggregates.")


class StoreHealth(BaseModel):
    reachable: bool
    detail: str | None = None
    latency_ms: float


class Health(BaseModel):
    status: str = Field(description="ok when every store answered, else degraded.")
    profile: str
    stores: dict[str, StoreHealth]
    bus_lag: int | None = Field(description="Records of citizen-events not yet committed by group ddss-scoring.")
    lag_by_partition: dict[int, int]


class Histogram(BaseModel):
    edges: list[float]
    counts: list[int]


class MinuteCount(BaseModel):
    minute: str
    events: int


class Overview(BaseModel):
    citizens: int
    tiers: dict[str, int]
    score_histogram: Histogram
    events_per_minute: list[MinuteCount] = Field(
        description="Raw events per minute in the hour up to the newest event."
    )
    dlq_count: int
    bus_lag: int | None


class SystemMetric(BaseModel):
    date: str
    region: str | None
    values: dict[str, float | int | None]


class SystemMetrics(BaseModel):
    start_ms: int = Field(description="The request's `from`, epoch ms.")
    end_ms: int = Field(description="The request's `to` (exclusive), epoch ms.")
    daily: list[SystemMetric] = Field(description="system_aggregates_daily points (one per region and day).")
    monthly: list[SystemMetric] = Field(description="system_aggregates_monthly points (one per region and month).")
