"""The archive port (ScyllaDB role): the events archive, cooldown state, score history, batch aggregates.

Tables and columns are those of `schemas/scylla.cql`. Times are epoch milliseconds (int) and days
'YYYY-MM-DD' strings on this interface, whatever each engine stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa

from ddss_platform.settings import Settings

DAY_MS = 86_400_000
EVENTS_TTL_MS = 5 * 365 * DAY_MS  # the table's default_time_to_live (157 680 000 s)
EVENT_STATUSES = ("scored", "no_rule", "unknown_citizen")

EVENTS_ARCHIVE = pa.schema(
    [
        ("event_id", pa.string()),
        ("citizen_id", pa.string()),
        ("event_time", pa.int64()),  # ms
        ("event_type", pa.string()),
        ("event_subtype", pa.string()),
        ("source_system", pa.string()),
        ("region", pa.string()),
        ("city", pa.string()),
        ("severity", pa.float64()),
        ("confidence", pa.float64()),
        ("payload", pa.string()),  # JSON
        ("score_impact", pa.float64()),
        ("status", pa.string()),  # one of EVENT_STATUSES
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
    ]
)

CREDIT_SCORE_AGGREGATES = "credit_score_aggregates_by_region_date"
EVENTS_SUMMARY = "events_summary_by_type_location_date"


@dataclass(frozen=True)
class AggregateTable:
    name: str
    key: tuple[str, ...]  # partition key; with aggregation_date it identifies a row
    schema: pa.Schema  # every column but aggregation_date


AGGREGATE_TABLES: Mapping[str, AggregateTable] = {
    t.name: t
    for t in (
        AggregateTable(
            CREDIT_SCORE_AGGREGATES,
            ("region",),
            pa.schema(
                [("region", pa.string()), ("citizens", pa.int64())]
                + [(c, pa.float64()) for c in ("avg_score", "median_score", "min_score", "max_score")]
                + [(f"tier_{t}_count", pa.int64()) for t in ("exemplary", "standard", "caution", "highrisk")]
                + [("improvements", pa.int64()), ("deteriorations", pa.int64()), ("last_updated", pa.int64())]
            ),
        ),
        AggregateTable(
            EVENTS_SUMMARY,
            ("event_type", "region"),
            pa.schema(
                [
                    ("event_type", pa.string()),
                    ("region", pa.string()),
                    ("event_count", pa.int64()),
                    ("total_score_impact", pa.float64()),
                    ("avg_score_impact", pa.float64()),
                    ("distinct_citizens", pa.int64()),
                    ("last_updated", pa.int64()),
                ]
            ),
        ),
    )
}


@dataclass(frozen=True)
class CooldownRow:
    """A rule's recent applications to one citizen, with the replay guard (last applied offset per
    "topic/partition")."""

    citizen_id: str
    rule_id: str
    applied_times: tuple[int, ...] = ()
    guard_offsets: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreHistoryRow:
    citizen_id: str
    changed_at: int  # ms
    event_id: str  # '' when no event caused it
    rule_id: str  # '' when no rule made it
    old_score: float
    new_score: float
    change: float
    reason: str
    tier: str


SCORE_HISTORY_COLUMNS = [f.name for f in fields(ScoreHistoryRow)]
SCORE_HISTORY = pa.schema(
    [
        ("citizen_id", pa.string()),
        ("changed_at", pa.int64()),
        ("event_id", pa.string()),
        ("rule_id", pa.string()),
        ("old_score", pa.float64()),
        ("new_score", pa.float64()),
        ("change", pa.float64()),
        ("reason", pa.string()),
        ("tier", pa.string()),
    ]
)


# A score change's identity within the history (the ScyllaDB table's primary key).
SCORE_HISTORY_KEY = ("citizen_id", "changed_at", "event_id", "rule_id")

# Columns every archived event must have (its key and lineage); the others may be null.
EVENTS_REQUIRED = ("event_id", "citizen_id", "event_time", "status", "topic", "partition", "offset")


def events_table(rows: pa.Table | Sequence[Mapping]) -> pa.Table:
    """Archive rows as a table in the EVENTS_ARCHIVE schema (columns in order, types cast; a key absent from a
    dict is null); ValueError naming a required column that is missing or null, or a bad status."""
    if isinstance(rows, pa.Table):
        absent = [n for n in EVENTS_ARCHIVE.names if n not in rows.column_names]
        if absent:
            raise ValueError(f"events_archive rows lack column(s) {absent}")
        table = rows.select(EVENTS_ARCHIVE.names).cast(EVENTS_ARCHIVE)
    else:
        table = pa.Table.from_pylist(list(rows), schema=EVENTS_ARCHIVE)
    empty = [n for n in EVENTS_REQUIRED if table[n].null_count]
    if empty:
        raise ValueError(f"events_archive rows lack a value for {empty}")
    bad = set(table["status"].unique().to_pylist()) - set(EVENT_STATUSES)
    if bad:
        raise ValueError(f"events_archive status must be one of {EVENT_STATUSES}, got {sorted(map(str, bad))}")
    return table


def aggregate_spec(table_name: str) -> AggregateTable:
    spec = AGGREGATE_TABLES.get(table_name)
    if spec is None:
        raise ValueError(f"unknown aggregate table {table_name!r} (known: {', '.join(AGGREGATE_TABLES)})")
    return spec


def aggregate_filters(
    table_name: str, region: str | None, event_type: str | None
) -> tuple[AggregateTable, dict[str, str]]:
    """The table's spec and the equality filters a read asked for; ValueError for a column the table lacks."""
    spec = aggregate_spec(table_name)
    filters = {k: v for k, v in (("region", region), ("event_type", event_type)) if v is not None}
    unknown = [k for k in filters if k not in spec.schema.names]
    if unknown:
        raise ValueError(f"{table_name} has no column {unknown[0]!r} to filter on")
    return spec, filters


