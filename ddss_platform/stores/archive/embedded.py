"""Embedded archive: Parquet datasets (Spark and DuckDB read them natively) and SQLite for the mutable state.

    DDSS_HOME/archive/events_archive/event_date=YYYY-MM-DD/<batch_id>.parquet
    DDSS_HOME/archive/citizen_score_history/changed_date=YYYY-MM-DD/<batch_id>.parquet
    DDSS_HOME/archive/aggregates/<table>/aggregation_date=YYYY-MM-DD/part.parquet
    DDSS_HOME/archive/archive_state.sqlite    rule_application_state
    DDSS_HOME/archive/events_index.sqlite     events_by_citizen: the archived events again, keyed for lookups
    DDSS_HOME/archive/history_index.sqlite    history_by_citizen: the score history again, keyed for lookups

Files are put in place by atomic rename and named by batch id, so a replayed batch replaces its own files;
readers also keep one row per key (event id; citizen, time, event and rule of a score change), in case two
batches overlap.

`recent_events`, `read_event` and `recent_score_history` go to SQLite side indexes that the readers catch up from
the Parquet files (see lookup_index.py: they may lag another process's writes by up to CHECK_INTERVAL_S);
`write_events` and `write_score_history` only write Parquet. Each index has its own file, so its writer lock never
waits on the cooldown writes.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ddss_platform.stores.archive import (
    AGGREGATE_TABLES,
    DAY_MS,
    EVENTS_ARCHIVE,
    EVENTS_TTL_MS,
    SCORE_HISTORY,
    SCORE_HISTORY_COLUMNS,
    SCORE_HISTORY_KEY,
    CooldownRow,
    ScoreHistoryRow,
    aggregate_filters,
    aggregate_table,
    aggregates_frame,
    day_of,
    day_start_ms,
    events_table,
    history_table,
)
from ddss_platform.stores.archive.lookup_index import IndexedDataset, LookupIndex
from ddss_platform.stores.parquet_files import ParquetReader, retry_vanished, write_atomic
from ddss_platform.stores.sqlite import connect, transaction

_STATE_TABLES = {
    "rule_application_state": """
        CREATE TABLE IF NOT EXISTS rule_application_state (
            citizen_id TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            applied_times TEXT NOT NULL,   -- JSON list of ms
            guard_offsets TEXT NOT NULL,   -- JSON object "topic/partition" -> offset
            PRIMARY KEY (citizen_id, rule_id)
        ) WITHOUT ROWID""",
}

# guarded_updates in SQL (a scoring run saves thousands of states a chunk; reading them back first cost more than
# the writes): a row is skipped when the stored guard of one of its topic/partitions is not older than the row's;
# a written row's guard is the union of both
_GUARDED_COOLDOWN_UPSERT = """
INSERT INTO rule_application_state (citizen_id, rule_id, applied_times, guard_offsets) VALUES (?, ?, ?, ?)
ON CONFLICT (citizen_id, rule_id) DO UPDATE SET
    applied_times = excluded.applied_times,
    guard_offsets = json_patch(guard_offsets, excluded.guard_offsets)
