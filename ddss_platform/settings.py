"""Profiles and store URLs, read once from the environment.

Every store is chosen by one URL setting: ``embedded`` (the default, an engine
under ``DDSS_HOME``) or the production system's URL. ``VARIABLES`` is the one
mapping between the settings and their ``DDSS_*`` environment variables:
``Settings.from_env`` reads it and ``Settings.to_env`` writes it (for child
processes and Dagster resource config). Nothing else in the code reads or
writes these variables.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

EMBEDDED = "embedded"

# Settings field -> its environment variable
VARIABLES: dict[str, str] = {
    "home": "DDSS_HOME",
    "bus": "DDSS_BUS_URL",
    "documents": "DDSS_DOCUMENTS_URL",
    "timeseries": "DDSS_TIMESERIES_URL",
    "graph": "DDSS_GRAPH_URL",
    "archive": "DDSS_ARCHIVE_URL",
    "spark_master": "DDSS_SPARK_MASTER",
    "spark_packages": "DDSS_SPARK_PACKAGES",
    "spark_jars": "DDSS_SPARK_JARS",
    "partitions": "DDSS_PARTITIONS",
    "schema_registry_url": "DDSS_SCHEMA_REGISTRY_URL",
    "api_token": "DDSS_API_TOKEN",
    "connect_timeout_s": "DDSS_CONNECT_TIMEOUT_S",
    "effect_park_window_s": "DDSS_EFFECT_PARK_WINDOW_S",
    "scoring_min_batch": "DDSS_SCORING_MIN_BATCH",
    "scoring_max_delay_s": "DDSS_SCORING_MAX_DELAY_S",
    "debug": "DDSS_DEBUG",
}
STORES = ("bus", "documents", "timeseries", "graph", "archive")
"""The Settings fields that hold a store URL (one per port)."""

# setting name -> URL schemes accepted besides "embedded"
_STORE_SCHEMES: dict[str, tuple[str, ...]] = {
    "DDSS_BUS_URL": ("kafka",),
    "DDSS_DOCUMENTS_URL": ("mongodb", "mongodb+srv"),
    "DDSS_TIMESERIES_URL": ("influxdb", "influxdbs"),
    "DDSS_GRAPH_URL": ("dgraph",),
    "DDSS_ARCHIVE_URL": ("scylla",),
}


DEFAULT_CONNECT_TIMEOUT_S = 10.0
"""How long a client waits for a store's server to accept and answer it before the command gives up."""

DEFAULT_EFFECT_PARK_WINDOW_S = 7 * 24 * 3600.0
"""How long, in event time, an association effect waits for its target citizen to register before it is recorded
as expired (``docs/effects.md``)."""

DEFAULT_PARTITIONS = 3
"""Partitions of citizen-events when DDSS_PARTITIONS is unset; on the embedded bus at most one per CPU core the
process may use. Each partition with lag gets its own run worker every sensor tick, and a Dagster run worker
costs about 1.8 s of CPU to start: with more partitions than cores, the workers of one tick outlast it (measured
on 2 cores: 3 partitions, sensor p95 12–14 s in most runs; 2 partitions, 8 s)."""


def default_partitions(bus: StoreURL) -> int:
    if not bus.embedded:
        return DEFAULT_PARTITIONS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(DEFAULT_PARTITIONS, cores))


DEFAULT_SCORING_MIN_BATCH = 100
DEFAULT_SCORING_MAX_DELAY_S = 30.0
"""The scoring sensor launches a partition's run once its lag reaches the minimum batch or its oldest unscored
record has waited the maximum delay (or no record came since the last tick). At the sensor benchmark's 200–300
events/s (100–150 a partition) the minimum batch fills within a second, so the sensor-mode p95 stays in its
target (a minimum of 250 cost it about 2.5 s: 12.3 s against 7.7 s without batching); a trickle (``ddss up``'s
5 events/s) makes one run per partition per maximum delay instead of one per tick."""


class SettingsError(ValueError):
    """A setting is malformed; the message names the environment variable."""