def aggregate_table(table_name: str, df: pd.DataFrame | pa.Table) -> tuple[AggregateTable, pa.Table]:
    """One day's aggregate rows in the table's schema; ValueError naming a missing column."""
    spec = aggregate_spec(table_name)
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    missing = [n for n in spec.schema.names if n not in table.column_names]
    if missing:
        raise ValueError(f"{table_name}: missing column(s) {missing}")
    return spec, table.select(spec.schema.names).cast(spec.schema)


def aggregates_frame(spec: AggregateTable, table: pa.Table | None = None) -> pd.DataFrame:
    """What read_aggregates returns: aggregation_date ('YYYY-MM-DD') then the table's columns, typed."""
    schema = pa.schema([("aggregation_date", pa.string()), *spec.schema])
    return (schema.empty_table() if table is None else table.select(schema.names).cast(schema)).to_pandas()


def score_changes(rows: Iterable[ScoreHistoryRow | Mapping]) -> list[ScoreHistoryRow]:
    return [r if isinstance(r, ScoreHistoryRow) else ScoreHistoryRow(**r) for r in rows]


def history_table(rows: pa.Table | Iterable[ScoreHistoryRow | Mapping]) -> pa.Table:
    """Score changes as a table in the SCORE_HISTORY schema, from a table with those columns or from objects (a
    scoring run hands over a table); ValueError naming a missing column, or a key column without a value."""
    if isinstance(rows, pa.Table):
        missing = [c for c in SCORE_HISTORY_COLUMNS if c not in rows.column_names]
        if missing:
            raise ValueError(f"citizen_score_history rows lack column(s) {missing}")
        table = rows.select(SCORE_HISTORY_COLUMNS).cast(SCORE_HISTORY)
    else:
        changes = score_changes(rows)
        table = pa.table(
            {c: [getattr(change, c) for change in changes] for c in SCORE_HISTORY_COLUMNS}, schema=SCORE_HISTORY
        )
    empty = [c for c in SCORE_HISTORY_KEY if table[c].null_count]
    if empty:
        raise ValueError(f"citizen_score_history rows lack a value for {empty}")
    return table


def score_change_rows(rows: pa.Table | Iterable[ScoreHistoryRow | Mapping]) -> list[tuple]:
    """Score changes as tuples in SCORE_HISTORY_COLUMNS order (see history_table)."""
    table = history_table(rows)
    return list(zip(*(table[c].to_pylist() for c in SCORE_HISTORY_COLUMNS)))


