"""The kinds the Dagster UI shows on an asset name what its stores run on in this profile: the assets declare the
production systems (Kafka, MongoDB, InfluxDB, Dgraph, ScyllaDB), and ``ddss_platform.definitions`` maps each to its
embedded engine where that store's setting is ``embedded``."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from ddss_platform.settings import Settings

EMBEDDED_ENGINES: dict[str, tuple[str, str]] = {
    "kafka": ("bus", "sqlite"),
    "mongodb": ("documents", "sqlite"),
    "influxdb": ("timeseries", "duckdb"),
    "dgraph": ("graph", "sqlite"),
    "scylladb": ("archive", "parquet"),
}
"""production kind -> (the Settings field of its store, the embedded engine's kind)"""


def profile_kinds(kinds: set[str], settings: Settings) -> set[str]:
    return {
        EMBEDDED_ENGINES[kind][1]
        if kind in EMBEDDED_ENGINES and getattr(settings, EMBEDDED_ENGINES[kind][0]).embedded
        else kind
        for kind in kinds
    }


def with_profile_kinds(settings: Settings) -> Callable[[dg.AssetSpec], dg.AssetSpec]:
    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(kinds=profile_kinds(set(spec.kinds), settings))

    return apply
