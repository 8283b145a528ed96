"""Reporting API throughput and latency on the embedded profile.

Builds a demo-like world (seed citizens and graph, simulated events scored by the real processor,
daily aggregates), serves the API in a separate process (`ddss api`) on loopback, and drives it from
this process with a small pool of threads, each with its own keep-alive httpx client. Each endpoint
runs for at most --requests requests or --seconds seconds, whichever comes first; citizens are
requested in a shuffled order over the whole population.

    python bench/api.py --citizens 2000 --events 20000 --requests 5000 --seconds 20

Last line: JSON with citizen_rps, citizen_p50_ms, citizen_p99_ms, aggregates_rps, aggregates_p99_ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ddss_platform.settings import Settings  # noqa: E402
from ddss_platform.stores import open_stores  # noqa: E402
from ddss_platform_tests.api.world import build_world  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "DDSS_HOME": str(home)}
    env.pop("DDSS_API_TOKEN", None)
    ddss = Path(sys.executable).with_name("ddss")
    process = subprocess.Popen(
        [str(ddss), "api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ddss api exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise TimeoutError("the API did not come up within 60 s")


def drive(base: str, paths: list[str], threads: int, max_requests: int, max_seconds: float) -> dict:
    """Requests ``paths`` round-robin from ``threads`` threads until either bound; latencies in ms."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    issued = iter(range(max_requests))
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds

    def worker(slot: int) -> None:
        with httpx.Client(base_url=base, timeout=10.0) as client:
            while time.perf_counter() < deadline:
                with lock:
                    n = next(issued, None)
                if n is None:
                    return
                started = time.perf_counter()
                response = client.get(paths[n % len(paths)])
                latencies[slot].append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors[slot] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    all_ms = np.array([ms for per in latencies for ms in per])
    return {
        "requests": len(all_ms),
        "errors": sum(errors),
        "rps": len(all_ms) / elapsed,
        "p50_ms": float(np.percentile(all_ms, 50)),
        "p99_ms": float(np.percentile(all_ms, 99)),
    }


def report(name: str, result: dict) -> dict:
    print(
        f"{name}: {result['requests']} requests ({result['errors']} errors), {result['rps']:.0f} req/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=2_000, help="seeded citizens (world size)")
    parser.add_argument("--events", type=int, default=20_000, help="simulated events scored into the stores")
    parser.add_argument("--requests", type=int, default=5_000, help="most requests per endpoint")
    parser.add_argument("--seconds", type=float, default=20.0, help="most seconds per endpoint")
    parser.add_argument("--threads", type=int, default=4, help="client threads (one keep-alive connection each)")
    parser.add_argument("--workers", type=int, default=1, help="API server processes")
    parser.add_argument("--home", type=Path, help="reuse this data directory (built on first use)")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="ddss-bench-api-"))
    if not (home / "documents.sqlite").exists():
        started = time.perf_counter()
        facts = build_world(Settings.from_env({"DDSS_HOME": str(home)}), citizens=args.citizens, events=args.events)
        print(
            f"world: {facts.citizens} citizens, {facts.events} events over {len(facts.days)} day(s) "
            f"in {time.perf_counter() - started:.1f} s ({home})"
        )

    settings = Settings.from_env({"DDSS_HOME": str(home)})
    with open_stores(settings) as ports:
        days = sorted(ports.archive.count_by_day())
    port = free_port()
    server = serve(home, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base) as client:
            ids, cursor = [], None
            while True:
                page = client.get("/citizens", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
                ids += [c["nationalID"] for c in page["items"]]
                if not (cursor := page["next_cursor"]):
                    break
            regions = client.get("/regions").json()["regions"]
        random.Random(1).shuffle(ids)
        citizen_paths = [f"/citizens/{i}" for i in ids]
        # the whole archived period, one region after another (what the dashboard's region view asks)
        aggregate_paths = [f"/regions/{r}/aggregates?from={days[0]}&to={days[-1]}" for r in regions]
        drive(base, citizen_paths[:200], args.threads, 200, 10)  # warm-up
        citizen = report("/citizens/{id}", drive(base, citizen_paths, args.threads, args.requests, args.seconds))
        # the same lookup without the archive's recent-events read, to show what that read costs
        no_events = report(
            "/citizens/{id}?events=0",
            drive(base, [f"{p}?events=0" for p in citizen_paths], args.threads, args.requests, args.seconds),
        )
        aggregates = report(
            "/regions/{region}/aggregates", drive(base, aggregate_paths, args.threads, args.requests, args.seconds)
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        json.dumps(
            {
                "citizen_rps": round(citizen["rps"], 1),
                "citizen_p50_ms": round(citizen["p50_ms"], 2),
                "citizen_p99_ms": round(citizen["p99_ms"], 2),
                "aggregates_rps": round(aggregates["rps"], 1),
                "aggregates_p99_ms": round(aggregates["p99_ms"], 2),
                "citizen_without_events_rps": round(no_events["rps"], 1),
                "citizen_without_events_p99_ms": round(no_events["p99_ms"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
