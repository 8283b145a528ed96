"""Batch aggregation: the Spark job beside DuckDB computing the same aggregates over the same Parquet.

    python bench/batch.py                            # quick: 100k and 500k archived events
    python bench/batch.py --sizes 1000000,5000000    # the issue's sizes

For each size a synthetic day of archived events (the embedded archive's Parquet layout, one file per
scoring run batch, 1% replayed copies) is aggregated by ``aggregate_day`` on a local Spark session and by one DuckDB
script with the same semantics; the two results are compared. Spark times exclude the session (JVM) startup,
which is printed on its own, and follow one warm-up run; both engines report the best of --repeats runs.
Last line: JSON. Its ``*_1m_*``/``*_5m_*`` keys hold the first and second size given (``events_1m``,
``events_5m`` say which sizes those were).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ddss_platform.events.simulator import citizen_id  # noqa: E402
from ddss_platform.events.vocabulary import EVENT_SUBTYPES, REGIONS, SOURCE_SYSTEMS  # noqa: E402
from ddss_platform.settings import Settings  # noqa: E402
from ddss_platform.spark.aggregation import (  # noqa: E402
    CHANGE_EPSILON,
    TIER_COLUMNS,
    TIER_COUNT,
    aggregate_day,
    read_archive_day,
)
from ddss_platform.spark.session import spark_session  # noqa: E402
from ddss_platform.stores.archive import DAY_MS, day_start_ms, events_table  # noqa: E402
from ddss_platform.stores.parquet_files import write_atomic  # noqa: E402

DAY = "2026-11-20"
TIERS = {"Exemplary": 800.0, "Standard": 550.0, "Caution": 350.0, "HighRisk": 0.0}  # tier -> lowest score
REPLAY_SHARE = 0.01
PARTITIONS = 3


def synthetic_citizens(count: int, rng: np.random.Generator) -> pd.DataFrame:
    score = np.round(np.clip(rng.normal(560, 140, count), 0, 1000), 2)
    floors = np.array(list(TIERS.values()))
    names = np.array(list(TIERS))
    return pd.DataFrame(
        {
            "national_id": [citizen_id(i) for i in range(count)],
            "region": np.array(list(REGIONS))[np.arange(count) % len(REGIONS)],
            "score": score,
            "tier": names[np.argmax(score[:, None] >= floors[None, :], axis=1)],
        }
    )


def synthetic_batch(first: int, count: int, citizens: int, rng: np.random.Generator) -> pa.Table:
    """`count` archive rows of the day, as one scoring run of one partition would write them."""
    types = np.array(list(EVENT_SUBTYPES))
    kind = rng.integers(0, len(types), count)
    cities = {r: [c for c, *_ in cs] for r, cs in REGIONS.items()}
    regions = np.array(list(REGIONS))[rng.integers(0, len(REGIONS), count)]
    status = rng.choice(["scored", "no_rule", "unknown_citizen"], count, p=[0.8, 0.15, 0.05])
    impact = np.where(status == "scored", np.round(rng.normal(0, 12, count), 2), 0.0)
    partition = int(rng.integers(0, PARTITIONS))
    return events_table(
        pa.table(
            {
                "event_id": [str(uuid.UUID(int=int(x))) for x in rng.integers(0, 2**63, count)],
                "citizen_id": [citizen_id(int(i)) for i in rng.integers(0, citizens, count)],
                "event_time": day_start_ms(DAY) + rng.integers(0, DAY_MS, count),
                "event_type": types[kind],
                "event_subtype": [EVENT_SUBTYPES[t][0] for t in types[kind]],
                "source_system": [SOURCE_SYSTEMS[t] for t in types[kind]],
                "region": regions,
                "city": [cities[r][0] for r in regions],
                "severity": np.round(rng.random(count), 3),
                "confidence": np.round(rng.uniform(0.5, 1, count), 3),
                "payload": np.full(count, '{"amount": 120.5, "description": "synthetic", "metadata": {}}'),
                "score_impact": impact,
                "status": status,
                "topic": np.full(count, "citizen-events"),
                "partition": np.full(count, partition, dtype=np.int32),
                "offset": np.arange(first, first + count, dtype=np.int64),
            }
        )
    )


def write_day(folder: Path, events: int, citizens: int, rows_per_file: int, rng: np.random.Generator) -> int:
    """Writes `events` rows in files of `rows_per_file`, then replays 1% of them into an extra file (a scoring
    run retried over a range it had partly written). Returns the rows written."""
    written, replay = 0, []
    for first in range(0, events, rows_per_file):
        batch = synthetic_batch(first, min(rows_per_file, events - first), citizens, rng)
        write_atomic(batch, folder, f"batch-{first}")
        replay.append(batch.slice(0, int(batch.num_rows * REPLAY_SHARE)))
        written += batch.num_rows
    replayed = pa.concat_tables(replay)
    write_atomic(replayed, folder, "replayed")
    return written + replayed.num_rows


def duckdb_aggregates(folder: Path, citizens: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The same aggregates as ``aggregate_day``, in DuckDB's natural way: deduplicate once into a temporary
    table, then one query per output."""
    tiers = ", ".join(
        f"count_if(lower(c.tier) = '{TIER_COUNT.match(name).group(1)}') AS {name}" for name in TIER_COLUMNS
    )
    con = duckdb.connect()
    con.register("citizens", citizens)
    files = f"read_parquet('{folder}/*.parquet')"
    con.execute(
        f"""CREATE TEMP TABLE distinct_events AS
            SELECT citizen_id, event_id, event_type, region, max(score_impact) AS score_impact
            FROM {files} GROUP BY citizen_id, event_id, event_type, region"""
    )
    summary = con.sql(
        """SELECT event_type, region, count(*) AS event_count, sum(score_impact) AS total_score_impact,
                  avg(score_impact) AS avg_score_impact, count(DISTINCT citizen_id) AS distinct_citizens
           FROM distinct_events GROUP BY ALL ORDER BY event_type, region"""
    ).df()
    credit = con.sql(
        f"""WITH net AS (SELECT citizen_id, sum(score_impact) AS net_change FROM distinct_events GROUP BY ALL)
            SELECT c.region, count(*) AS citizens, avg(score) AS avg_score, median(score) AS median_score,
                   min(score) AS min_score, max(score) AS max_score, {tiers},
                   count_if(net_change > {CHANGE_EPSILON}) AS improvements,
                   count_if(net_change < -{CHANGE_EPSILON}) AS deteriorations
            FROM citizens c LEFT JOIN net ON c.national_id = net.citizen_id
            GROUP BY c.region ORDER BY c.region"""
    ).df()
    offsets = con.sql(
        f"""SELECT topic, "partition", min("offset") AS first_offset, max("offset") AS last_offset, count(*) AS rows
            FROM {files} GROUP BY ALL ORDER BY topic, "partition" """
    ).df()
    con.close()
    return {"credit": credit, "summary": summary, "offsets": offsets}


