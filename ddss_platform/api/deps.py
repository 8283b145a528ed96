"""Request dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from ddss_platform.stores import Stores


def stores(request: Request) -> Stores:
    """The ports the app opened at startup."""
    return request.app.state.stores
