"""``/docs``: Swagger UI from the files the swagger-ui-py package ships (Swagger UI 5, which renders OpenAPI 3.1),
so the page works without a network; FastAPI's own ``/docs`` loads Swagger UI from a CDN."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs for ``app``'s OpenAPI document (create the app with ``docs_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=str(files("swagger_ui") / "static")), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url=None,
        )