@dataclass(frozen=True)
class StoreURL:
    """One store's setting: which adapter, and where its server is."""

    setting: str
    raw: str

    @property
    def embedded(self) -> bool:
        return self.raw == EMBEDDED

    @property
    def scheme(self) -> str:
        return EMBEDDED if self.embedded else urlsplit(self.raw).scheme

    def parts(self):
        """The parsed URL (urllib SplitResult); only for production URLs."""
        return urlsplit(self.raw)

    @property
    def hosts(self) -> list[tuple[str, int | None]]:
        """host[:port] pairs of a comma-separated netloc such as ``h1:9092,h2:9092`` or ``[::1]:9092``
        (checked by ``parse_store_url``)."""
        netloc = self.parts().netloc.rsplit("@", 1)[-1]
        return [split_host_port(self.setting, item) for item in netloc.split(",")]

    def endpoints(self, default_port: int) -> list[str]:
        """``host:port`` of every host, the default port where the URL gives none, IPv6 hosts in brackets."""
        return [f"[{h}]:{p or default_port}" if ":" in h else f"{h}:{p or default_port}" for h, p in self.hosts]

    @property
    def address(self) -> str:
        """The URL's host[:port] list without credentials: what an error may show of the setting."""
        return self.parts().netloc.rsplit("@", 1)[-1]

    @property
    def redacted(self) -> str:
        """The URL with its credentials (a token, a password) replaced by ``***``."""
        scheme, _, rest = self.raw.partition("://")
        netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]  # by hand: it also serves URLs urlsplit refuses
        if "@" not in netloc:
            return self.raw
        return f"{scheme}://***@{rest[netloc.rindex('@') + 1 :]}"

    @property
    def path(self) -> str:
        return self.parts().path.lstrip("/")

    @property
    def user(self) -> str | None:
        netloc = self.parts().netloc
        return netloc.rsplit("@", 1)[0] if "@" in netloc else None


_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
"""A DNS name (an IPv4 address is one too, syntactically); IPv6 addresses come in brackets."""


def _split_url(setting: str, shown: str, raw: str):
    """urlsplit, its ValueError (a bracket left open, a bracketed host that is no IP address) as SettingsError."""
    try:
        return urlsplit(raw)
    except ValueError as exc:
        raise SettingsError(f"{setting}={shown!r}: {exc}") from None


