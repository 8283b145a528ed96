"""Waiting on conditions: the end-to-end tests poll what they expect until it holds, within a generous overall
limit, instead of sleeping a fixed window that a busy machine overruns.

``wait_until(condition, what=..., timeout_s=...)`` calls ``condition`` until it returns something truthy and
returns that; ``check`` (a liveness assertion, e.g. that the daemon still runs) is called before each try so a
dead process fails the test at once instead of at the limit. The limits are overall deadlines, not expected
durations: on a quiet machine the condition holds long before them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar("T")

SLOW_TEST_TIMEOUT_S = 1800
"""pytest-timeout's limit for a test marked slow (its module fixtures included): four times what one takes on a
machine whose other core is busy, so only a hang reaches it."""


def wait_until(
    condition: Callable[[], T],
    *,
    what: str,
    timeout_s: float,
    interval_s: float = 0.5,
    check: Callable[[], None] | None = None,
) -> T:
    """The first truthy value of ``condition()``; AssertionError naming ``what`` (and the last value) when none
    came within ``timeout_s`` seconds."""

    def attempt() -> T:
        if check is not None:
            check()
        return condition()

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda value: not value),
        stop=tenacity.stop_after_delay(timeout_s),
        wait=tenacity.wait_fixed(interval_s),
        reraise=True,
    )
    try:
        return retrying(attempt)
    except tenacity.RetryError as error:
        last = error.last_attempt.result()
        raise AssertionError(f"{what}: not after {timeout_s:.0f} s (last: {last!r})") from None
