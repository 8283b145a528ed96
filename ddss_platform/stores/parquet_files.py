"""Parquet files for the embedded time series and archive: atomic writes, and DuckDB reads over them.

A batch is written to a temporary name in the target folder and renamed into
place, so readers (DuckDB, Spark) never see half a file. The file name is the
caller's batch id: writing the same batch again replaces the file, which makes
a replayed run idempotent.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_fixed

if TYPE_CHECKING:
    import duckdb

_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def safe_name(batch_id: str) -> str:
    return _SAFE.sub("_", batch_id)


def write_atomic(table: pa.Table, folder: Path, batch_id: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{safe_name(batch_id)}.parquet"
    tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, target)
    return target


class ParquetReader:
    """DuckDB over the Parquet files, connected when first asked (scoring runs only write, and importing DuckDB
    would add a tenth of a second to each run's start)."""

    def __init__(self) -> None:
        self._db: duckdb.DuckDBPyConnection | None = None

    def sql(self, query: str, params: dict[str, Any] | None = None) -> duckdb.DuckDBPyRelation:
        if self._db is None:
            import duckdb

            self._db = duckdb.connect()
        return self._db.sql(query, params=params)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def _file_unreadable(error: BaseException) -> bool:
    import duckdb  # imported already whenever DuckDB raised it

    return isinstance(error, duckdb.IOException)


retry_vanished = retry(
    retry=retry_if_exception(_file_unreadable), stop=stop_after_attempt(5), wait=wait_fixed(0.05), reraise=True
)
"""For a read over listed files: a file can vanish between the listing and the read (retention or TTL enforcement
rewrote or removed it); list again and retry."""
