"""The ``ddss`` command. Each domain registers its sub-commands on ``app`` in its own module."""

# Registration happens on import; keep one line per command module.
from ddss_platform.cli import (
    api_commands,  # noqa: E402,F401
    asset_commands,  # noqa: E402,F401
    bus_commands,  # noqa: E402,F401
    store_commands,  # noqa: E402,F401
    stream_commands,  # noqa: E402,F401
)
from ddss_platform.cli.app import app

__all__ = ["app"]
