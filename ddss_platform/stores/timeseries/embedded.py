"""Embedded time series: Parquet files under ``DDSS_HOME/timeseries/<bucket>/<measurement>/``, read with DuckDB.

Every write batch becomes one file per measurement, named by the batch id and put in place by atomic rename,
so a replayed batch replaces its own file and readers never see half a file. Each row carries the time it was
written (``_written_ns``); a query merges the rows that share tags + time keeping, field by field, the newest
value, which is how InfluxDB resolves a point written twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ddss_platform.stores.parquet_files import ParquetReader, retry_vanished, write_atomic
from ddss_platform.stores.timeseries import (
    BUCKET_RETENTION_S,
    DERIVED_METRICS,
    MEASUREMENTS,
    Measurement,
    Point,
    as_frame,
    check_columns,
    check_keys,
    check_tag_values,
    measurement_in,
    retention_cutoff_ns,
)
from ddss_platform.stores.timeseries.derived_sql import DERIVED, periods

_ARROW = {"float": pa.float64(), "int": pa.int64(), "str": pa.string(), "bool": pa.bool_()}
_SQL_TYPE = {"float": "DOUBLE", "int": "BIGINT", "str": "VARCHAR", "bool": "BOOLEAN"}
WRITTEN = "_written_ns"


def arrow_schema(spec: Measurement) -> pa.Schema:
    return pa.schema(
        [("time_ns", pa.int64())]
        + [(t, pa.string()) for t in spec.tags]
        + [(f, _ARROW[typ]) for f, typ in spec.fields.items()]
        + [(WRITTEN, pa.int64())]
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _points_table(spec: Measurement, points: list[Point], written_ns: int) -> pa.Table:
    """Column by column (one list comprehension per column), which is what makes bulk writes fast."""
    tags = [p.tags for p in points]
    fields = [p.fields for p in points]
    # An empty tag value is no tag, as in line protocol (InfluxDB cannot store one).
    tag_columns = [pa.array([d.get(t) or None for d in tags], pa.string()) for t in spec.tags]
    field_columns = [pa.array([d.get(f) for d in fields], _ARROW[typ]) for f, typ in spec.fields.items()]
    # Cheap check first: every key was picked up by a declared column unless some key is undeclared
    # (or carries None); only then collect the key names for the error message.
    picked = sum(len(c) - c.null_count for c in tag_columns + field_columns)
    if picked != sum(map(len, tags)) + sum(map(len, fields)):
        check_keys(spec, set().union(*tags), set().union(*fields))
    columns = [pa.array([p.time_ns for p in points], pa.int64()), *tag_columns, *field_columns]
    columns.append(pa.repeat(pa.scalar(written_ns, pa.int64()), len(points)))
    return pa.Table.from_arrays(columns, schema=arrow_schema(spec))


def _columns_table(spec: Measurement, table: pa.Table, written_ns: int) -> pa.Table:
    """A columnar batch in the measurement's file schema: absent columns as nulls, empty tags as no tag."""
    check_columns(spec, table.column_names)
    names = set(table.column_names)
    schema = arrow_schema(spec)
    columns = []
    for column in schema:
        if column.name == WRITTEN:
            columns.append(pa.repeat(pa.scalar(written_ns, pa.int64()), table.num_rows))
        elif column.name in names:
            values = table[column.name].cast(column.type)
            if column.name in spec.tags:
                values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
            columns.append(values)
        else:
            columns.append(pa.nulls(table.num_rows, column.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _in_retention(spec: Measurement, table: pa.Table) -> pa.Table:
    """The rows a server would take: within the bucket's retention (older ones are skipped), and tag values that
    line protocol can carry (otherwise ValueError, as the InfluxDB adapter refuses them)."""
    for tag in spec.tags:
        values = table[tag]
        bad = pc.or_(pc.ends_with(values, "\\"), pc.match_substring_regex(values, "[\r\n]"))
        if pc.any(bad).as_py():
            check_tag_values({tag: pc.filter(values, bad)[0].as_py()})
    keep = pc.greater_equal(table["time_ns"], retention_cutoff_ns(spec.bucket, time.time_ns()))
    return table if pc.all(keep).as_py() is not False else table.filter(keep)


class EmbeddedTimeSeries:
    def __init__(self, root: Path):
        self.root = root
        self._parquet = ParquetReader()

    def close(self) -> None:
        self._parquet.close()

    def _folder(self, spec: Measurement) -> Path:
        return self.root / spec.bucket / spec.name

    def _files(self, spec: Measurement) -> list[str]:
        folder = self._folder(spec)
        return sorted(str(p) for p in folder.glob("*.parquet")) if folder.is_dir() else []

    def ensure_schema(self) -> list[str]:
        actions = []
        for spec in MEASUREMENTS.values():
            folder = self._folder(spec)
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)  # another process may be doing the same
                actions.append(
                    f"created {spec.bucket}/{spec.name} (retention {BUCKET_RETENTION_S[spec.bucket] // 86400}d)"
                )
        return actions

    def write(self, bucket: str, points: Iterable[Point], batch_id: str) -> int:
        by_measurement: dict[str, list[Point]] = {}
        for p in points:
            by_measurement.setdefault(p.measurement, []).append(p)
        specs = {name: measurement_in(bucket, name) for name in by_measurement}
        written_ns = time.time_ns()
        written = 0
        for name, pts in by_measurement.items():
            table = _in_retention(specs[name], _points_table(specs[name], pts, written_ns))
            if table.num_rows:
                self._write_table(specs[name], table, batch_id)
            written += table.num_rows
        return written

    def write_table(self, bucket: str, measurement: str, table: pa.Table, batch_id: str) -> int:
        spec = measurement_in(bucket, measurement)
        table = _in_retention(spec, _columns_table(spec, table, time.time_ns()))
        if table.num_rows:  # as with write(): no points, no file (an empty one would replace a batch's points)
            self._write_table(spec, table, batch_id)
        return table.num_rows

    def _write_table(self, spec: Measurement, table: pa.Table, batch_id: str) -> None:
        write_atomic(table, self._folder(spec), batch_id)

    def _source_sql(self, spec: Measurement, params: dict, tag_filter: Mapping[str, str] | None = None) -> str:
        """SQL for the measurement's points in [$start, $stop): one row per tags + time, newest value per field."""
        empty = (
            "SELECT "
            + ", ".join(
                ["NULL::BIGINT AS time_ns"]
                + [f"NULL::VARCHAR AS {_quote(t)}" for t in spec.tags]
                + [f"NULL::{_SQL_TYPE[typ]} AS {_quote(f)}" for f, typ in spec.fields.items()]
                + [f"NULL::BIGINT AS {WRITTEN}"]
            )
            + " WHERE false"
        )
        files = self._files(spec)
        rows = empty
        if files:
            params[f"files_{spec.name}"] = files
            # The typed empty row set supplies columns that older files may lack.
            rows = (
                f"SELECT * FROM read_parquet(${'files_' + spec.name}, union_by_name = true) UNION ALL BY NAME {empty}"
            )
        where = ["time_ns >= $start", "time_ns < $stop"]
        for i, (tag, value) in enumerate((tag_filter or {}).items()):
            params[f"tag{i}"] = value
            where.append(f"{_quote(tag)} = $tag{i}")
        fields = ", ".join(f"arg_max({_quote(f)}, {WRITTEN}) AS {_quote(f)}" for f in spec.fields)
        keys = ", ".join(["time_ns", *map(_quote, spec.tags)])
        return f"SELECT {keys}, {fields} FROM ({rows}) WHERE {' AND '.join(where)} GROUP BY {keys}"

    @retry_vanished
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
        check_keys(spec, (tags or {}).keys(), ())
        params: dict = {"start": start_ns, "stop": stop_ns}
        sql = self._source_sql(spec, params, tags)
        order = ", ".join(["time_ns", *(f"{_quote(t)} NULLS LAST" for t in spec.tags)])
        sql = f"SELECT * FROM ({sql}) ORDER BY {order}"
        if limit is not None:
            params["limit"] = int(limit)
            sql += " LIMIT $limit"
        return as_frame(spec, self._parquet.sql(sql, params=params).to_arrow_table().to_pandas())

    def enforce_retention(self, now_ns: int) -> int:
        removed = 0
        for spec in MEASUREMENTS.values():
            cutoff = now_ns - BUCKET_RETENTION_S[spec.bucket] * 10**9
            for path in map(Path, self._files(spec)):
                removed += self._expire_file(path, cutoff)
        return removed

    @staticmethod
    def _expire_file(path: Path, cutoff_ns: int) -> int:
        """Remove the points of one file older than the cutoff; the number removed. (A batch rewritten by a
        replay while this runs could be overwritten by the filtered old copy; replays of month-old offsets do
        not happen, so the rewrite takes no lock.)"""
        try:
            times = pq.read_table(path, columns=["time_ns"])["time_ns"]
        except FileNotFoundError:  # replaced or removed by another process meanwhile
            return 0
        keep = pc.greater_equal(times, cutoff_ns)
        kept = pc.sum(keep).as_py() or 0
        if kept == len(times):
            return 0
        if kept == 0:
            path.unlink(missing_ok=True)
        else:
            write_atomic(pq.read_table(path).filter(keep), path.parent, path.stem)
        return len(times) - kept

    def compute_derived(self, metric: str, start_ns: int, stop_ns: int) -> pd.DataFrame:
        derived = DERIVED.get(metric)
        if derived is None:
            raise ValueError(f"unknown derived metric {metric!r} (known: {', '.join(DERIVED)})")
        covered = periods(derived.period, start_ns, stop_ns)
        if not covered:
            return self.query(DERIVED_METRICS, metric, start_ns, stop_ns)
        lo, hi = covered[0][0], covered[-1][1]
        table = self._run_derived(derived.name, lo, hi)
        if table.num_rows:
            self._write_table(MEASUREMENTS[metric], table, f"{metric}-{lo}-{hi}")
        return self.query(DERIVED_METRICS, metric, lo, hi)

    def deploy_tasks(self, names: Iterable[str] | None = None) -> list[str]:
        """Nothing to deploy: ``compute_derived`` runs the tasks' definitions as SQL."""
        return []

    @retry_vanished
    def _run_derived(self, metric: str, lo: int, hi: int) -> pa.Table:
        derived = DERIVED[metric]
        params: dict = {"start": lo, "stop": hi}
        sources = ", ".join(f"{name} AS ({self._source_sql(MEASUREMENTS[name], params)})" for name in derived.sources)
        result = self._parquet.sql(f"WITH {sources} SELECT * FROM ({derived.sql})", params=params).to_arrow_table()
        schema = arrow_schema(MEASUREMENTS[metric])
        result = result.append_column(WRITTEN, pa.repeat(pa.scalar(time.time_ns(), pa.int64()), result.num_rows))
        return result.select(schema.names).cast(schema)
