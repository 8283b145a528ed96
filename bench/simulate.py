"""Simulator determinism and rate at full size: the same seed twice into two fresh DDSS_HOMEs.

    python bench/simulate.py --citizens 1000 --events 100000 --seed 7

Runs the real `ddss simulate` command twice (embedded bus), then compares the
topic contents (SHA-256 over partition, offset, key and value of every record).
Exits non-zero when they differ. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ddss_platform.events.topics import CITIZEN_EVENTS
from ddss_platform.settings import Settings
from ddss_platform.stores.bus import open_bus
from ddss_platform.stores.bus.digest import topic_digest


def simulate_into(home: Path, args: argparse.Namespace) -> tuple[float, str]:
    env = {**os.environ, "DDSS_HOME": str(home), "DDSS_BUS_URL": "embedded"}
    command = [
        sys.executable,
        "-c",
        "from ddss_platform.cli import app; app()",
        "simulate",
        "--citizens",
        str(args.citizens),
        "--events",
        str(args.events),
        "--seed",
        str(args.seed),
    ]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    print(f"{home.name}: {result.stdout.strip().splitlines()[-1]} (command wall time {elapsed:.1f} s)")
    bus = open_bus(Settings.from_env({"DDSS_HOME": str(home)}))
    try:
        return elapsed, topic_digest(bus, CITIZEN_EVENTS)
    finally:
        bus.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ddss-bench-simulate-") as tmp:
        first_s, first = simulate_into(Path(tmp) / "first", args)
        second_s, second = simulate_into(Path(tmp) / "second", args)
    identical = first == second
    print(f"topic {CITIZEN_EVENTS} sha256: {first} / {second} -> {'identical' if identical else 'DIFFERENT'}")
    print(
        json.dumps(
            {
                "events": args.events,
                "identical": identical,
                "sha256": first,
                "command_seconds": [round(first_s, 2), round(second_s, 2)],
                "command_events_per_s": round(args.events / min(first_s, second_s)),
            }
        )
    )
    sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
