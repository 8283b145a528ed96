"""The time-series port (InfluxDB role): buckets of measurements, points keyed by measurement + tags + time.

The schema below is the one `schemas/influxdb.md` describes. Both adapters check points against it: an
unknown measurement, tag or field is refused with a message naming it, and field values are written with the
declared type (so a Python ``int`` in a float field never creates an InfluxDB field-type conflict).

Derived metrics are the Flux tasks in ``flux/``; the embedded adapter computes the same numbers in SQL
(``derived_sql.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import pandas as pd
import pyarrow as pa

from ddss_platform.events.validation import unsafe_tag_value
from ddss_platform.settings import Settings

RAW_EVENTS = "raw_events"
DERIVED_METRICS = "derived_metrics"
DAY_S = 86_400
BUCKET_RETENTION_S: Mapping[str, int] = {RAW_EVENTS: 30 * DAY_S, DERIVED_METRICS: 365 * DAY_S}

CITIZEN_EVENT = "citizen_event"
SCORE_CHANGE_HISTORY = "score_change_history"
CITIZEN_ACTIVITY_HOURLY = "citizen_activity_hourly"
CITIZEN_SUMMARY_DAILY = "citizen_summary_daily"
SYSTEM_AGGREGATES_DAILY = "system_aggregates_daily"
SYSTEM_AGGREGATES_MONTHLY = "system_aggregates_monthly"
SOCIAL_GRAPH_DERIVED_METRICS = "social_graph_derived_metrics"

# The metrics computed by a Flux task (production) or by SQL (embedded); the file is flux/<name>.flux.
DERIVED_TASKS = (CITIZEN_ACTIVITY_HOURLY, CITIZEN_SUMMARY_DAILY, SYSTEM_AGGREGATES_DAILY, SYSTEM_AGGREGATES_MONTHLY)

FieldValue = float | int | str | bool
FIELD_TYPES = ("float", "int", "str", "bool")


@dataclass(frozen=True)
class Measurement:
    name: str
    bucket: str
    tags: tuple[str, ...]
    fields: Mapping[str, str]  # field name -> one of FIELD_TYPES


def _measurement(name: str, bucket: str, tags: str, **fields: str) -> Measurement:
    return Measurement(name, bucket, tuple(tags.split()), fields)


MEASUREMENTS: Mapping[str, Measurement] = {
    m.name: m
    for m in (
        _measurement(
            CITIZEN_EVENT,
            RAW_EVENTS,
            "citizenID eventType eventSubtype sourceSystem region city",
            eventID="str",
            severity="float",
            confidence="float",
            latitude="float",
            longitude="float",
            payload_amount="float",
            payload_full_json="str",
            score_impact="float",
        ),
        _measurement(
            SCORE_CHANGE_HISTORY,
            DERIVED_METRICS,
            "citizenID reasonCategory triggeringRuleID",
            oldScore="float",
            newScore="float",
            changeAmount="float",
            relatedEventID="str",
            tier="str",
        ),
        _measurement(CITIZEN_ACTIVITY_HOURLY, DERIVED_METRICS, "citizenID", eventCount="int", netScoreImpact="float"),
        _measurement(
            CITIZEN_SUMMARY_DAILY,
            DERIVED_METRICS,
            "citizenID",
            eventsTodayCount="int",
            netScoreChangeToday="float",
            dayEndScore="float",
            currentTier="str",
        ),
        _measurement(
            SYSTEM_AGGREGATES_DAILY,
            DERIVED_METRICS,
            "region",
            averageScore="float",
            medianScore="float",
            minScoreObserved="float",
            maxScoreObserved="float",
            activeCitizensCount="int",
            tier_exemplary_count="int",
            tier_standard_count="int",
            tier_caution_count="int",
            tier_highrisk_count="int",
        ),
        _measurement(
            SYSTEM_AGGREGATES_MONTHLY,
            DERIVED_METRICS,
            "region",
            averageScore="float",
            minScoreObserved="float",
            maxScoreObserved="float",
            activeCitizenDays="int",
            daysReported="int",
        ),
        _measurement(
            SOCIAL_GRAPH_DERIVED_METRICS,
            DERIVED_METRICS,
            "citizenID",
            avgFamilyScore="float",
            familySize="int",
            colleagueNetworkSize="int",
            colleagueNetworkDensity="float",
            associationRisk="float",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int


def event_time_ns(timestamp_ms: int, unique: str) -> int:
    """A point time for an event: its millisecond timestamp plus a stable sub-millisecond part from `unique`
    (the event id). Two events of one citizen with the same tags in the same millisecond would otherwise share
    measurement + tags + time, and the second would overwrite the first; the same event always gets the same
    time, so replays stay idempotent."""
    return timestamp_ms * 1_000_000 + zlib.crc32(unique.encode()) % 1_000_000


def measurement_in(bucket: str, measurement: str) -> Measurement:
    """The declared measurement, or ValueError naming what is unknown."""
    spec = MEASUREMENTS.get(measurement)
    if spec is None:
        raise ValueError(f"unknown measurement {measurement!r} (known: {', '.join(MEASUREMENTS)})")
    if spec.bucket != bucket:
        raise ValueError(f"measurement {measurement!r} belongs to bucket {spec.bucket!r}, not {bucket!r}")
    return spec


def check_keys(spec: Measurement, tag_keys: Iterable[str], field_keys: Iterable[str]) -> None:
    bad_tags = set(tag_keys) - set(spec.tags)
    if bad_tags:
        raise ValueError(f"{spec.name}: unknown tag(s) {sorted(bad_tags)} (declared: {list(spec.tags)})")
    bad_fields = set(field_keys) - set(spec.fields)
    if bad_fields:
        raise ValueError(f"{spec.name}: unknown field(s) {sorted(bad_fields)} (declared: {list(spec.fields)})")


def check_tag_values(tags: Mapping[str, str]) -> None:
    """Tag values that line protocol cannot carry exactly are refused (ValueError naming the tag): a line break
    (InfluxDB stores it as the two characters ``\\n``) or a trailing backslash (it escapes the separator after it
    and the value swallows the next tag). The event validation refuses such events before they reach a sink."""
    for key, value in tags.items():
        if unsafe_tag_value(value):
            raise ValueError(f"tag {key}={value!r}: a tag value cannot end with a backslash or hold a line break")


def retention_cutoff_ns(bucket: str, now_ns: int) -> int:
    """The oldest point time ``bucket`` takes at ``now_ns``: older points are beyond its retention, and a write
    skips them (InfluxDB refuses them, so every adapter does; the count a write returns leaves them out)."""
    return now_ns - BUCKET_RETENTION_S[bucket] * 10**9


def check_columns(spec: Measurement, names: Iterable[str]) -> None:
    """The columns of a columnar batch: time_ns, then declared tags and fields (ValueError naming the others)."""
    names = set(names) - {"time_ns"}
    check_keys(spec, names & set(spec.tags), names - set(spec.tags))


def points_of(measurement: str, table: pa.Table) -> list[Point]:
    """The rows of a columnar batch (see ``TimeSeries.write_table``) as points; a null tag or field is absent."""
    spec = MEASUREMENTS[measurement]
    check_columns(spec, table.column_names)
    points = []
    for row in table.to_pylist():
        tags = {t: row[t] for t in spec.tags if row.get(t)}
        fields = {f: row[f] for f in spec.fields if row.get(f) is not None}
        points.append(Point(measurement, tags, fields, row["time_ns"]))
    return points


_PANDAS_DTYPES = {"float": "float64", "int": "Int64", "bool": "boolean"}


def as_frame(spec: Measurement, df: pd.DataFrame) -> pd.DataFrame:
    """`df` with the columns every adapter returns: time_ns, every declared tag, every declared field (missing
    ones as nulls), numbers in their declared dtypes (nullable Int64 for int fields), oldest first."""
    out = df.reindex(columns=["time_ns", *spec.tags, *spec.fields])
    out = out.astype(
        {"time_ns": "int64"} | {f: _PANDAS_DTYPES[t] for f, t in spec.fields.items() if t in _PANDAS_DTYPES}
    )
    return out.sort_values(["time_ns", *spec.tags], kind="stable", ignore_index=True)


class TimeSeries(Protocol):
    def ensure_schema(self) -> list[str]:
        """Create buckets/folders (with retention) that are missing; the actions taken, [] when none."""

    def write(self, bucket: str, points: Iterable[Point], batch_id: str) -> int:
        """Write points; idempotent by measurement + tags + time. Returns the number of points written: points
        older than the bucket's retention (``retention_cutoff_ns``) are skipped, not an error. A tag value that
        line protocol cannot carry is refused (``check_tag_values``)."""

    def write_table(self, bucket: str, measurement: str, table: pa.Table, batch_id: str) -> int:
        """``write`` for points of one measurement given as columns: time_ns, then tags and fields by name
        (a column left out, or a null, is an absent tag or field). Returns the number of points written."""

    def query(
        self,
        bucket: str,
        measurement: str,
        start_ns: int,
        stop_ns: int,
        tags: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Points with start_ns <= time < stop_ns, oldest first: columns time_ns, the tags, the fields."""

    def enforce_retention(self, now_ns: int) -> int:
        """Drop points older than their bucket's retention; the number removed (0 where the server does it)."""

    def compute_derived(self, metric: str, start_ns: int, stop_ns: int) -> pd.DataFrame:
        """Compute a derived metric (one of DERIVED_TASKS) for the whole periods touching [start_ns, stop_ns),
        store it in derived_metrics, and return it as `query` would."""

    def deploy_tasks(self, names: Iterable[str] | None = None) -> list[str]:
        """Create or update the Flux tasks by name (production); the actions taken."""

    def close(self) -> None: ...


def open_timeseries(settings: Settings) -> TimeSeries:
    if settings.timeseries.embedded:
        from ddss_platform.stores.timeseries.embedded import EmbeddedTimeSeries

        return EmbeddedTimeSeries(settings.home / "timeseries")
    from ddss_platform.stores.timeseries.influx import InfluxTimeSeries

    return InfluxTimeSeries.from_url(settings.timeseries, settings.connect_timeout_s)
