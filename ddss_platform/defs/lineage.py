"""Lineage of the batch aggregates: what a run read and wrote, recorded on its materializations and read back.

A Spark aggregation run records, as the ``lineage`` metadata (JSON) of both tables' materializations:
the input assets with the materialization and data version it read, the archive rows of the day grouped by
bus topic partition (first and last offset), the score_events runs (or ``ddss stream``, which reports its ranges
as runless asset events) whose offset ranges wrote those rows, the offsets of both scored topics (citizen-events,
and citizen-effects, where association effects reach their target) that the citizens' snapshots held when the job
started, the rows written, the Spark application, the job's code version and the durations. ``ddss lineage`` reads
it back from the Dagster instance and prints the chain down to the topic offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime

import dagster as dg

LINEAGE_KEY = "lineage"
DATA_VERSION_TAG = "dagster/data_version"
_PAGE = 1000


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")


def input_versions(instance: dg.DagsterInstance, keys: Iterable[str]) -> list[dict]:
    """The latest materialization of each input asset: what a run that starts now reads. An input whose
    materializations carry no data version is identified by the materialization's storage id."""
    inputs = []
    for key in keys:
        page = instance.fetch_materializations(dg.AssetKey(key), limit=1)
        if not page.records:
            inputs.append({"asset": key, "materialized": False})
            continue
        record = page.records[0]
        materialization = record.asset_materialization
        inputs.append(
            {
                "asset": key,
                "partition": materialization.partition,
                "data_version": (materialization.tags or {}).get(DATA_VERSION_TAG) or f"storage-id-{record.storage_id}",
                "storage_id": record.storage_id,
                "run_id": record.run_id,
                "materialized_at": _when(record.timestamp),
            }
        )
    return inputs


def materializations(instance: dg.DagsterInstance, key: str) -> Iterator[dg.EventLogRecord]:
    """Every materialization of the asset, oldest first (paged)."""
    cursor = None
    while True:
        page = instance.fetch_materializations(dg.AssetKey(key), limit=_PAGE, cursor=cursor, ascending=True)
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def writing_runs(instance: dg.DagsterInstance, archive_key: str, offsets: Iterable[Mapping]) -> list[dict]:
    """The runs whose archive materializations (metadata topic, partition, start, end: the range [start, end)
    they scored) overlap the given offset ranges (topic, partition, first_offset, last_offset); a range that
    ``ddss stream`` scored has the empty run id of a runless event."""
    wanted = {(o["topic"], int(o["partition"])): (int(o["first_offset"]), int(o["last_offset"])) for o in offsets}
    runs = []
    for record in materializations(instance, archive_key):
        meta = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        if not {"topic", "partition", "start", "end"} <= meta.keys():
            continue  # not a scoring run's materialization
        meta["partition"] = int(meta["partition"])  # text in the metadata (see defs/streaming/job.py)
        span = wanted.get((meta["topic"], meta["partition"]))
        if span is None:
            continue
        start, end = int(meta["start"]), int(meta["end"])
        if start <= span[1] and span[0] < end:
            runs.append(
                {
                    "run_id": record.run_id,
                    "topic": meta["topic"],
                    "partition": meta["partition"],
                    "start": start,
                    "end": end,
                }
            )
    return sorted(runs, key=lambda r: (r["topic"], r["partition"], r["start"]))


def read_lineage(instance: dg.DagsterInstance, asset: str, partition: str | None) -> dict:
    """The lineage recorded by the latest materialization of the asset (partition); LookupError when there is
    none, or when it recorded no lineage."""
    filter_ = dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None)
    page = instance.fetch_materializations(filter_, limit=1)
    if not page.records:
        where = f" partition {partition}" if partition else ""
        raise LookupError(f"{asset}{where} has not been materialized in this Dagster instance")
    record = page.records[0]
    metadata = record.asset_materialization.metadata
    if LINEAGE_KEY not in metadata:
        raise LookupError(f"the latest materialization of {asset} (run {record.run_id}) recorded no lineage")
    lineage = dict(metadata[LINEAGE_KEY].value)
    lineage.update(run_id=record.run_id, materialized_at=_when(record.timestamp), storage_id=record.storage_id)
    return lineage


def snapshot_offsets(committed: Mapping[str, Mapping[int, int]]) -> list[dict]:
    """The scoring group's committed offsets per scored topic (``topic -> partition -> offset``), as recorded: every
    snapshot the job joins holds at least what these ranges applied."""
    return [
        {"topic": topic, "partition": partition, "committed": offset}
        for topic, by_partition in committed.items()
        for partition, offset in sorted(by_partition.items())
    ]


def _by(run_id: str, job: str = "") -> str:
    # ``ddss stream`` reports the ranges it scores as runless asset events: no run id
    return f"{job}run {run_id}" if run_id else "ddss stream (continuous mode)"


def format_lineage(lineage: Mapping) -> str:
    """The chain as text: the materialization, its inputs, then the archive rows per topic partition with the
    offsets and the scoring runs that wrote them."""
    spark = lineage["spark"]
    archive = lineage["archive"]
    lines = [
        f"{lineage['asset']} [{lineage['partition']}]",
        f"  materialized {lineage['materialized_at']} by run {lineage['run_id']} "
        f"(code version {lineage['code_version']}, {lineage['duration_s']:.1f} s)",
        f"  spark application {spark['app_id']} on {spark['master']} (Spark {spark['version']}, "
        f"{spark['duration_s']:.1f} s in the driver)",
        "  wrote " + ", ".join(f"{table}: {rows} rows" for table, rows in lineage["outputs"].items()),
        "  <- inputs",
    ]
    for item in lineage["inputs"]:
        if not item.get("materialized", True):
            lines.append(f"       {item['asset']}: never materialized")
            continue
        lines.append(
            f"       {item['asset']}: data version {item['data_version']} "
            f"(materialized {item['materialized_at']} by {_by(item['run_id'])})"
        )
    lines.append(
        f"  <- events_archive [{lineage['partition']}]: {archive['rows']} rows, "
        f"{archive['distinct_events']} distinct events"
    )
    runs = lineage.get("scoring_runs", [])
    for offsets in archive["offsets"]:
        topic, partition = offsets["topic"], offsets["partition"]
        lines.append(
            f"       <- {topic}/{partition} offsets {offsets['first_offset']}..{offsets['last_offset']} "
            f"({offsets['rows']} rows)"
        )
        for run in (r for r in runs if r["topic"] == topic and r["partition"] == partition):
            writer = _by(run["run_id"], "score_events ")
            lines.append(f"            written by {writer} over [{run['start']}, {run['end']})")
    snapshots = lineage.get("snapshot_offsets", [])
    if snapshots:
        lines.append("  <- score_snapshots as of the scoring group's committed offsets")
        lines.extend(f"       <- {o['topic']}/{o['partition']} up to offset {o['committed']}" for o in snapshots)
    return "\n".join(lines)
