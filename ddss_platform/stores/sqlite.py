"""SQLite connections for the embedded stores.

Several processes (daemon, run workers, webserver, API) open the same files, so
every connection uses WAL (readers never block the writer) and a long busy
timeout (writers queue instead of failing with "database is locked").
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 60_000
CACHE_KIB = 64 * 1024
"""Page cache per connection. SQLite's default (2 MiB) is smaller than the indexes a scoring run updates at
random (score history, snapshots), and every miss is a page read back from the OS."""


class _Connection(sqlite3.Connection):
    """A connection that knows its database's writer lock file (see ``transaction``)."""

    writer_lock: Path


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False, factory=_Connection
    )
    conn.writer_lock = path.with_name(path.name + ".writer-lock")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across application crashes in WAL mode (only an OS crash can lose the last commits).
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    return conn


class transaction:
    """``with transaction(conn):`` — BEGIN IMMEDIATE so a writer takes the lock up front
    (a deferred transaction that upgrades later can fail with SQLITE_BUSY at once).

    Writers first queue on an OS lock beside the database: SQLite's own busy handler polls, sleeping up to
    100 ms between tries, so with several run workers writing one file the CPU went idle while the lock
    was free; a blocked ``flock`` wakes as soon as the holder lets go."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn  # made by connect()
        self._queue = -1

    def __enter__(self) -> sqlite3.Connection:
        self._queue = os.open(self.conn.writer_lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._queue, fcntl.LOCK_EX)
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            os.close(self._queue)
            raise
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            os.close(self._queue)  # closing the descriptor releases the flock
