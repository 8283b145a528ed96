"""Reporting API and dashboard (FastAPI): ``create_app(settings)``; ``ddss api`` serves it."""

from ddss_platform.api.app import create_app

__all__ = ["create_app"]
