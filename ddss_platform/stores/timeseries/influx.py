"""InfluxDB 2 adapter (influxdb-client): line protocol writes, Flux queries with `params`, Flux tasks.

URL: ``influxdb://TOKEN@host:8086/ORG`` (``influxdbs://`` for TLS). Points are written synchronously in chunks
so a failed write raises before the run commits its offsets; InfluxDB itself keeps one point per measurement +
tags + time, which makes replays idempotent. Query values travel as Flux `params`, never inside the text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
from influxdb_client import BucketRetentionRules, InfluxDBClient, WritePrecision
from influxdb_client import Point as LinePoint
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.task_create_request import TaskCreateRequest
from influxdb_client.domain.task_update_request import TaskUpdateRequest
from influxdb_client.rest import ApiException
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential
from urllib3.exceptions import HTTPError as TransportError

from ddss_platform.settings import SettingsError, StoreURL
from ddss_platform.stores.timeseries import (
    BUCKET_RETENTION_S,
    DERIVED_METRICS,
    DERIVED_TASKS,
    Measurement,
    Point,
    as_frame,
    check_keys,
    measurement_in,
    points_of,
)
from ddss_platform.stores.timeseries.derived_sql import DERIVED, periods

FLUX_DIR = Path(__file__).resolve().parents[3] / "flux"
WRITE_CHUNK = 5_000
_COERCE = {"float": float, "int": int, "str": str, "bool": bool}


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        return exc.status in (429, 500, 502, 503, 504)
    return isinstance(exc, TransportError)


_retry_transient = retry(
    retry=retry_if_exception(_transient), stop=stop_after_attempt(5), wait=wait_exponential(0.2, max=5), reraise=True
)


def line_protocol(spec: Measurement, point: Point) -> str:
    """One point as line protocol, each field coerced to its declared type."""
    check_keys(spec, point.tags, point.fields)
    lp = LinePoint(point.measurement)
    for key, value in point.tags.items():
        if value:
            lp.tag(key, value)
    for key, value in point.fields.items():
        if value is not None:
            lp.field(key, _COERCE[spec.fields[key]](value))
    return lp.time(point.time_ns, WritePrecision.NS).to_line_protocol()


def query_flux(spec: Measurement, tag_keys: Iterable[str], limit: bool) -> str:
    """The Flux text of a range query; every value comes from `params` (tag keys are declared names)."""
    lines = [
        "from(bucket: params.bucket)",
        "    |> range(start: time(v: params.start), stop: time(v: params.stop))",
        "    |> filter(fn: (r) => r._measurement == params.measurement)",
    ]
    lines += [f"    |> filter(fn: (r) => r[{json.dumps(key)}] == params.tag{i})" for i, key in enumerate(tag_keys)]
    lines += [
        '    |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
        "    |> group()",
        '    |> sort(columns: ["_time"])',
    ]
    if limit:
        lines.append("    |> limit(n: params.limit)")
    return "\n".join(lines)


def task_flux(name: str) -> str:
    path = FLUX_DIR / f"{name}.flux"
    if name not in DERIVED_TASKS or not path.is_file():
        raise ValueError(f"no Flux task {name!r} (known: {', '.join(DERIVED_TASKS)}; files in {FLUX_DIR})")
    return path.read_text()


def backfill_flux(name: str) -> str:
    """The task's script with `now` taken from params, so one run computes the period ending at params.now
    exactly as the scheduled run at that time does."""
    text = task_flux(name)
    at = text.index("option task")
    return text[:at] + "option now = () => params.now\n\n" + text[at:]


def _frame(df: pd.DataFrame | list[pd.DataFrame]) -> pd.DataFrame:
    if isinstance(df, list):
        df = pd.concat(df, ignore_index=True) if df else pd.DataFrame()
    if df.empty:
        return pd.DataFrame(columns=["time_ns"])
    times = pd.to_datetime(df["_time"], utc=True).dt.as_unit("ns")
    df = df.drop(columns=["result", "table", "_start", "_stop", "_measurement", "_time"], errors="ignore")
    return df.assign(time_ns=times.astype("int64"))


class InfluxTimeSeries:
    def __init__(self, client, org: str):
        self._client = client
        self._org = org
        self._write_api = client.write_api(write_options=SYNCHRONOUS)
        self._query_api = client.query_api()

    @classmethod
    def from_url(cls, url: StoreURL) -> InfluxTimeSeries:
        host, port = url.hosts[0]
        if not url.user or not url.path:
            raise SettingsError(f"{url.setting}={url.raw!r}: expected influxdb://TOKEN@host:8086/ORG")
        scheme = "https" if url.scheme == "influxdbs" else "http"
        client = InfluxDBClient(url=f"{scheme}://{host}:{port or 8086}", token=url.user, org=url.path, timeout=30_000)
        return cls(client, url.path)

    def close(self) -> None:
        self._write_api.close()
        self._client.close()

    def ensure_schema(self) -> list[str]:
        buckets = self._client.buckets_api()
        actions = []
        for name, seconds in BUCKET_RETENTION_S.items():
            rule = BucketRetentionRules(type="expire", every_seconds=seconds)
            bucket = buckets.find_bucket_by_name(name)
            if bucket is None:
                buckets.create_bucket(bucket_name=name, retention_rules=rule, org=self._org)
                actions.append(f"created bucket {name} (retention {seconds // 86400}d)")
            elif [r.every_seconds for r in bucket.retention_rules or []] != [seconds]:
                bucket.retention_rules = [rule]
                buckets.update_bucket(bucket=bucket)
                actions.append(f"set retention of bucket {name} to {seconds // 86400}d")
        return actions

    def write(self, bucket: str, points: Iterable[Point], batch_id: str) -> int:
        # batch_id is not needed here: InfluxDB keys points by measurement + tags + time.
        specs: dict[str, Measurement] = {}
        lines = []
        for p in points:
            spec = specs.get(p.measurement) or specs.setdefault(p.measurement, measurement_in(bucket, p.measurement))
            lines.append(line_protocol(spec, p))
        for start in range(0, len(lines), WRITE_CHUNK):
            self._write_chunk(bucket, lines[start : start + WRITE_CHUNK])
        return len(lines)

    def write_table(self, bucket: str, measurement: str, table: pa.Table, batch_id: str) -> int:
        measurement_in(bucket, measurement)
        return self.write(bucket, points_of(measurement, table), batch_id)

    @_retry_transient
    def _write_chunk(self, bucket: str, lines: list[str]) -> None:
        self._write_api.write(bucket=bucket, org=self._org, record=lines, write_precision=WritePrecision.NS)

    @_retry_transient
    def query(
        self,
        bucket: str,
        measurement: str,
        start_ns: int,
        stop_ns: int,
        tags: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        spec = measurement_in(bucket, measurement)
        tags = dict(tags or {})
        check_keys(spec, tags, ())
        params = {"bucket": bucket, "measurement": measurement, "start": int(start_ns), "stop": int(stop_ns)}
        params |= {f"tag{i}": value for i, value in enumerate(tags.values())}
        if limit is not None:
            params["limit"] = int(limit)
        flux = query_flux(spec, tags, limit is not None)
        return as_frame(spec, _frame(self._query_api.query_data_frame(flux, org=self._org, params=params)))

    def enforce_retention(self, now_ns: int) -> int:
        return 0  # the buckets' retention rules expire points on the server

    def deploy_tasks(self, names: Iterable[str] | None = None) -> list[str]:
        tasks = self._client.tasks_api()
        actions = []
        for name in names or DERIVED_TASKS:
            flux = task_flux(name)
            existing = [t for t in tasks.find_tasks(name=name) if t.name == name]
            if not existing:
                tasks.create_task(task_create_request=TaskCreateRequest(org=self._org, flux=flux, status="active"))
                actions.append(f"created task {name}")
            elif existing[0].flux != flux or existing[0].status != "active":
                tasks.update_task_request(existing[0].id, TaskUpdateRequest(flux=flux, status="active"))
                actions.append(f"updated task {name}")
        return actions

    def compute_derived(self, metric: str, start_ns: int, stop_ns: int) -> pd.DataFrame:
        """Deploy the metric's task, run its script once per period (the backfill a scheduled run would do),
        and read what it wrote."""
        self.deploy_tasks([metric])
        covered = periods(DERIVED[metric].period, start_ns, stop_ns)
        flux = backfill_flux(metric)
        for _lo, hi in covered:
            now = datetime.fromtimestamp(hi // 10**9, tz=UTC)
            self._query_api.query(flux, org=self._org, params={"now": now})
        lo, hi = (covered[0][0], covered[-1][1]) if covered else (start_ns, stop_ns)
        return self.query(DERIVED_METRICS, metric, lo, hi)