def same_results(spark_result, duck: dict[str, pd.DataFrame]) -> None:
    """Raises AssertionError when the engines disagree (float sums compared with a relative tolerance)."""
    for spark_frame, duck_frame in (
        (spark_result.credit_scores, duck["credit"]),
        (spark_result.events_summary, duck["summary"]),
    ):
        pd.testing.assert_frame_equal(
            spark_frame.reset_index(drop=True),
            duck_frame[list(spark_frame.columns)].reset_index(drop=True),
            check_dtype=False,
            rtol=1e-9,
        )
    spark_offsets = pd.DataFrame([o.__dict__ for o in spark_result.offsets])
    pd.testing.assert_frame_equal(spark_offsets, duck["offsets"], check_dtype=False)


def best_time(repeats: int, work):
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,500000", help="two archived-event counts, small,large")
    parser.add_argument("--citizens", type=int, default=100_000, help="citizens (the same for every size)")
    parser.add_argument("--rows-per-file", type=int, default=50_000, help="rows per archive file (one run batch)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the Parquet (default: a temp dir)")
    args = parser.parse_args()
    small, large = (int(s) for s in args.sizes.split(","))
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    rng = np.random.default_rng(7)

    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        citizens = synthetic_citizens(args.citizens, rng)
        homes = {size: Settings.from_env({"DDSS_HOME": f"{work}/{size}"}) for size in (small, large)}
        folders = {size: home.home / "archive" / "events_archive" / f"event_date={DAY}" for size, home in homes.items()}
        for size in (small, large):
            started = time.perf_counter()
            rows = write_day(folders[size], size, args.citizens, args.rows_per_file, rng)
            print(f"wrote {rows} archive rows ({size} events + replays) in {time.perf_counter() - started:.1f}s")

        started = time.perf_counter()
        spark = spark_session("local[*]", "ddss-bench-batch")
        startup = time.perf_counter() - started
        citizens_df = spark.createDataFrame(
            citizens, "national_id string, region string, score double, tier string"
        ).cache()
        citizens_df.count()
        print(f"spark session (JVM) startup {startup:.1f}s, not part of the Spark timings")

        def spark_run(size):
            return aggregate_day(read_archive_day(spark, homes[size], DAY), citizens_df)

        started = time.perf_counter()
        spark_run(small)
        print(f"spark warm-up run ({small} events, JIT compilation) {time.perf_counter() - started:.1f}s, not timed")

        timings = {}
        for size in (small, large):
            spark_s, spark_result = best_time(args.repeats, lambda size=size: spark_run(size))
            duck_s, duck_result = best_time(args.repeats, lambda size=size: duckdb_aggregates(folders[size], citizens))
            same_results(spark_result, duck_result)
            timings[size] = (spark_s, duck_s)
            print(
                f"{size:>9} events: spark {spark_s:.2f}s  duckdb {duck_s:.2f}s  ratio {spark_s / duck_s:.1f}x"
                "  (results equal)"
            )
        spark.stop()

    (spark_small, duck_small), (spark_large, duck_large) = timings[small], timings[large]
    print(
        json.dumps(
            {
                "events_1m": small,
                "events_5m": large,
                "spark_1m_s": round(spark_small, 3),
                "duckdb_1m_s": round(duck_small, 3),
                "spark_5m_s": round(spark_large, 3),
                "duckdb_5m_s": round(duck_large, 3),
                "spark_over_duckdb_5m": round(spark_large / duck_large, 2),
                "spark_growth_5m_over_1m": round(spark_large / spark_small, 2),
                "spark_startup_s": round(startup, 2),
                "spark_timing": "excludes session startup, after one warm-up run, best of repeats",
            }
        )
    )


if __name__ == "__main__":
    main()
