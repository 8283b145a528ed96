"""GET /events/{eventId}: one archived event and every score change it caused."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from ddss_platform.api import views
from ddss_platform.api.deps import stores
from ddss_platform.api.models import ArchivedEvent, ScoreChangeOut
from ddss_platform.api.params import EventID
from ddss_platform.stores import Stores
from ddss_platform.stores.timeseries import DERIVED_METRICS, SCORE_CHANGE_HISTORY

router = APIRouter(tags=["events"])


@router.get(
    "/events/{eventId}",
    response_model=ArchivedEvent,
    summary="An archived event and the score changes it caused",
    responses={404: {"description": "The archive holds no event with this id."}},
)
def get_event(event_id: EventID, ports: Annotated[Stores, Depends(stores)]) -> ArchivedEvent:
    row = ports.archive.read_event(event_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no archived event with eventId {event_id!r}")
    event = views.archived_event(row)
    return ArchivedEvent(
        event=event,
        citizen_id=row["citizen_id"],
        payload=views.payload(row),
        topic=row["topic"],
        partition=row["partition"],
        offset=row["offset"],
        score_changes=_caused_by(ports, event_id, event.time_ms),
    )


def _caused_by(ports: Stores, event_id: str, time_ms: int) -> list[ScoreChangeOut]:
    """Score changes are stamped with their event's time (the event citizen's own and the association
    effects on related citizens), so one millisecond of the history holds them all; the event id picks
    them out."""
    frame = ports.timeseries.query(
        DERIVED_METRICS, SCORE_CHANGE_HISTORY, time_ms * 1_000_000, (time_ms + 1) * 1_000_000
    )
    return views.history_points(frame[frame["relatedEventID"] == event_id])
