"""The reporting service: JSON API over the five store ports, plus the dashboard at ``/``."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from ddss_platform.api.app_stores import open_app_stores
from ddss_platform.api.auth import UNAUTHORIZED, require_token
from ddss_platform.api.docs import add_docs
from ddss_platform.api.routers import citizens, dashboard, events, health, metrics, reference, regions
from ddss_platform.settings import Settings

DESCRIPTION = """
Read-only access to what the DDSS platform keeps: citizens and their scores (documents store),
recent events and derived metrics (time series), relationships (graph), archived events and the
Spark aggregates (archive), and the event bus's lag.

When `DDSS_API_TOKEN` is set, every endpoint except `/health` needs `Authorization: Bearer <token>`
(use **Authorize** on this page) and answers 401 without it; this document then says so on each of them.
The dashboard at `/` takes the token once as `/?token=…`, keeps it in the browser's localStorage and sends
it as that header.
"""


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        with open_app_stores(settings) as stores:
            app.state.stores = stores
            yield

    # redirect_slashes=False: a path that is not an endpoint is a 404, never a redirect to a guessed one;
    # docs_url=None: add_docs serves /docs from bundled files instead of a CDN
    app = FastAPI(
        title="DDSS reporting API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,
    )
    add_docs(app)
    app.state.settings = settings
    app.state.api_token = settings.api_token

    app.include_router(health.router)
    # Without a token the data endpoints are open, and the document declares no security for them: it says
    # what the app does, and a client or a checker that believed a declared token would be misled.
    guard = {"dependencies": [Depends(require_token)], "responses": UNAUTHORIZED} if settings.api_token else {}
    for module in (citizens, events, reference, regions, metrics):
        app.include_router(module.router, **guard)
    app.include_router(dashboard.router)
    app.mount("/static", dashboard.static_files(), name="static")
    return app
