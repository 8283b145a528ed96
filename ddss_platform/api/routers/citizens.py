"""GET /citizens (search, keyset pages) and GET /citizens/{nationalID} (everything about one citizen)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from ddss_platform.api import views
from ddss_platform.api.deps import stores
from ddss_platform.api.models import Citizen, CitizenPage
from ddss_platform.api.pagination import decode_cursor, encode_cursor
from ddss_platform.api.params import NATIONAL_ID_PATTERN, REGION_PATTERN, NationalID, TierName, refused, unprocessable
from ddss_platform.stores import Stores
from ddss_platform.stores.graph import now_ms

router = APIRouter(tags=["citizens"])


@router.get(
    "/citizens",
    response_model=CitizenPage,
    summary="Search citizens, one page at a time",
    responses=refused(
        "A parameter is malformed, `min_score` is above `max_score`, or `cursor` is not a `next_cursor` this API "
        "returned (the detail names the parameter)."
    ),
)
def search_citizens(
    ports: Annotated[Stores, Depends(stores)],
    tier: Annotated[TierName | None, Query(description="Only this tier.")] = None,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN, description="Only this home region.")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1000, description="Lowest score, inclusive.")] = None,
    max_score: Annotated[float | None, Query(ge=0, le=1000, description="Highest score, inclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Citizens per page.")] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")] = None,
    id_prefix: Annotated[
        str | None,
        Query(
            pattern=NATIONAL_ID_PATTERN,
            description="Only citizens whose nationalID starts with this (e.g. CIT0000012).",
        ),
    ] = None,
) -> CitizenPage:
    """Citizens in nationalID order. Follow `next_cursor` until it is null to see every match once
    (keyset pagination: no duplicates or gaps, even while scores change)."""
    if min_score is not None and max_score is not None and min_score > max_score:
        unprocessable("min_score", f"min_score ({min_score}) is above max_score ({max_score})")
    after_id = decode_cursor(cursor, (str,))[0] if cursor else None
    # one row more than the page tells whether another page follows, without a count query
    docs = ports.documents.find_citizens(
        tier=tier.value if tier else None,
        region=region,
        min_score=min_score,
        max_score=max_score,
        after_id=after_id,
        limit=limit + 1,
        id_prefix=id_prefix,
    )
    page = [views.citizen_summary(doc) for doc in docs[:limit]]
    more = len(docs) > limit
    return CitizenPage(items=page, next_cursor=encode_cursor((page[-1].nationalID,)) if more else None)


@router.get(
    "/citizens/{nationalID}",
    response_model=Citizen,
    summary="One citizen: profile, score, recent events, score history, relationships, graph metrics",
    responses={404: {"description": "No citizen has this national ID."}},
)
def get_citizen(
    national_id: NationalID,
    ports: Annotated[Stores, Depends(stores)],
    events: Annotated[
        int, Query(ge=0, le=100, description="How many recent events to include (0: none, skips the event read).")
    ] = 20,
    history: Annotated[int, Query(ge=0, le=1000, description="How many score changes to include, newest first.")] = 100,
) -> Citizen:
    """Profile and score snapshot (documents), the newest archived events, the score history (archive),
    the outgoing relationships with the related citizens' scores (graph + documents) and metrics of the
    citizen's neighbourhood computed from the active edges now."""
    doc = ports.documents.get_citizens([national_id]).get(national_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no citizen with nationalID {national_id!r}")
    at = now_ms()
    edges = ports.graph.outgoing([national_id])[national_id]
    related = ports.documents.get_citizens({e.target for e in edges}) if edges else {}
    relationships = [views.relationship(edge, related.get(edge.target), at) for edge in edges]
    colleagues = {r.nationalID for r in relationships if r.active and r.type == "colleague"}
    colleague_edges = ports.graph.outgoing(colleagues) if len(colleagues) > 1 else {}
    summary = views.citizen_summary(doc)
    return Citizen(
        nationalID=national_id,
        profile=doc.get("profile", {}),
        flags=doc.get("flags", {}),
        score=summary.score,
        tier=summary.tier,
        last_calculated_ms=summary.last_calculated_ms,
        recent_events=[views.archived_event(row) for row in ports.archive.recent_events(national_id, events)]
        if events
        else [],
        score_history=views.score_changes(ports.archive.recent_score_history(national_id, history)) if history else [],
        relationships=relationships,
        graph_metrics=views.graph_metrics(relationships, colleague_edges, at),
    )
