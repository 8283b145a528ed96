from __future__ import annotations

import pytest

from ddss_platform_tests.events.samples import EVENTS_BY_KIND


@pytest.fixture(params=sorted(EVENTS_BY_KIND))
def any_event(request) -> dict:
    """One event of each kind: payments completed and failed, volunteering, violation,
    relationship start and end, new-citizen registration."""
    return EVENTS_BY_KIND[request.param]