WHERE NOT EXISTS (
    SELECT 1 FROM json_each(excluded.guard_offsets) AS row_guard
    WHERE coalesce(json_extract(rule_application_state.guard_offsets, '$."' || row_guard.key || '"'), -1)
        >= row_guard.value
)"""

EVENTS_INDEXED = IndexedDataset(
    "events_by_citizen",
    EVENTS_ARCHIVE,
    "event_date",
    "event_time",
    key=("event_id",),
    order=("event_time", "event_id"),
    # an index built before files were tracked (by the writers) cannot say which rows came from which file
    legacy_ddl=("DROP TABLE IF EXISTS events_by_citizen",),
)
# Score history used to be a SQLite table that every scoring run wrote a row at a time, keyed: its random inserts
# cost more than any other sink. As Parquet it costs a fifth of that.
HISTORY_INDEXED = IndexedDataset(
    "history_by_citizen",
    SCORE_HISTORY,
    "changed_date",
    "changed_at",
    key=SCORE_HISTORY_KEY,
    order=("changed_at", "event_id", "rule_id"),
)
_MIGRATED_HISTORY_BATCH = "migrated-from-sqlite"


def _partition_value(folder: Path) -> str:
    return folder.name.partition("=")[2]


def _in_range(day: str, start_day: str | None, end_day: str | None) -> bool:
    return (start_day is None or day >= start_day) and (end_day is None or day <= end_day)


class EmbeddedArchive:
    def __init__(self, root: Path):
        self.root = root
        self._events = root / "events_archive"
        self._history = root / "citizen_score_history"
        self._aggregates = root / "aggregates"
        self._parquet = ParquetReader()
        self._conn: sqlite3.Connection | None = None
        self._events_index = LookupIndex(root / "events_index.sqlite", self._events, EVENTS_INDEXED)
        self._history_index = LookupIndex(root / "history_index.sqlite", self._history, HISTORY_INDEXED)

    def close(self) -> None:
        self._parquet.close()
        self._events_index.close()
        self._history_index.close()
        if self._conn is not None:
            self._conn.close()

    def _state(self) -> sqlite3.Connection:
        if self._conn is None:
            self._ensure_state()  # not the lookup indexes: scoring runs leave their catching up to readers
        return self._conn

    def _ready(self, index: LookupIndex) -> LookupIndex:
        if not index.ready:
            self.ensure_schema()
        return index

    def ensure_schema(self) -> list[str]:
        return self._ensure_state() + self._events_index.ensure() + self._history_index.ensure()

    def _ensure_state(self) -> list[str]:
        actions = []
        for folder in [self._events, self._history, *(self._aggregates / name for name in AGGREGATE_TABLES)]:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)  # another process may be doing the same
                actions.append(f"created {folder.relative_to(self.root)}/")
        conn = self._conn or connect(self.root / "archive_state.sqlite")
        existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for name, ddl in _STATE_TABLES.items():
            if name not in existing:
                conn.execute(ddl)
                actions.append(f"created table {name} in archive_state.sqlite")
        if "citizen_score_history" in existing:
            actions += self._history_to_parquet(conn)
        self._conn = conn
        return actions

    def _history_to_parquet(self, conn: sqlite3.Connection) -> list[str]:
        """A data dir made before the score history moved to Parquet has it in archive_state.sqlite: written out
        once (checked again under the write lock: of two processes starting at once only one moves it)."""
        with transaction(conn):
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'citizen_score_history'").fetchone():
                return []
            rows = conn.execute(f"SELECT {', '.join(SCORE_HISTORY_COLUMNS)} FROM citizen_score_history").fetchall()
            # written before the table goes: were the process killed in between, the next start writes them again
            self._write_by_day(
                history_table(dict(zip(SCORE_HISTORY_COLUMNS, row)) for row in rows),
                HISTORY_INDEXED,
                self._history,
                _MIGRATED_HISTORY_BATCH,
            )
            conn.execute("DROP TABLE citizen_score_history")
        return [f"moved {len(rows)} score change(s) from archive_state.sqlite to {self._history.name}/"]

    @staticmethod
    def _write_by_day(table: pa.Table, dataset: IndexedDataset, folder: Path, batch_id: str) -> None:
        """The rows into ``folder``'s day folders, as the dataset's lookup index lists them."""
        days = pc.divide(table[dataset.time_column], DAY_MS)  # whole days since the epoch (integer division)
        for day in pc.unique(days).to_pylist():
            write_atomic(
                table.filter(pc.equal(days, day)), folder / f"{dataset.day_column}={day_of(day * DAY_MS)}", batch_id
            )

    # --- events archive -------------------------------------------------------------------------------------

    def archive_path(self) -> Path:
        return self._events

    def history_path(self) -> Path:
        return self._history

    def write_events(self, rows: pa.Table | Sequence[Mapping], batch_id: str) -> int:
        table = events_table(rows)
        self._write_by_day(table, EVENTS_INDEXED, self._events, batch_id)
        self._events_index.invalidate()
        return table.num_rows

    def recent_events(self, citizen_id: str, limit: int) -> list[dict]:
        return self._ready(self._events_index).newest(citizen_id, limit)

    def read_event(self, event_id: str) -> dict | None:
        rows = self._ready(self._events_index).find("event_id", event_id)
        return rows[0] if rows else None

    def _event_files(self, start_day: str | None = None, end_day: str | None = None) -> list[str]:
        if not self._events.is_dir():
            return []
        folders = [f for f in self._events.glob("event_date=*") if _in_range(_partition_value(f), start_day, end_day)]
        return sorted(str(p) for folder in folders for p in folder.glob("*.parquet"))

    @retry_vanished
    def read_events(
        self,
        day: str | None = None,
        citizen_id: str | None = None,
        event_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        first = day or (day_of(start_ms) if start_ms is not None else None)
        last = day or (day_of(end_ms - 1) if end_ms is not None else None)
        files = self._event_files(first, last)
        if not files:
            return EVENTS_ARCHIVE.empty_table().to_pandas()
        params: dict = {"files": files}
        where = []
        for column, value in (("citizen_id", citizen_id), ("event_id", event_id)):
            if value is not None:
                params[column] = value
                where.append(f"{column} = ${column}")
        if start_ms is not None:
            params["start_ms"] = int(start_ms)
            where.append("event_time >= $start_ms")
        if end_ms is not None:
            params["end_ms"] = int(end_ms)
            where.append("event_time < $end_ms")
        sql = (
            "SELECT * EXCLUDE (event_date, filename)"
            " FROM read_parquet($files, hive_partitioning = true, union_by_name = true, filename = true)"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY filename DESC) = 1"
            " ORDER BY event_time DESC, event_id"
        )
        if limit is not None:
            params["limit"] = int(limit)
            sql += " LIMIT $limit"
        table = self._parquet.sql(sql, params=params).to_arrow_table()
        return table.select(EVENTS_ARCHIVE.names).cast(EVENTS_ARCHIVE).to_pandas()

    @retry_vanished
    def count_by_day(self, start_day: str | None = None, end_day: str | None = None) -> dict[str, int]:
        files = self._event_files(start_day, end_day)
        if not files:
            return {}
        rows = self._parquet.sql(
            "SELECT CAST(event_date AS VARCHAR), count(DISTINCT event_id)"
            " FROM read_parquet($files, hive_partitioning = true, union_by_name = true)"
            " GROUP BY ALL ORDER BY 1",
            params={"files": files},
        ).fetchall()
        return dict(rows)

    def enforce_ttl(self, now_ms: int) -> int:
        """An event lives while event_time > now - TTL (the server counts from the write instead)."""
        cutoff = now_ms - EVENTS_TTL_MS
        self._events_index.invalidate()  # the lookups drop the removed rows when they next catch up
        removed = 0
        folders = self._events.glob("event_date=*") if self._events.is_dir() else []
        for folder in folders:
            start = day_start_ms(_partition_value(folder))
            if start > cutoff:
                continue
            if start + DAY_MS - 1 <= cutoff:
                removed += sum(pq.ParquetFile(p).metadata.num_rows for p in folder.glob("*.parquet"))
                shutil.rmtree(folder, ignore_errors=True)
                continue
            for path in folder.glob("*.parquet"):
                table = pq.read_table(path)
                keep = pc.greater(table["event_time"], cutoff)
                kept = table.filter(keep)
                removed += table.num_rows - kept.num_rows
                if kept.num_rows == 0:
                    path.unlink(missing_ok=True)
                elif kept.num_rows < table.num_rows:
                    write_atomic(kept, folder, path.stem)
        return removed

    # --- cooldown state and score history (SQLite) ----------------------------------------------------------

    def _load_cooldowns(self, conn: sqlite3.Connection, citizen_ids: Iterable[str]) -> dict:
        rows = conn.execute(
            "SELECT citizen_id, rule_id, applied_times, guard_offsets FROM rule_application_state"
            " WHERE citizen_id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(sorted(set(citizen_ids))).decode(),),
        )
        # orjson: a run reads each touched state twice and writes it once, several times faster than json
        return {
            (cid, rid): CooldownRow(cid, rid, tuple(orjson.loads(times)), orjson.loads(guards))
            for cid, rid, times, guards in rows
        }

    def load_cooldowns(self, citizen_ids: Iterable[str]) -> dict[tuple[str, str], CooldownRow]:
        return self._load_cooldowns(self._state(), citizen_ids)

    def save_cooldowns(self, rows: Iterable[CooldownRow]) -> int:
        with transaction(self._state()) as conn:
            before = conn.total_changes
            conn.executemany(
                _GUARDED_COOLDOWN_UPSERT,
                [
                    (
                        r.citizen_id,
                        r.rule_id,
                        orjson.dumps(list(r.applied_times)).decode(),
                        orjson.dumps(dict(r.guard_offsets)).decode(),
                    )
                    for r in rows
                ],
            )
            return conn.total_changes - before

    def write_score_history(self, rows: pa.Table | Iterable[ScoreHistoryRow | Mapping], batch_id: str) -> int:
        table = history_table(rows)
        self._write_by_day(table, HISTORY_INDEXED, self._history, batch_id)
        self._history_index.invalidate()
        return table.num_rows

    def recent_score_history(self, citizen_id: str, limit: int = 100) -> list[dict]:
        return self._ready(self._history_index).newest(citizen_id, limit)

    def read_score_history(self, citizen_id: str, limit: int = 100) -> pd.DataFrame:
        return pd.DataFrame(self.recent_score_history(citizen_id, limit), columns=SCORE_HISTORY_COLUMNS)

    # --- aggregates -----------------------------------------------------------------------------------------

    def write_aggregates(self, table_name: str, df: pd.DataFrame | pa.Table, day: str) -> int:
        _spec, table = aggregate_table(table_name, df)
        write_atomic(table, self._aggregates / table_name / f"aggregation_date={day}", "part")
        return table.num_rows

    @retry_vanished
    def read_aggregates(
        self,
        table_name: str,
        region: str | None = None,
        event_type: str | None = None,
        start_day: str | None = None,
        end_day: str | None = None,
    ) -> pd.DataFrame:
        spec, filters = aggregate_filters(table_name, region, event_type)
        folder = self._aggregates / table_name
        files = sorted(
            str(f / "part.parquet")
            for f in (folder.glob("aggregation_date=*") if folder.is_dir() else [])
            if _in_range(_partition_value(f), start_day, end_day) and (f / "part.parquet").is_file()
        )
        if not files:
            return aggregates_frame(spec)
        where = " AND ".join(f"{k} = ${k}" for k in filters)
        order = ", ".join(["aggregation_date", *spec.key])
        table = self._parquet.sql(
            "SELECT CAST(aggregation_date AS VARCHAR) AS aggregation_date, * EXCLUDE (aggregation_date)"
            " FROM read_parquet($files, hive_partitioning = true, union_by_name = true)"
            + (f" WHERE {where}" if where else "")
            + f" ORDER BY {order}",
            params={"files": files, **filters},
        ).to_arrow_table()
        return aggregates_frame(spec, table)
