"""InfluxDB 2 adapter (influxdb-client): line protocol writes, Flux queries with `params`, Flux tasks.

URL: ``influxdb://TOKEN@host:8086/ORG`` (``influxdbs://`` for TLS). Points are written synchronously in chunks
so a failed write raises before the run commits its offsets; InfluxDB itself keeps one point per measurement +
tags + time, which makes replays idempotent. Query values travel as Flux `params`, never inside the text.
"""

from __future__ import annotations

import re
import time
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
from influxdb_client.service.ping_service import PingService
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential
from urllib3.exceptions import HTTPError as TransportError

from ddss_platform.settings import DEFAULT_CONNECT_TIMEOUT_S, SettingsError, StoreURL
from ddss_platform.stores.reachability import require_reachable, unreachable
from ddss_platform.stores.timeseries import (
    BUCKET_RETENTION_S,
    DERIVED_METRICS,
    DERIVED_TASKS,
    Measurement,
    Point,
    as_frame,
    check_keys,
    check_tag_values,
    measurement_in,
    points_of,
    retention_cutoff_ns,
)
from ddss_platform.stores.timeseries.derived_sql import DERIVED, periods

DEFAULT_PORT = 8086
READ_TIMEOUT_MS = 30_000
FLUX_DIR = Path(__file__).resolve().parents[3] / "flux"
WRITE_CHUNK = 5_000
TASK_RUN_TIMEOUT_S = 120
_TASK_EVERY = re.compile(r"option task = \{[^}]*every: (\d+)([hd])")
_RETENTION_DROPPED = re.compile(r"Retention Policy Lower Bound.*dropped=(\d+)", re.DOTALL)
_COERCE = {"float": float, "int": int, "str": str, "bool": bool}


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        return exc.status in (429, 500, 502, 503, 504)
    return isinstance(exc, TransportError)


_retry_transient = retry(
    retry=retry_if_exception(_transient), stop=stop_after_attempt(5), wait=wait_exponential(0.2, max=5), reraise=True
)


def line_protocol(spec: Measurement, point: Point) -> str:
    """One point as line protocol, each field coerced to its declared type (tag values checked first: line
    protocol cannot carry every string, see ``check_tag_values``)."""
    check_keys(spec, point.tags, point.fields)
    check_tag_values(point.tags)
    lp = LinePoint(point.measurement)
    for key, value in point.tags.items():
        if value:
            lp.tag(key, value)
    for key, value in point.fields.items():
        if value is not None:
            lp.field(key, _COERCE[spec.fields[key]](value))
    return lp.time(point.time_ns, WritePrecision.NS).to_line_protocol()


