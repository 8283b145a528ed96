"""GET /regions and GET /regions/{region}/aggregates: the Spark batch aggregates (archive store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ddss_platform.api import views
from ddss_platform.api.deps import stores
from ddss_platform.api.models import EventTypeAggregate, RegionAggregate, RegionAggregates, Regions
from ddss_platform.api.params import RANGE_REFUSED, DateRange, Region, date_range
from ddss_platform.events.vocabulary import REGIONS
from ddss_platform.stores import Stores
from ddss_platform.stores.archive import CREDIT_SCORE_AGGREGATES, EVENTS_SUMMARY

router = APIRouter(tags=["regions"])

TIER_COLUMNS = {
    "Exemplary": "tier_exemplary_count",
    "Standard": "tier_standard_count",
    "Caution": "tier_caution_count",
    "HighRisk": "tier_highrisk_count",
}


@router.get(
    "/regions",
    response_model=Regions,
    summary="Regions with aggregates (and the simulator's regions), and the days covered",
)
def list_regions(ports: Annotated[Stores, Depends(stores)]) -> Regions:
    aggregated = ports.archive.read_aggregates(CREDIT_SCORE_AGGREGATES)
    days = aggregated["aggregation_date"]
    return Regions(
        regions=sorted(set(REGIONS) | set(aggregated["region"].dropna())),
        first_day=days.min() if len(days) else None,
        last_day=days.max() if len(days) else None,
    )


@router.get(
    "/regions/{region}/aggregates",
    response_model=RegionAggregates,
    summary="Daily score and event aggregates of a region (written by the Spark batch job)",
    responses=RANGE_REFUSED,
)
def region_aggregates(
    region: Region, days: Annotated[DateRange, Depends(date_range)], ports: Annotated[Stores, Depends(stores)]
) -> RegionAggregates:
    """Days without a batch run have no row. An unknown region gives empty lists."""
    start, end = days.start.isoformat(), days.end.isoformat()
    scores = ports.archive.read_aggregates(CREDIT_SCORE_AGGREGATES, region=region, start_day=start, end_day=end)
    events = ports.archive.read_aggregates(EVENTS_SUMMARY, region=region, start_day=start, end_day=end)
    return RegionAggregates(
        region=region,
        start=start,
        end=end,
        rows=[
            RegionAggregate(
                date=row["aggregation_date"],
                citizens=row["citizens"],
                avg_score=views.number(row["avg_score"]),
                median_score=views.number(row["median_score"]),
                min_score=views.number(row["min_score"]),
                max_score=views.number(row["max_score"]),
                tier_counts={tier: int(row[column]) for tier, column in TIER_COLUMNS.items()},
                improvements=row["improvements"],
                deteriorations=row["deteriorations"],
                last_updated_ms=row["last_updated"],
            )
            for row in views.records(scores)
        ],
        events=[
            EventTypeAggregate(
                date=row["aggregation_date"],
                event_type=row["event_type"],
                event_count=row["event_count"],
                total_score_impact=views.number(row["total_score_impact"]),
                avg_score_impact=views.number(row["avg_score_impact"]),
                distinct_citizens=row["distinct_citizens"],
            )
            for row in views.records(events)
        ],
    )
