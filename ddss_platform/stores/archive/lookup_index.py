"""SQLite side indexes over the embedded archive's Parquet datasets, for request-path lookups: a citizen's newest
events or score changes, one event by id.

DuckDB over the Parquet files costs milliseconds a query however few rows it returns, so these keyed reads go to
a table in a SQLite file beside the dataset (``events_by_citizen`` in events_index.sqlite, ``history_by_citizen``
in history_index.sqlite), keyed like the ScyllaDB table. Writers never touch it (an index insert per written row
would cut the scoring runs' throughput several times); readers catch it up from the Parquet files instead:
``indexed_files`` remembers each indexed file by relative path, mtime and size, and a file that is new, rewritten
(a replayed batch, a TTL sweep) or gone has its rows inserted, replaced or deleted, all in one transaction.

Reads may lag writes: a reader lists the dataset's day folders at most once per CHECK_INTERVAL_S, so rows written
by another process can take that long to appear (or, after a TTL sweep, to disappear). The adapter's own writes
invalidate its throttle, so it reads what it has just written.

A row whose key is found in two files keeps the row of the greater relative path, as the Parquet readers do
(they order by filename).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ddss_platform.stores.sqlite import connect, transaction

CHECK_INTERVAL_S = 0.5

_SQLITE_TYPES = {pa.string(): "TEXT", pa.int64(): "INTEGER", pa.int32(): "INTEGER", pa.float64(): "REAL"}


@dataclass(frozen=True)
class IndexedDataset:
    """A Parquet dataset (``<day_column>=YYYY-MM-DD/<batch>.parquet`` folders of rows with a ``citizen_id``) and
    how its index is keyed."""

    table: str  # the index's rows
    schema: pa.Schema  # the files' columns (a column a file lacks is null)
    day_column: str  # the day folders' partition column
    time_column: str  # the epoch-ms column whose day a row is filed under
    key: tuple[str, ...]  # a row's identity
    order: tuple[str, ...]  # a citizen's rows: newest first by the first column, ties by the others
    legacy_ddl: tuple[str, ...] = ()  # run before the tables are created

    @property
    def columns(self) -> str:
        return ", ".join(f'"{f.name}"' for f in self.schema)  # quoted: "offset" is an SQL keyword

    @property
    def newest_first(self) -> str:
        return ", ".join([f"{self.order[0]} DESC", *self.order[1:]])

    def ddl(self) -> list[str]:
        statements = [
            *self.legacy_ddl,
            "CREATE TABLE indexed_files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
            " mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL)",
            # a rowid table: rows append; only the narrow indexes take random inserts
            f"CREATE TABLE {self.table} ("
            + ", ".join(f'"{f.name}" {_SQLITE_TYPES[f.type]}' for f in self.schema)
            + ", file_id INTEGER NOT NULL)",
            f"CREATE UNIQUE INDEX {self.table}_key ON {self.table} ({', '.join(self.key)})",
            f"CREATE INDEX {self.table}_file ON {self.table} (file_id)",
        ]
        newest = ("citizen_id", *self.order)
        if newest != self.key:  # else the key's index serves a citizen's newest rows
            statements.append(f"CREATE INDEX {self.table}_newest ON {self.table} ({', '.join(newest)})")
        return statements

    def upsert(self) -> str:
        """On a duplicate key the row of the greater path wins, whichever file is indexed first."""
        names = [*self.schema.names, "file_id"]
        return (
            f"INSERT INTO {self.table} ({self.columns}, file_id) VALUES ({', '.join('?' * len(names))})"
            f" ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET "
            + ", ".join(f'"{n}" = excluded."{n}"' for n in names)
            + " WHERE (SELECT path FROM indexed_files WHERE id = excluded.file_id)"
            f" >= (SELECT path FROM indexed_files WHERE id = {self.table}.file_id)"
        )


Listing = dict[str, tuple[int, int]]  # relative path -> (mtime_ns, size)


def list_dataset(folder: Path, day_column: str) -> Listing:
    """Every Parquet file under ``folder``'s day folders. Files and folders can vanish meanwhile (TTL
    enforcement): they are left out."""
    files: Listing = {}
    try:
        days = [d for d in os.scandir(folder) if d.name.startswith(f"{day_column}=") and d.is_dir()]
    except FileNotFoundError:
        return files
    for day in days:
        try:
            with os.scandir(day.path) as entries:
                for entry in entries:
                    if entry.name.endswith(".parquet") and not entry.name.startswith("."):  # not a temp file
                        stat = entry.stat()
                        files[f"{day.name}/{entry.name}"] = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            continue
    return files


def dict_rows(cursor: sqlite3.Cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


class LookupIndex:
    def __init__(self, path: Path, folder: Path, dataset: IndexedDataset):
        self._path = path
        self._folder = folder
        self._dataset = dataset
        self._conn: sqlite3.Connection | None = None
        self._seen: Listing | None = None  # the listing the index last matched
        self._next_check = 0.0  # time.monotonic() before which reads do not list the folders again

    @property
    def ready(self) -> bool:
        return self._conn is not None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def invalidate(self) -> None:
        """This process changed the dataset's files: the next read lists them again."""
        self._next_check = 0.0

    def ensure(self) -> list[str]:
        """Create the tables (checked again under the write lock: of two processes starting at once only one
        creates them) and index the files already written."""
        actions = []
        conn = self._conn = self._conn or connect(self._path)
        exists = "SELECT 1 FROM sqlite_master WHERE name = 'indexed_files'"
        if not conn.execute(exists).fetchone():
            with transaction(conn):
                if not conn.execute(exists).fetchone():
                    for ddl in self._dataset.ddl():
                        conn.execute(ddl)
                    actions.append(f"created table {self._dataset.table} in {self._path.name}")
        files, rows = self.catch_up(force=True)
        if files:
            actions.append(f"{rows} row(s) of {self._dataset.table} indexed from {files} file(s)")
        return actions

    def catch_up(self, force: bool = False) -> tuple[int, int]:
        """Bring the index in line with the Parquet files; (files, rows) indexed. Unless forced, at most once per
        CHECK_INTERVAL_S, and only a folder listing when the files have not changed since the last call."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return 0, 0
        self._next_check = now + CHECK_INTERVAL_S
        listing = list_dataset(self._folder, self._dataset.day_column)
        if listing == self._seen:
            return 0, 0
        indexed = 0, 0
        if self._indexed() != listing:  # else another process caught up already: no write lock needed
            with transaction(self._conn):
                indexed = self._apply(listing)
        self._seen = listing
        return indexed

    def _indexed(self) -> Listing:
        return {
            path: (mtime, size)
            for path, mtime, size in self._conn.execute("SELECT path, mtime_ns, size FROM indexed_files")
        }

    def _file_rows(self, path: Path) -> pa.Table:
        """The file's rows in the dataset's schema, sorted by citizen so consecutive inserts land on the same
        index pages."""
        schema = self._dataset.schema
        table = pq.ParquetFile(path).read()
        table = pa.table(
            {
                f.name: table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
                for f in schema
            },
            schema=schema,
        )
        return table.sort_by("citizen_id")

    def _apply(self, listing: Listing) -> tuple[int, int]:
        conn, table_name = self._conn, self._dataset.table
        known = {
            path: (id_, (mtime, size))
            for id_, path, mtime, size in conn.execute(
                "SELECT id, path, mtime_ns, size FROM indexed_files"  # read again under the lock
            )
        }
        stale = [(id_,) for path, (id_, stat) in known.items() if listing.get(path) != stat]
        conn.executemany(f"DELETE FROM {table_name} WHERE file_id = ?", stale)
        conn.executemany("DELETE FROM indexed_files WHERE id = ?", stale)
        upsert = self._dataset.upsert()
        files = rows = 0
        for path, (mtime, size) in sorted(listing.items()):
            if known.get(path, (None, None))[1] == (mtime, size):
                continue
            try:
                table = self._file_rows(self._folder / path)
            except FileNotFoundError:
                continue  # removed since the listing; the next catch-up sees it gone
            # the stat is the listing's: were the file rewritten since, the next catch-up indexes it again
            (file_id,) = conn.execute(
                "INSERT INTO indexed_files (path, mtime_ns, size) VALUES (?, ?, ?) RETURNING id", (path, mtime, size)
            ).fetchone()
            columns = [table[name].to_pylist() for name in self._dataset.schema.names]
            conn.executemany(upsert, zip(*columns, itertools.repeat(file_id)))
            files, rows = files + 1, rows + table.num_rows
        return files, rows

    def newest(self, citizen_id: str, limit: int) -> list[dict]:
        """The citizen's rows, newest first."""
        self.catch_up()
        return dict_rows(
            self._conn.execute(
                f"SELECT {self._dataset.columns} FROM {self._dataset.table} WHERE citizen_id = ?"
                f" ORDER BY {self._dataset.newest_first} LIMIT ?",
                (citizen_id, int(limit)),
            )
        )

    def find(self, column: str, value) -> list[dict]:
        """The rows whose ``column`` (one the key starts with) is ``value``."""
        self.catch_up()
        return dict_rows(
            self._conn.execute(
                f'SELECT {self._dataset.columns} FROM {self._dataset.table} WHERE "{column}" = ?', (value,)
            )
        )
