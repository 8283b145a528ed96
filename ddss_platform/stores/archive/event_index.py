"""The embedded archive's SQLite side index for request-path lookups (a citizen's newest events, one event by id).

DuckDB over the Parquet files costs milliseconds a query however few rows it returns, so these keyed reads go to
`events_by_citizen` in DDSS_HOME/archive/events_index.sqlite, keyed like the ScyllaDB table. Writers never touch
it (an index insert per archived row would cut the scoring runs' archive throughput twentyfold); readers catch
it up from the Parquet files instead: `indexed_files` remembers each indexed file by relative path, mtime and
size, and a file that is new, rewritten (a replayed batch, a TTL sweep) or gone has its rows inserted, replaced
or deleted, all in one transaction.

Reads may lag writes: a reader lists the archive folders at most once per CHECK_INTERVAL_S, so rows written by
another process can take that long to appear (or, after a TTL sweep, to disappear). The adapter's own writes
invalidate its throttle, so it reads what it has just written.

An event id found in two files keeps the row of the greater relative path, as the Parquet readers do (they
order by filename).
"""
from __future__ import annotations

import itertools
import os
import sqlite3
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ddss_platform.stores.archive import EVENTS_ARCHIVE
from ddss_platform.stores.sqlite import connect, transaction

CHECK_INTERVAL_S = 0.5

_SQLITE_TYPES = {pa.string(): "TEXT", pa.int64(): "INTEGER", pa.int32(): "INTEGER", pa.float64(): "REAL"}
_COLUMNS = ", ".join(f'"{f.name}"' for f in EVENTS_ARCHIVE)  # quoted: "offset" is an SQL keyword
_DDL = (
    # an index built before files were tracked (by the writers) cannot say which rows came from which file
    "DROP TABLE IF EXISTS events_by_citizen",
    "CREATE TABLE indexed_files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
    " mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL)",
    # a rowid table: rows append; only the narrow indexes take random inserts
    "CREATE TABLE events_by_citizen ("
    + ", ".join(f'"{f.name}" {_SQLITE_TYPES[f.type]}' for f in EVENTS_ARCHIVE)
    + ", file_id INTEGER NOT NULL)",
    "CREATE INDEX events_by_citizen_time ON events_by_citizen (citizen_id, event_time, event_id)",
    "CREATE UNIQUE INDEX events_by_citizen_event_id ON events_by_citizen (event_id)",
    "CREATE INDEX events_by_citizen_file ON events_by_citizen (file_id)",
)
# on a duplicate event id the row of the greater path wins, whichever file is indexed first
_UPSERT = (
    f"INSERT INTO events_by_citizen ({_COLUMNS}, file_id) VALUES ({', '.join('?' * (len(EVENTS_ARCHIVE) + 1))})"
    " ON CONFLICT (event_id) DO UPDATE SET "
    + ", ".join(f'"{n}" = excluded."{n}"' for n in [*EVENTS_ARCHIVE.names, "file_id"])
    + " WHERE (SELECT path FROM indexed_files WHERE id = excluded.file_id)"
    " >= (SELECT path FROM indexed_files WHERE id = events_by_citizen.file_id)"
)

Listing = dict[str, tuple[int, int]]  # relative path -> (mtime_ns, size)


def list_archive(folder: Path) -> Listing:
    """Every archived Parquet file under ``folder``'s date folders. Files and folders can vanish meanwhile
    (TTL enforcement): they are left out."""
    files: Listing = {}
    try:
        days = [d for d in os.scandir(folder) if d.name.startswith("event_date=") and d.is_dir()]
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


def _file_rows(path: Path) -> pa.Table:
    """The file's rows in the EVENTS_ARCHIVE schema, sorted in index order so consecutive inserts land on the
    same index pages."""
    table = pq.ParquetFile(path).read()
    table = pa.table(
        {
            f.name: table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in EVENTS_ARCHIVE
        },
        schema=EVENTS_ARCHIVE,
    )
    return table.sort_by([("citizen_id", "ascending"), ("event_time", "ascending")])


