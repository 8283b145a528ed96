"""An unreachable broker is a clear error that names the setting."""

from __future__ import annotations

import pytest

from ddss_platform.settings import Settings
from ddss_platform.stores.bus import BusError, open_bus
from ddss_platform_tests.servers.process import free_port


def test_unreachable_broker_names_the_setting(tmp_path):
    bus = open_bus(Settings.from_env({"DDSS_HOME": str(tmp_path), "DDSS_BUS_URL": f"kafka://127.0.0.1:{free_port()}"}))
    bus.timeout_s = 2.0
    with pytest.raises(BusError, match="DDSS_BUS_URL"):
        bus.ensure_topic("citizen-events", 3)
    bus.close()