def guarded_updates(stored: Mapping[tuple[str, str], CooldownRow], rows: Iterable[CooldownRow]) -> list[CooldownRow]:
    """The rows to write: a row is skipped when, for one of its topic/partitions, the stored guard offset is not
    older than the row's (a replay of an applied event). Written rows carry the union of both guards."""
    out: dict[tuple[str, str], CooldownRow] = {}
    for row in rows:
        key = (row.citizen_id, row.rule_id)
        current = out.get(key) or stored.get(key)
        old_guard = current.guard_offsets if current else {}
        if any(old_guard.get(tp, -1) >= offset for tp, offset in row.guard_offsets.items()):
            continue
        out[key] = CooldownRow(
            row.citizen_id, row.rule_id, tuple(row.applied_times), {**old_guard, **row.guard_offsets}
        )
    return list(out.values())


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()


def day_start_ms(day: str | date) -> int:
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


class Archive(Protocol):
    def ensure_schema(self) -> list[str]:
        """Create what is missing (keyspace, tables, folders); the actions taken, [] when none."""

    def write_events(self, rows: pa.Table | Sequence[Mapping], batch_id: str) -> int:
        """Archive rows (EVENTS_ARCHIVE columns); idempotent by event id. Returns the rows written."""

    def read_events(
        self,
        day: str | None = None,
        citizen_id: str | None = None,
        event_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Rows matching every given filter (start_ms <= event_time < end_ms), newest first, one per event id.
        A bulk read (a scan on both engines); per-citizen and per-event lookups have their own methods."""

    def recent_events(self, citizen_id: str, limit: int) -> list[dict]:
        """The citizen's newest `limit` archived events (EVENTS_ARCHIVE columns, event_time DESC then event_id):
        one keyed read, for request paths."""

    def read_event(self, event_id: str) -> dict | None:
        """One archived event (EVENTS_ARCHIVE columns) by id: one keyed read; None when absent."""

    def archive_path(self) -> Path | None:
        """The Parquet dataset root (hive-partitioned by event_date) for Spark/DuckDB; None in production."""

    def history_path(self) -> Path | None:
        """The score history's Parquet dataset root (hive-partitioned by changed_date) for Spark; None in
        production."""

    def count_by_day(self, start_day: str | None = None, end_day: str | None = None) -> dict[str, int]:
        """Distinct archived events per 'YYYY-MM-DD' (inclusive bounds)."""

    def load_cooldowns(self, citizen_ids: Iterable[str]) -> dict[tuple[str, str], CooldownRow]: ...

    def save_cooldowns(self, rows: Iterable[CooldownRow]) -> int:
        """Upsert cooldown rows through the offset guard (see guarded_updates); the number written."""

    def write_score_history(self, rows: pa.Table | Iterable[ScoreHistoryRow | Mapping], batch_id: str) -> int:
        """Append score changes (objects, mappings, or a table of SCORE_HISTORY_COLUMNS); idempotent by
        SCORE_HISTORY_KEY (a replayed batch, or a change written in two batches, reads as one row). Returns the
        rows written."""

    def read_score_history(self, citizen_id: str, limit: int = 100) -> pd.DataFrame:
        """The citizen's score changes, newest first (SCORE_HISTORY_COLUMNS)."""

    def recent_score_history(self, citizen_id: str, limit: int = 100) -> list[dict]:
        """What read_score_history returns, as dicts (SCORE_HISTORY_COLUMNS) without building a DataFrame."""

    def write_aggregates(self, table_name: str, df: pd.DataFrame | pa.Table, day: str) -> int:
        """Replace the rows of `day` in an aggregate table (AGGREGATE_TABLES) with `df`."""

    def read_aggregates(
        self,
        table_name: str,
        region: str | None = None,
        event_type: str | None = None,
        start_day: str | None = None,
        end_day: str | None = None,
    ) -> pd.DataFrame:
        """Rows with aggregation_date ('YYYY-MM-DD') first, then the table's columns, by date then key."""

    def enforce_ttl(self, now_ms: int) -> int:
        """Remove archived events older than EVENTS_TTL_MS (embedded, files and lookup index); the number removed
        (0 on the server)."""

    def close(self) -> None: ...


def open_archive(settings: Settings) -> Archive:
    if settings.archive.embedded:
        from ddss_platform.stores.archive.embedded import EmbeddedArchive

        return EmbeddedArchive(settings.home / "archive")
    from ddss_platform.stores.archive.scylla import ScyllaArchive

    return ScyllaArchive.from_url(settings.archive, settings.connect_timeout_s)
