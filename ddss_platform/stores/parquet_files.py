"""Parquet files for the embedded time series and archive.

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

import pyarrow as pa
import pyarrow.parquet as pq

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
