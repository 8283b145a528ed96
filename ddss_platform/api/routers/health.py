"""GET /health (no token): can each store be read, and how far behind is the scoring group."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from ddss_platform.api import bus_state
from ddss_platform.api.deps import stores
from ddss_platform.api.models import Health, StoreHealth
from ddss_platform.events.topics import CITIZEN_EVENTS
from ddss_platform.stores import Stores
from ddss_platform.stores.bus import UnknownTopicError
from ddss_platform.stores.documents import NoActiveConfiguration
from ddss_platform.stores.timeseries import DERIVED_METRICS, SYSTEM_AGGREGATES_MONTHLY

router = APIRouter(tags=["health"])

# A read each store must answer; chosen to be cheap on every adapter. An answer that only says the data
# is not there yet (no topic, no configuration) still proves the store is reachable.
_NOT_YET = (UnknownTopicError, NoActiveConfiguration)
_PROBES: dict[str, Callable[[Stores], Any]] = {
    "bus": lambda s: s.bus.end_offsets(CITIZEN_EVENTS),
    "documents": lambda s: s.documents.load_active_configuration(),
    "timeseries": lambda s: s.timeseries.query(DERIVED_METRICS, SYSTEM_AGGREGATES_MONTHLY, 0, 1),
    "graph": lambda s: s.graph.outgoing(["health-probe"]),
    "archive": lambda s: s.archive.recent_score_history("health-probe", 1),
}


def _probe(read: Callable[[Stores], Any], ports: Stores) -> StoreHealth:
    started = time.perf_counter()
    try:
        read(ports)
        detail = None
    except _NOT_YET as error:
        detail = f"reachable, not initialised: {error}"
    except Exception as error:  # noqa: BLE001 — any failure means "not reachable", reported with its reason
        elapsed = (time.perf_counter() - started) * 1000
        return StoreHealth(reachable=False, detail=f"{type(error).__name__}: {error}", latency_ms=elapsed)
    return StoreHealth(reachable=True, detail=detail, latency_ms=(time.perf_counter() - started) * 1000)


@router.get(
    "/health",
    response_model=Health,
    summary="Store reachability and bus lag (no token needed)",
    responses={503: {"model": Health, "description": "At least one store did not answer."}},
)
def health(response: Response, ports: Annotated[Stores, Depends(stores)]) -> Health:
    checks = {name: _probe(read, ports) for name, read in _PROBES.items()}
    lag = bus_state.lag_by_partition(ports.bus) if checks["bus"].reachable else None
    healthy = all(check.reachable for check in checks.values())
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if healthy else "degraded",
        profile=ports.settings.profile,
        stores=checks,
        bus_lag=None if lag is None else sum(lag.values()),
        lag_by_partition=lag or {},
    )
