"""Profiles and store URLs, read once from the environment.

Every store is chosen by one URL setting: ``embedded`` (the default, an engine
under ``DDSS_HOME``) or the production system's URL. ``VARIABLES`` is the one
mapping between the settings and their ``DDSS_*`` environment variables:
``Settings.from_env`` reads it and ``Settings.to_env`` writes it (for child
processes and Dagster resource config). Nothing else in the code reads or
writes these variables.
"""

from __future__ import annotations

import os
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
        """host[:port] pairs of a comma-separated netloc such as ``h1:9092,h2:9092``."""
        netloc = self.parts().netloc.rsplit("@", 1)[-1]
        pairs = []
        for item in netloc.split(","):
            host, _, port = item.partition(":")
            pairs.append((host, int(port) if port else None))
        return pairs

    @property
    def path(self) -> str:
        return self.parts().path.lstrip("/")

    @property
    def user(self) -> str | None:
        netloc = self.parts().netloc
        return netloc.rsplit("@", 1)[0] if "@" in netloc else None


def parse_store_url(setting: str, raw: str) -> StoreURL:
    raw = raw.strip()
    if raw == EMBEDDED:
        return StoreURL(setting, raw)
    schemes = _STORE_SCHEMES[setting]
    parsed = urlsplit(raw)
    if parsed.scheme not in schemes:
        raise SettingsError(
            f"{setting}={raw!r}: expected 'embedded' or a URL starting with " + " or ".join(f"{s}://" for s in schemes)
        )
    netloc = parsed.netloc.rsplit("@", 1)[-1]
    if not netloc:
        raise SettingsError(f"{setting}={raw!r}: the URL names no host")
    url = StoreURL(setting, raw)
    try:
        for host, _port in url.hosts:
            if not host:
                raise ValueError("empty host")
    except ValueError as exc:
        raise SettingsError(f"{setting}={raw!r}: bad host or port ({exc})") from exc
    return url


def _spark_master(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("local") or raw.startswith(("spark://", "k8s://", "yarn")):
        return raw
    raise SettingsError(f"DDSS_SPARK_MASTER={raw!r}: expected local[*], spark://host:7077, k8s://… or yarn")


def _listed(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


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
        partitions_raw = value("partitions") or str(default_partitions(urls["bus"]))
        try:
            partitions = int(partitions_raw)
            if partitions < 1:
                raise ValueError
        except ValueError:
            raise SettingsError(f"{VARIABLES['partitions']}={partitions_raw!r}: expected a whole number ≥ 1") from None
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
            schema_registry_url=value("schema_registry_url"),
            api_token=value("api_token"),
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
        }
        return {VARIABLES[field]: text for field, text in values.items() if text is not None}
