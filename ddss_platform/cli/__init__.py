"""The ``ddss`` command. Each domain registers its sub-commands on ``app`` in its own module."""
from ddss_platform.cli.app import app

# Registration happens on import; keep one line per command module.
from ddss_platform.cli import store_commands  # noqa: E402,F401
from ddss_platform.cli import bus_commands  # noqa: E402,F401
from ddss_platform.cli import stream_commands  # noqa: E402,F401
from ddss_platform.cli import api_commands  # noqa: E402,F401
from ddss_platform.cli import asset_commands  # noqa: E402,F401

__all__ = ["app"]
