"""Whether a store's server can be reached at all, and the one error that says it cannot.

Every production adapter opens a TCP connection to its URL's hosts before it hands the address to its client
library: a closed port or an unknown host then fails at once with the operating system's cause, instead of after
the library's own retries (librdkafka and pymongo keep trying until their timeouts run out, librdkafka logging
every attempt). What the library reports when the server accepts the connection but does not answer is
raised as the same error by the adapter.
"""

from __future__ import annotations

import socket

from ddss_platform.settings import StoreURL


class StoreUnreachableError(RuntimeError):
    """A store's server cannot be reached or does not answer: ``SETTING=address: cause`` (no credentials)."""

    def __init__(self, setting: str, address: str, cause: str):
        super().__init__(f"{setting}={address}: {cause}")
        self.setting = setting
        self.address = address
        self.cause = cause


def unreachable(url: StoreURL, exc: BaseException, cause: str | None = None) -> StoreUnreachableError:
    """The error for ``url`` whose client raised ``exc``; the cause is the first line of its message unless
    given (client libraries put whole reports, the server's tracebacks included, in their messages)."""
    lines = (cause or str(exc)).strip().splitlines()
    return StoreUnreachableError(url.setting, url.address, lines[0] if lines else type(exc).__name__)


def require_reachable(url: StoreURL, default_port: int, timeout_s: float) -> None:
    """Return once some host of ``url`` accepts a TCP connection (they are tried in turn, sharing
    ``timeout_s``); StoreUnreachableError with each host's cause when none does."""
    causes = []
    for (host, port), endpoint in zip(url.hosts, url.endpoints(default_port)):
        try:
            with socket.create_connection((host, port or default_port), timeout=timeout_s / len(url.hosts)):
                return
        except OSError as exc:
            cause = (exc.strerror or str(exc) or type(exc).__name__).lower()
            causes.append(cause if len(url.hosts) == 1 else f"{endpoint} {cause}")
    raise StoreUnreachableError(url.setting, url.address, "; ".join(causes))