def flux_string(value: str) -> str:
    """``value`` as a Flux string literal. InfluxDB OSS has no query parameters (Flux `params` are a Cloud
    feature), so values go into the query text, escaped: backslash, double quote, interpolation, line breaks."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("${", "\\${")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def flux_time(ns: int) -> str:
    return f"time(v: {int(ns)})"


def query_flux(
    bucket: str, spec: Measurement, start_ns: int, stop_ns: int, tags: Mapping[str, str], limit: int | None
) -> str:
    """The Flux text of a range query. Every value is a literal made here (names are declared ones, strings
    through ``flux_string``); ``time_ns`` is the point time as an integer, exact to the nanosecond (the client
    parses ``_time`` into datetimes, which keep microseconds)."""
    lines = [
        f"from(bucket: {flux_string(bucket)})",
        f"    |> range(start: {flux_time(start_ns)}, stop: {flux_time(stop_ns)})",
        f"    |> filter(fn: (r) => r._measurement == {flux_string(spec.name)})",
    ]
    lines += [f"    |> filter(fn: (r) => r[{flux_string(key)}] == {flux_string(value)})" for key, value in tags.items()]
    lines += [
        '    |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
        "    |> group()",
        '    |> sort(columns: ["_time"])',
    ]
    if limit is not None:
        lines.append(f"    |> limit(n: {int(limit)})")
    lines.append("    |> map(fn: (r) => ({r with time_ns: int(v: r._time)}))")
    return "\n".join(lines)


def task_flux(name: str) -> str:
    path = FLUX_DIR / f"{name}.flux"
    if name not in DERIVED_TASKS or not path.is_file():
        raise ValueError(f"no Flux task {name!r} (known: {', '.join(DERIVED_TASKS)}; files in {FLUX_DIR})")
    return path.read_text()


def task_every_ns(name: str) -> int:
    """How often the task runs (its ``every`` option: whole hours or days)."""
    match = _TASK_EVERY.search(task_flux(name))
    if match is None:
        raise ValueError(f"task {name}: no `every: <n>h|d` in its option task")
    return int(match.group(1)) * {"h": 3_600, "d": 86_400}[match.group(2)] * 10**9


def _frame(df: pd.DataFrame | list[pd.DataFrame]) -> pd.DataFrame:
    if isinstance(df, list):
        df = pd.concat(df, ignore_index=True) if df else pd.DataFrame()
    if df.empty:
        return pd.DataFrame(columns=["time_ns"])
    return df.drop(columns=["result", "table", "_start", "_stop", "_measurement", "_time"], errors="ignore")


def retention_drops(exc: ApiException) -> int | None:
    """How many points a 422 dropped for being older than the bucket's retention (None: another 422).
    A write with such points stores the rest and answers 422 naming the count (``dropped=N``)."""
    match = _RETENTION_DROPPED.search(exc.body or "") if exc.status == 422 else None
    return int(match.group(1)) if match else None


class InfluxTimeSeries:
    def __init__(self, client, org: str):
        self._client = client
        self._org = org
        self._write_api = client.write_api(write_options=SYNCHRONOUS)
        self._query_api = client.query_api()
        self._org_id_cache: str | None = None

    @classmethod
    def from_url(cls, url: StoreURL, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> InfluxTimeSeries:
        if not url.user or not url.path or len(url.hosts) != 1:
            raise SettingsError(f"{url.setting}={url.redacted!r}: expected influxdb://TOKEN@host:8086/ORG")
        require_reachable(url, DEFAULT_PORT, connect_timeout_s)
        scheme = "https" if url.scheme == "influxdbs" else "http"
        client = InfluxDBClient(
            url=f"{scheme}://{url.endpoints(DEFAULT_PORT)[0]}",
            token=url.user,
            org=url.path,
            # (connect, read) in ms: a write or a query may take longer than a connection
            timeout=(max(1, int(connect_timeout_s * 1000)), READ_TIMEOUT_MS),
        )
        try:  # the client connects lazily: ask now, so that a server that does not answer fails here
            PingService(client.api_client).get_ping(
                _request_timeout=connect_timeout_s * 1000
            )  # ms, as the client reads it
        except Exception as exc:  # urllib3's errors and the client's ApiException
            client.close()
            raise unreachable(url, exc) from exc
        return cls(client, url.path)

    def close(self) -> None:
        self._write_api.close()
        self._client.close()

    def _org_id(self) -> str:
        if self._org_id_cache is None:
            self._org_id_cache = self._client.organizations_api().find_organizations(org=self._org)[0].id
        return self._org_id_cache

    def _bucket(self, name: str):
        """The organisation's bucket of that name (a token that sees several organisations sees their buckets)."""
        try:
            found = self._client.buckets_api().find_buckets(name=name, org=self._org).buckets or []
        except ApiException as exc:
            if exc.status == 404:  # the server answers a lookup by name that finds nothing with 404
                return None
            raise
        return next((b for b in found if b.name == name and b.org_id == self._org_id()), None)

    def ensure_schema(self) -> list[str]:
        buckets = self._client.buckets_api()
        actions = []
        for name, seconds in BUCKET_RETENTION_S.items():
            rule = BucketRetentionRules(type="expire", every_seconds=seconds)
            bucket = self._bucket(name)
            if bucket is None:
                buckets.create_bucket(bucket_name=name, retention_rules=rule, org_id=self._org_id())
                actions.append(f"created bucket {name} (retention {seconds // 86400}d)")
            elif [r.every_seconds for r in bucket.retention_rules or []] != [seconds]:
                bucket.retention_rules = [rule]
                buckets.update_bucket(bucket=bucket)
                actions.append(f"set retention of bucket {name} to {seconds // 86400}d")
        return actions

    def write(self, bucket: str, points: Iterable[Point], batch_id: str) -> int:
        # batch_id is not needed here: InfluxDB keys points by measurement + tags + time.
        specs: dict[str, Measurement] = {}
        cutoff = retention_cutoff_ns(bucket, time.time_ns())
        lines = []
        for p in points:
            spec = specs.get(p.measurement) or specs.setdefault(p.measurement, measurement_in(bucket, p.measurement))
            line = line_protocol(spec, p)  # refuses a bad point whatever its age
            if p.time_ns >= cutoff:
                lines.append(line)
        dropped = sum(self._write_chunk(bucket, lines[i : i + WRITE_CHUNK]) for i in range(0, len(lines), WRITE_CHUNK))
        return len(lines) - dropped

    def write_table(self, bucket: str, measurement: str, table: pa.Table, batch_id: str) -> int:
        measurement_in(bucket, measurement)
        return self.write(bucket, points_of(measurement, table), batch_id)

    @_retry_transient
    def _write_chunk(self, bucket: str, lines: list[str]) -> int:
        """Write one chunk; the number of points the server dropped as beyond retention (they crossed the
        cutoff between the check above and the write)."""
        try:
            self._write_api.write(bucket=bucket, org=self._org, record=lines, write_precision=WritePrecision.NS)
        except ApiException as exc:
            dropped = retention_drops(exc)
            if dropped is None:
                raise
            return dropped
        return 0

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
        flux = query_flux(bucket, spec, start_ns, stop_ns, tags, limit)
        return as_frame(spec, _frame(self._query_api.query_data_frame(flux, org=self._org)))

    def enforce_retention(self, now_ns: int) -> int:
        return 0  # the buckets' retention rules expire points on the server

    def _tasks_by_name(self) -> dict[str, object]:
        tasks = self._client.tasks_api().find_tasks(org_id=self._org_id())
        return {t.name: t for t in tasks if t.org_id == self._org_id()}

    def deploy_tasks(self, names: Iterable[str] | None = None) -> list[str]:
        tasks_api = self._client.tasks_api()
        existing = self._tasks_by_name()
        actions = []
        for name in names or DERIVED_TASKS:
            flux = task_flux(name)
            task = existing.get(name)
            if task is None:
                tasks_api.create_task(
                    task_create_request=TaskCreateRequest(org_id=self._org_id(), flux=flux, status="active")
                )
                actions.append(f"created task {name}")
            elif task.flux != flux or task.status != "active":
                tasks_api.update_task_request(task.id, TaskUpdateRequest(flux=flux, status="active"))
                actions.append(f"updated task {name}")
        return actions

    def compute_derived(self, metric: str, start_ns: int, stop_ns: int) -> pd.DataFrame:
        """Deploy the metric's task and run it on the server once per period, each run scheduled at the period's
        end (so its ``now()`` is that time, exactly as the scheduled run), then read what the runs wrote."""
        self.deploy_tasks([metric])
        task = self._tasks_by_name()[metric]
        covered = periods(DERIVED[metric].period, start_ns, stop_ns)
        # a period not over yet (the month so far) is computed by the task's latest run before now: a run
        # scheduled in the future would wait for that time
        latest = time.time_ns() // task_every_ns(metric) * task_every_ns(metric)
        run_times = sorted({min(hi, latest) for _lo, hi in covered})
        self._run_task(task.id, [datetime.fromtimestamp(t // 10**9, tz=UTC) for t in run_times])
        lo, hi = (covered[0][0], covered[-1][1]) if covered else (start_ns, stop_ns)
        return self.query(DERIVED_METRICS, metric, lo, hi)

    def _run_task(self, task_id: str, scheduled_for: list[datetime]) -> None:
        """Manual runs of a task, one per time (the server queues them), waited for; RuntimeError with a failed
        run's log."""
        tasks_api = self._client.tasks_api()
        runs = {tasks_api.run_manually(task_id, scheduled_for=at).id: at for at in scheduled_for}
        deadline = time.monotonic() + TASK_RUN_TIMEOUT_S
        while runs:
            for run_id, at in list(runs.items()):
                try:
                    run = tasks_api.get_run(task_id, run_id)
                except ApiException as exc:
                    # Between the queue and the run log a run is briefly in neither: a 404, or on 2.7.12 a 500
                    # ("a panic has occurred ... nil pointer dereference"). Asked again until the deadline.
                    if exc.status == 404 or exc.status >= 500:
                        continue
                    raise
                if run.status == "success":
                    del runs[run_id]
                elif run.status in ("failed", "canceled"):
                    logs = "; ".join(entry.message for entry in tasks_api.get_run_logs(task_id, run_id))
                    raise RuntimeError(f"task {task_id} run for {at.isoformat()} {run.status}: {logs}")
            if runs and time.monotonic() > deadline:
                raise RuntimeError(f"task {task_id}: {len(runs)} runs unfinished after {TASK_RUN_TIMEOUT_S} s")
            time.sleep(0.05 if runs else 0)
