"""Production benchmark: the end-to-end scoring rate on the real servers beside the embedded profile's, measured in
the same run, and each sink's write rate on the real servers.

    python bench/production.py --events 20000        # the measurement
    python bench/production.py --events 3000         # a quick run (< 1 min once the servers are up)

Both profiles get the same seed world (`ddss init`) and the same backlog of simulated events (recent times, so
every point is inside its bucket's retention) on one partition, scored by one `process_range` over the whole
backlog in this process (what one run worker does), with every sink write timed. The real servers are the ones
`scripts/servers.sh` builds (Apache Kafka, SecantusDB, InfluxDB 2, Dgraph, Cassandra 5), started here on free
loopback ports unless --running takes those of `scripts/servers.sh up` (whose data it then adds to). Where the
time goes: every sink's share of the scoring pass is printed. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the test servers' launchers

from ddss_platform.cli.store_commands import SEED_DIR, initialise  # noqa: E402
from ddss_platform.events.simulator import recent_start_ms, simulate_records  # noqa: E402
from ddss_platform.events.topics import CITIZEN_EVENTS  # noqa: E402
from ddss_platform.processing import OffsetRange, process_range  # noqa: E402
from ddss_platform.processing.processor import SinkWrites  # noqa: E402
from ddss_platform.settings import Settings  # noqa: E402
from ddss_platform.stores import open_stores  # noqa: E402
from ddss_platform.stores.timeseries import RAW_EVENTS  # noqa: E402
from ddss_platform_tests.servers.base import started  # noqa: E402
from ddss_platform_tests.servers.registry import SERVERS  # noqa: E402

PRODUCTION_SERVERS = ("kafka", "secantus", "influxdb", "dgraph", "cassandra")
# sink write function -> the sink it writes (write_table serves two: the bucket tells them apart)
SINK_OF = {
    "write_events": "archive_events",
    "write_score_history": "citizen_score_history",
    "apply_snapshot_updates": "snapshots",
    "save_cooldowns": "cooldowns",
    "upsert_nodes": "graph_nodes",
    "upsert_relationships": "graph_edges",
    "end_relationships": "graph_edges",
    "produce_dead_letters": "dead_letters",
    "commit": "offset_commit",
}


class TimedWrites(SinkWrites):
    """The processor's sink writes, each timed and attributed to its sink."""

    def __init__(self):
        super().__init__()
        self.seconds: Counter = Counter()

    def __call__(self, write, *args):
        name = write.__name__
        sink = (
            ("raw_events" if args[0] == RAW_EVENTS else "score_change_history")
            if name == "write_table"
            else (SINK_OF.get(name, name))
        )
        started_at = time.perf_counter()
        try:
            return super().__call__(write, *args)
        finally:
            self.seconds[sink] += time.perf_counter() - started_at


def score_backlog(settings: Settings, citizens: int, events: int, start_ms: int) -> dict:
    """Init, produce the backlog, score it in one pass; the pass's rate, time and per-sink times and rows."""
    initialise(settings, citizens, 42, SEED_DIR / "system_configuration.json", SEED_DIR / "scoring_rules.json")
    with open_stores(settings) as stores:
        records = list(simulate_records(stores.codec, citizens, events, seed=0, bad_fraction=0.01, start_ms=start_ms))
        stores.bus.produce(CITIZEN_EVENTS, records)
        end = stores.bus.end_offsets(CITIZEN_EVENTS)[0]
        writes = TimedWrites()
        started_at = time.perf_counter()
        result = process_range(stores, OffsetRange(CITIZEN_EVENTS, 0, 0, end), writes=writes)
        elapsed = time.perf_counter() - started_at
    rows = dict(result.sink_rows) | {"offset_commit": 1, "dead_letters": result.dead_lettered}
    return {
        "events_per_s": result.records / elapsed,
        "elapsed_s": elapsed,
        "records": result.records,
        "sink_seconds": dict(writes.seconds),
        "sink_rows": rows,
    }


def production_env(work: Path, stack: ExitStack, running: bool) -> dict[str, str]:
    if running:
        from ddss_platform_tests.servers.__main__ import load_state

        state = load_state()
        missing = [name for name in PRODUCTION_SERVERS if name not in state or not state[name].alive()]
        if missing:
            sys.exit(f"production bench: --running, but {', '.join(missing)} not up (scripts/servers.sh up)")
        return {k: v for name in PRODUCTION_SERVERS for k, v in state[name].settings.items()}
    env: dict[str, str] = {}
    for name in PRODUCTION_SERVERS:
        print(f"starting {name} ...", flush=True)
        env |= stack.enter_context(started(SERVERS[name], work / "servers" / name, log=lambda _m: None)).settings
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="backlog size (default 20000)")
    parser.add_argument("--citizens", type=int, default=1_000)
    parser.add_argument("--running", action="store_true", help="use the servers of `scripts/servers.sh up`")
    args = parser.parse_args(argv)
    start_ms = recent_start_ms(args.events, time.time_ns() // 1_000_000)
    with tempfile.TemporaryDirectory(prefix="ddss-bench-production-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        env = production_env(work, stack, args.running)
        embedded = score_backlog(
            Settings.from_env({"DDSS_HOME": str(work / "embedded"), "DDSS_PARTITIONS": "1"}),
            args.citizens,
            args.events,
            start_ms,
        )
        production = score_backlog(
            Settings.from_env({**env, "DDSS_HOME": str(work / "production"), "DDSS_PARTITIONS": "1"}),
            args.citizens,
            args.events,
            start_ms,
        )
    for name, run in (("embedded", embedded), ("production", production)):
        print(f"{name}: {run['records']} records in {run['elapsed_s']:.2f} s = {run['events_per_s']:,.0f} events/s")
    print("production sinks (share of the scoring pass, rows, rows/s):")
    rates = {}
    for sink, seconds in sorted(production["sink_seconds"].items(), key=lambda item: -item[1]):
        rows = production["sink_rows"].get(sink, 0)
        rates[f"{sink}_rows_per_s"] = round(rows / seconds) if seconds else None
        print(f"  {sink:24} {seconds / production['elapsed_s']:6.1%} {rows:8} rows {rates[f'{sink}_rows_per_s']}/s")
    print(
        json.dumps(
            {
                "events": args.events,
                "production_events_per_s": round(production["events_per_s"]),
                "embedded_events_per_s": round(embedded["events_per_s"]),
                "production_ratio": round(production["events_per_s"] / embedded["events_per_s"], 3),
                **rates,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
