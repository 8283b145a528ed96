"""ASGI entry point for servers: ``uvicorn --factory ddss_platform.api.asgi:app_from_env``."""

from fastapi import FastAPI

from ddss_platform.api.app import create_app
from ddss_platform.settings import Settings


def app_from_env() -> FastAPI:
    """The app for the settings in the environment (each server worker builds its own)."""
    return create_app(Settings.from_env())
