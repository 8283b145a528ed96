"""Materialization metadata shared by the asset domains: preview tables and time ranges."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

OWNERS = ["team:data-platform"]
"""The owners of every asset."""
PREVIEW_ROWS = 10
PREVIEW_DECIMALS = 3
"""A preview shows scores and rates to this many decimals (the stores keep full precision)."""


def _column_type(dtype) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "string"


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "item"):  # numpy scalar -> Python number
        value = value.item()
    if isinstance(value, float):
        return round(value, PREVIEW_DECIMALS)
    return value if isinstance(value, (str, int, bool)) else str(value)


def preview_table(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.TableMetadataValue:
    """The first `rows` rows as a table the UI renders, with the frame's column types."""
    head = frame.head(rows)
    schema = dg.TableSchema(columns=[dg.TableColumn(str(c), _column_type(head[c].dtype)) for c in head.columns])
    records = [dg.TableRecord({str(k): _cell(v) for k, v in row.items()}) for row in head.to_dict(orient="records")]
    return dg.MetadataValue.table(records=records, schema=schema)


def time_range(start_ns: int, stop_ns: int) -> dict[str, dg.MetadataValue]:
    """[start, stop) as two timestamps."""
    return {
        "period_start": dg.MetadataValue.timestamp(start_ns / 10**9),
        "period_end": dg.MetadataValue.timestamp(stop_ns / 10**9),
    }


def utc_text(ns: int) -> str:
    return datetime.fromtimestamp(ns / 10**9, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")