def dict_rows(cursor: sqlite3.Cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


class EventIndex:
    def __init__(self, path: Path, events: Path):
        self._path = path
        self._events = events
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
        """This process changed the archive files: the next read lists them again."""
        self._next_check = 0.0

    def ensure(self) -> list[str]:
        """Create the tables (checked again under the write lock: of two processes starting at once only one
        creates them) and index the files already archived."""
        actions = []
        conn = self._conn = self._conn or connect(self._path)
        exists = "SELECT 1 FROM sqlite_master WHERE name = 'indexed_files'"
        if not conn.execute(exists).fetchone():
            with transaction(conn):
                if not conn.execute(exists).fetchone():
                    for ddl in _DDL:
                        conn.execute(ddl)
                    actions.append(f"created table events_by_citizen in {self._path.name}")
        files, rows = self.catch_up(force=True)
        if files:
            actions.append(f"{rows} archived event(s) indexed from {files} file(s)")
        return actions

    def catch_up(self, force: bool = False) -> tuple[int, int]:
        """Bring the index in line with the Parquet files; (files, rows) indexed. Unless forced, at most once per
        CHECK_INTERVAL_S, and only a folder listing when the files have not changed since the last call."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return 0, 0
        self._next_check = now + CHECK_INTERVAL_S
        listing = list_archive(self._events)
        if listing == self._seen:
            return 0, 0
        indexed = 0, 0
        if self._indexed() != listing:  # else another process caught up already: no write lock needed
            with transaction(self._conn):
                indexed = self._apply(listing)
        self._seen = listing
        return indexed

    def _indexed(self) -> Listing:
        return {path: (mtime, size) for path, mtime, size in self._conn.execute(
            "SELECT path, mtime_ns, size FROM indexed_files"
        )}

    def _apply(self, listing: Listing) -> tuple[int, int]:
        conn = self._conn
        known = {path: (id_, (mtime, size)) for id_, path, mtime, size in conn.execute(
            "SELECT id, path, mtime_ns, size FROM indexed_files"  # read again under the lock
        )}
        stale = [(id_,) for path, (id_, stat) in known.items() if listing.get(path) != stat]
        conn.executemany("DELETE FROM events_by_citizen WHERE file_id = ?", stale)
        conn.executemany("DELETE FROM indexed_files WHERE id = ?", stale)
        files = rows = 0
        for path, (mtime, size) in sorted(listing.items()):
            if known.get(path, (None, None))[1] == (mtime, size):
                continue
            try:
                table = _file_rows(self._events / path)
            except FileNotFoundError:
                continue  # removed since the listing; the next catch-up sees it gone
            # the stat is the listing's: were the file rewritten since, the next catch-up indexes it again
            (file_id,) = conn.execute(
                "INSERT INTO indexed_files (path, mtime_ns, size) VALUES (?, ?, ?) RETURNING id", (path, mtime, size)
            ).fetchone()
            columns = [table[name].to_pylist() for name in EVENTS_ARCHIVE.names]
            conn.executemany(_UPSERT, zip(*columns, itertools.repeat(file_id)))
            files, rows = files + 1, rows + table.num_rows
        return files, rows

    def recent(self, citizen_id: str, limit: int) -> list[dict]:
        self.catch_up()
        return dict_rows(self._conn.execute(
            f"SELECT {_COLUMNS} FROM events_by_citizen WHERE citizen_id = ?"
            " ORDER BY event_time DESC, event_id LIMIT ?",
            (citizen_id, int(limit)),
        ))

    def get(self, event_id: str) -> dict | None:
        self.catch_up()
        rows = dict_rows(self._conn.execute(
            f"SELECT {_COLUMNS} FROM events_by_citizen WHERE event_id = ?", (event_id,)
        ))
        return rows[0] if rows else None