def split_host_port(setting: str, item: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` as (host, port or None); SettingsError naming ``setting``
    unless the host is a DNS name or an IP address and the port a number in 1–65535."""
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise SettingsError(f"{setting}: {item!r} is not [IPv6 address] or [IPv6 address]:port")
        port_text = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SettingsError(f"{setting}: {host!r} is not an IPv6 address") from None
    else:
        host, colon, port_text_or_empty = item.partition(":")
        port_text = port_text_or_empty if colon else None
        if not host:
            raise SettingsError(f"{setting}: {item!r} names no host")
        if not _HOST_NAME.match(host):
            raise SettingsError(f"{setting}: {host!r} is not a host name or an IP address")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise SettingsError(f"{setting}: port {port_text!r} of {host} is not a number in 1–65535")
    return host, int(port_text)


def parse_store_url(setting: str, raw: str) -> StoreURL:
    raw = raw.strip()
    if raw == EMBEDDED:
        return StoreURL(setting, raw)
    schemes = _STORE_SCHEMES[setting]
    url = StoreURL(setting, raw)
    parsed = _split_url(setting, url.redacted, raw)
    if parsed.scheme not in schemes:
        raise SettingsError(
            f"{setting}={url.redacted!r}: expected 'embedded' or a URL starting with "
            + " or ".join(f"{s}://" for s in schemes)
        )
    if not url.address:
        raise SettingsError(f"{setting}={url.redacted!r}: the URL names no host")
    for item in url.address.split(","):
        split_host_port(setting, item)
    return url


def parse_http_url(setting: str, raw: str) -> str:
    """An http(s):// URL whose host and port are checked (the schema registry's)."""
    raw = raw.strip()
    parsed = _split_url(setting, raw, raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{setting}={raw!r}: expected an http:// or https:// URL")
    split_host_port(setting, parsed.netloc.rsplit("@", 1)[-1])
    return raw


def _spark_master(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("local") or raw.startswith("yarn"):
        return raw
    if raw.startswith(("spark://", "k8s://")):
        # spark://h1:7077,h2:7077 (standby masters); k8s:// names the API server as a URL of its own
        netloc = _split_url(VARIABLES["spark_master"], raw, raw.removeprefix("k8s://")).netloc
        for item in netloc.split(",") if netloc else ():
            split_host_port(VARIABLES["spark_master"], item)
        if netloc:
            return raw
    raise SettingsError(f"DDSS_SPARK_MASTER={raw!r}: expected local[*], spark://host:7077, k8s://… or yarn")


def _listed(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def _positive_seconds(field: str, raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise SettingsError(f"{VARIABLES[field]}={raw!r}: expected a number of seconds > 0")
    return seconds


def _whole_number(field: str, raw: str) -> int:
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1:
        raise SettingsError(f"{VARIABLES[field]}={raw!r}: expected a whole number ≥ 1")
    return number


def debug_from_env(env: Mapping[str, str] | None = None) -> bool:
    """DDSS_DEBUG=1 (or true/yes/on): errors show their traceback. Read on its own, so that it still applies
    when another setting is malformed."""
    env = os.environ if env is None else env
    return env.get(VARIABLES["debug"], "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    home: Path
    bus: StoreURL
    documents: StoreURL
    timeseries: StoreURL
    graph: StoreURL
    archive: StoreURL
    spark_master: str
    spark_packages: tuple[str, ...]  # Maven coordinates spark-submit resolves (--packages)
    spark_jars: tuple[str, ...]  # local jars for the Spark jobs (--jars), the connector among them when given
    partitions: int
    schema_registry_url: str | None
    api_token: str | None
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    effect_park_window_s: float = DEFAULT_EFFECT_PARK_WINDOW_S
    scoring_min_batch: int = DEFAULT_SCORING_MIN_BATCH
    scoring_max_delay_s: float = DEFAULT_SCORING_MAX_DELAY_S
    debug: bool = False

    @property
    def profile(self) -> str:
        stores = (self.bus, self.documents, self.timeseries, self.graph, self.archive)
        if all(s.embedded for s in stores):
            return "embedded"
        if not any(s.embedded for s in stores):
            return "production"
        return "mixed"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def value(field: str) -> str | None:
            return env.get(VARIABLES[field]) or None

        urls = {store: parse_store_url(VARIABLES[store], value(store) or EMBEDDED) for store in STORES}
        partitions = _whole_number("partitions", value("partitions") or str(default_partitions(urls["bus"])))
        return cls(
            home=Path(value("home") or ".ddss").expanduser().resolve(),
            bus=urls["bus"],
            documents=urls["documents"],
            timeseries=urls["timeseries"],
            graph=urls["graph"],
            archive=urls["archive"],
            spark_master=_spark_master(value("spark_master") or "local[*]"),
            spark_packages=_listed(value("spark_packages")),
            spark_jars=_listed(value("spark_jars")),
            partitions=partitions,
            schema_registry_url=(
                parse_http_url(VARIABLES["schema_registry_url"], registry)
                if (registry := value("schema_registry_url"))
                else None
            ),
            api_token=value("api_token"),
            connect_timeout_s=_positive_seconds(
                "connect_timeout_s", value("connect_timeout_s") or str(DEFAULT_CONNECT_TIMEOUT_S)
            ),
            effect_park_window_s=_positive_seconds(
                "effect_park_window_s", value("effect_park_window_s") or str(DEFAULT_EFFECT_PARK_WINDOW_S)
            ),
            scoring_min_batch=_whole_number(
                "scoring_min_batch", value("scoring_min_batch") or str(DEFAULT_SCORING_MIN_BATCH)
            ),
            scoring_max_delay_s=_positive_seconds(
                "scoring_max_delay_s", value("scoring_max_delay_s") or str(DEFAULT_SCORING_MAX_DELAY_S)
            ),
            debug=debug_from_env(env),
        )

    def to_env(self) -> dict[str, str]:
        """The DDSS_* variables that ``from_env`` reads back into these settings, for child processes and run
        config. A setting that is unset (no schema registry) has no variable, and the API token is left out: a
        secret stays in the environment of the process it was given to."""
        values = {
            "home": str(self.home),
            **{store: getattr(self, store).raw for store in STORES},
            "spark_master": self.spark_master,
            "spark_packages": ",".join(self.spark_packages) or None,
            "spark_jars": ",".join(self.spark_jars) or None,
            "partitions": str(self.partitions),
            "schema_registry_url": self.schema_registry_url,
            "connect_timeout_s": repr(self.connect_timeout_s),
            "effect_park_window_s": repr(self.effect_park_window_s),
            "scoring_min_batch": str(self.scoring_min_batch),
            "scoring_max_delay_s": repr(self.scoring_max_delay_s),
            "debug": "1" if self.debug else None,
        }
        return {VARIABLES[field]: text for field, text in values.items() if text is not None}
