"""Streaming benchmark: scoring throughput against the bare read + decode rate, event-to-snapshot latency in
sensor mode and in continuous mode, and the run workers' peak memory (embedded profile, a fresh data dir).

    python bench/streaming.py --events 100000          # the full measurement
    python bench/streaming.py --events 20000 --latency-seconds 10 --rate 200 --repeat 1   # a quick run (< 1 min)

1. throughput: `ddss init`, then a backlog of --events simulated events; the bare rate reads and decodes the whole
   backlog in one process (one consumer); the end-to-end rate scores it (bus → every sink, committed, then the
   association effects it sent applied on their targets' partitions) with one worker process per partition,
   started together once all are up, as the sensor's runs go side by side, over the time from the first worker's
   start of work to the last one's end (the effects included); each reports its peak RSS (psutil, sampled
   after every chunk). The two are measured alternately --repeat times, each scoring pass on a fresh copy of the
   backlog, and the best of each is reported (as timeit does: other load on the machine only ever slows a pass
   down); every pass is printed, and listed in the JSON.
2. sensor mode: the Dagster daemon runs; a producer appends --rate events/s for --latency-seconds; a poller sees
   each partition's committed offset (committed only after the snapshots are written) and takes, per event,
   the time from its produce to the commit that covers it.
3. continuous mode: the same with `ddss stream` instead of the daemon.
4. scale-out: the same backlog on 2 partitions, scored by 1 `ddss stream` worker, then (a fresh copy) by 2
   workers of the group; each pass's time runs from the moment every worker has its share of the partitions
   (the bench holds the partitions' fences as a run would until the group has settled, then lets go) to zero
   lag on both topics. ``workers_2_over_1`` is the second rate over the first.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path

import numpy as np

from ddss_platform.cli.store_commands import SEED_DIR, initialise
from ddss_platform.defs import dagster_instance
from ddss_platform.events.simulator import MEAN_GAP_MS, recent_start_ms, simulate_records
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import OffsetRange, process_range
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform.stores.bus import open_codec

PRODUCE_EVERY_S = 0.05
POLL_EVERY_S = 0.05


def settings_for(home: Path, partitions: int | None) -> Settings:
    """The embedded profile's settings; None partitions: the profile's default for this machine."""
    env = {"DDSS_HOME": str(home)}
    if partitions is not None:
        env["DDSS_PARTITIONS"] = str(partitions)
    return Settings.from_env(env)


def backlog_start_ms(events: int) -> int:
    """Recent enough that every point is inside its bucket's retention (older ones are skipped, which would
    flatter the rate), early enough that the latency probes' later clocks stay in the past."""
    return recent_start_ms(3 * events, time.time_ns() // 1_000_000)


def produce_backlog(settings: Settings, citizens: int, events: int, start_ms: int) -> None:
    with open_stores(settings) as ports:
        records = simulate_records(ports.codec, citizens, events, seed=0, start_ms=start_ms)
        while batch := list(islice(records, 10_000)):
            ports.bus.produce(CITIZEN_EVENTS, batch)


def bare_read_decode_rate(settings: Settings) -> float:
    with open_stores(settings) as ports:
        started, records = time.perf_counter(), 0
        for partition, end in ports.bus.end_offsets(CITIZEN_EVENTS).items():
            for chunk in ports.bus.iter_range(CITIZEN_EVENTS, partition, 0, end):
                records += len(ports.codec.decode_many([r.value for r in chunk]))
        return records / (time.perf_counter() - started)


def score_partition(settings: Settings, partition: int) -> dict:
    """In this process (the --worker mode), as the runs of that partition's whole backlog would: says "ready" once
    its stores are open, scores its citizen-events backlog when told to (a line on stdin) and says "scored", then,
    told again once every partition has scored, applies the association effects they sent it (citizen-effects)."""
    with open_stores(settings) as ports:
        end = ports.bus.end_offsets(CITIZEN_EVENTS)[partition]
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.time()
        result = process_range(ports, OffsetRange(CITIZEN_EVENTS, partition, 0, end))
        scored = time.time()
        print("scored", flush=True)
        sys.stdin.readline()
        effects_end = ports.bus.end_offsets(CITIZEN_EFFECTS)[partition]
        effects = process_range(ports, OffsetRange(CITIZEN_EFFECTS, partition, 0, effects_end))
        return {
            "records": result.records,
            "effects": effects.records,
            "started": started,
            "scored": scored,
            "finished": time.time(),
            "max_rss_mb": max(result.max_rss_mb, effects.max_rss_mb),
        }


def measure_throughput(home: Path, partitions: int, repeat: int) -> tuple[list[float], list[dict]]:
    """(bare rates, scoring passes), measured alternately; each pass scores a fresh copy of the backlog, and the last
    one's data dir becomes ``home`` (the latency steps start from a scored backlog)."""
    settings = settings_for(home, partitions)
    backlog = home.with_name(f"{home.name}-backlog")
    shutil.copytree(home, backlog)
    bare_rates, passes = [], []
    for attempt in range(1, repeat + 1):
        bare_rates.append(bare_read_decode_rate(settings))
        scratch = home.with_name(f"{home.name}-pass{attempt}")
        shutil.copytree(backlog, scratch)
        passes.append(score_backlog(scratch, partitions))
        rate = passes[-1]["records"] / passes[-1]["elapsed_s"]
        print(
            f"pass {attempt}: bare read + decode {bare_rates[-1]:,.0f} events/s; end to end (bus → every sink, "
            f"committed, effects applied) {rate:,.0f} events/s ({passes[-1]['records']} events and "
            f"{passes[-1]['effects']} effects in {passes[-1]['elapsed_s']:.1f} s), "
            f"worker peak RSS {passes[-1]['max_rss_mb']:.0f} MB",
            flush=True,
        )
        if attempt < repeat:
            shutil.rmtree(scratch)
    shutil.rmtree(home)
    scratch.rename(home)
    shutil.rmtree(backlog)
    return bare_rates, passes


def score_backlog(home: Path, partitions: int) -> dict:
    """Every partition's backlog at once, one worker process each (as the sensor's runs go side by side): the
    records over the time from the first worker's start of work to the last one's end. The workers start
    together once all have started up (a run's process start is not scoring work, and would take the
    others' CPU)."""
    command = [sys.executable, __file__, "--home", str(home), "--partitions", str(partitions), "--worker"]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    workers = [
        subprocess.Popen([*command, str(p)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for p in range(partitions)
    ]
    for worker in workers:
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a scoring worker failed to start (exit {worker.wait()})")
    reports = []
    for step, answer in (("go", "scored"), ("effects", None)):
        for worker in workers:
            worker.stdin.write(f"{step}\n")
            worker.stdin.flush()
        for worker in workers if answer else ():
            if worker.stdout.readline().strip() != answer:
                raise RuntimeError(f"a scoring worker failed (exit {worker.wait()})")
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode:
            raise RuntimeError(f"a scoring worker failed (exit {worker.returncode})")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    return {
        "records": sum(r["records"] for r in reports),
        "effects": sum(r["effects"] for r in reports),
        "elapsed_s": elapsed,
        "max_rss_mb": max(r["max_rss_mb"] for r in reports),
    }


SCALE_OUT_PARTITIONS = 2
BENCH_HOLDER = "bench/streaming.py (holding the partitions until the group has settled)"


def scale_out(home: Path, citizens: int, events: int, start_ms: int) -> dict[int, float]:
    """workers -> events/s of `ddss stream` workers on a 2-partition backlog (see the module doc, step 4)."""
    settings = settings_for(home, SCALE_OUT_PARTITIONS)
    initialise(settings, citizens, 42, SEED_DIR / "system_configuration.json", SEED_DIR / "scoring_rules.json")
    produce_backlog(settings, citizens, events, start_ms)
    rates = {}
    for workers in (1, 2):
        scratch = home.with_name(f"{home.name}-{workers}-workers")
        shutil.copytree(home, scratch)
        rates[workers] = events / workers_pass(settings_for(scratch, SCALE_OUT_PARTITIONS), workers)
        print(f"scale-out: {workers} worker(s) {rates[workers]:,.0f} events/s", flush=True)
        shutil.rmtree(scratch)
    shutil.rmtree(home)
    return rates


def workers_pass(settings: Settings, workers: int) -> float:
    """Seconds for ``workers`` `ddss stream` processes to score the backlog, once all have their partitions."""
    from ddss_platform.processing import RUN, take_partition

    with open_stores(settings) as ports:
        holds = [
            take_partition(ports.documents, p, BENCH_HOLDER, RUN, ports.bus.commit) for p in range(SCALE_OUT_PARTITIONS)
        ]
        env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
        env.pop("DAGSTER_HOME", None)
        command = [str(Path(sys.executable).with_name("ddss")), "stream", "--linger", "0"]
        lines: list[list[str]] = [[] for _ in range(workers)]
        processes = []
        for number in range(workers):
            member = ["--member", f"bench-{number}"]
            process = subprocess.Popen(
                [*command, *member], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            threading.Thread(
                target=lambda out=process.stdout, seen=lines[number]: seen.extend(out), daemon=True
            ).start()
            processes.append(process)
        try:
            while not settled(lines):
                if any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"a ddss stream worker exited: {lines}")
                time.sleep(POLL_EVERY_S)
            for hold in holds:
                hold.release()
            started = time.perf_counter()
            while any(
                sum(ports.bus.end_offsets(topic).values()) > sum(ports.bus.committed(SCORING_GROUP, topic).values())
                for topic in (CITIZEN_EVENTS, CITIZEN_EFFECTS)
            ):
                time.sleep(POLL_EVERY_S)
            return time.perf_counter() - started
        finally:
            for process in processes:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=120)


def settled(lines: list[list[str]]) -> bool:
    """Every worker waits for the bench's hold on its share, and the shares cover every partition."""
    waiting = [{line.split(":")[0] for line in seen if "assigned; waiting" in line} for seen in list(lines)]
    return all(waiting) and len(set().union(*waiting)) == SCALE_OUT_PARTITIONS


class LatencyProbe:
    """Produces at a steady rate and measures, per event, produce → the commit covering it."""

    def __init__(self, settings: Settings, citizens: int, rate: float, seconds: float, start_ms: int, seed: int):
        self.settings, self.rate, self.seconds = settings, rate, seconds
        self.records = simulate_records(open_codec(settings), citizens, 10**9, seed=seed, start_ms=start_ms)
        self.batches: list[tuple[float, dict[int, tuple[int, int]]]] = []  # produce time, partition -> [lo, hi)
        self.latencies: list[tuple[float, int]] = []  # (seconds, events)
        self.lock = threading.Lock()
        self.producing = True

    def produce(self) -> None:
        with open_stores(self.settings) as ports:
            ends = ports.bus.end_offsets(CITIZEN_EVENTS)
            started, sent = time.perf_counter(), 0
            while time.perf_counter() - started < self.seconds:
                due = int((time.perf_counter() - started) * self.rate) - sent
                if due > 0:
                    ports.bus.produce(CITIZEN_EVENTS, list(islice(self.records, due)))
                    at = time.time()
                    new = ports.bus.end_offsets(CITIZEN_EVENTS)
                    with self.lock:
                        self.batches.append((at, {p: (ends[p], new[p]) for p in new if new[p] > ends[p]}))
                    ends, sent = new, sent + due
                time.sleep(PRODUCE_EVERY_S)
        self.producing = False

    def poll(self, timeout_s: float) -> None:
        deadline = time.monotonic() + self.seconds + timeout_s
        with open_stores(self.settings) as ports:
            waiting: list[tuple[float, int, int, int]] = []  # produce time, partition, hi, events
            while time.monotonic() < deadline:
                with self.lock:
                    for at, spans in self.batches:
                        waiting += [(at, p, hi, hi - lo) for p, (lo, hi) in spans.items()]
                    self.batches.clear()
                committed = ports.bus.committed(SCORING_GROUP, CITIZEN_EVENTS)
                now = time.time()
                still = []
                for at, p, hi, n in waiting:
                    if committed[p] >= hi:
                        self.latencies.append((now - at, n))
                    else:
                        still.append((at, p, hi, n))
                waiting = still
                if not self.producing and not waiting:
                    return
                time.sleep(POLL_EVERY_S)
        raise TimeoutError(f"{len(waiting)} produced batches were never committed")

    def run(self, catch_up_timeout_s: float = 120.0) -> tuple[float, float]:
        producer = threading.Thread(target=self.produce, daemon=True)
        producer.start()
        self.poll(catch_up_timeout_s)
        producer.join()
        seconds = np.repeat([s for s, _ in self.latencies], [n for _, n in self.latencies])
        return float(np.percentile(seconds, 50)), float(np.percentile(seconds, 95))


def sensor_mode(settings: Settings, probe: LatencyProbe) -> tuple[float, float, float]:
    """(p50, p95, the runs' max RSS)."""
    import dagster as dg

    from ddss_platform.defs.scoring_runs import in_flight_runs

    daemon = dagster_instance.start_daemon(settings)
    instance = dagster_instance.open_instance(settings)
    try:
        dagster_instance.wait_for_daemon(settings, daemon)
        time.sleep(6)  # let the sensor's first tick pass, so the measurement starts in the steady state
        p50, p95 = probe.run()
        deadline = time.monotonic() + 60
        while in_flight_runs(instance) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        daemon.stop()
    rss = 0.0
    for run in instance.get_runs(filters=dg.RunsFilter(job_name="score_events")):
        for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
            rss = max(rss, event.dagster_event.step_output_data.metadata["max_rss_mb"].value)
    instance.dispose()
    return p50, p95, rss


def continuous_mode(settings: Settings, probe: LatencyProbe) -> tuple[float, float]:
    env = dagster_instance.dagster_env(settings)
    stream = subprocess.Popen(
        [str(Path(sys.executable).with_name("ddss")), "stream"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = stream.stdout.readline()
        if "joined consumer group" not in line:
            raise RuntimeError(f"ddss stream did not start: {line}{stream.stdout.read()}")
        threading.Thread(target=stream.stdout.read, daemon=True).start()  # drain its output
        return probe.run()
    finally:
        stream.send_signal(signal.SIGINT)
        stream.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="Backlog size for the throughput measurement.")
    parser.add_argument("--citizens", type=int, default=None, help="Seed world size (default: events / 20).")
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="Partitions of citizen-events (default: the embedded default, at most one per core).",
    )
    parser.add_argument("--rate", type=float, default=300.0, help="Events/s produced in the latency measurements.")
    parser.add_argument("--latency-seconds", type=float, default=40.0, help="Producing time per latency mode.")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="Passes of the throughput measurement (the best bare and end-to-end rates are reported).",
    )
    parser.add_argument("--home", type=Path, default=None, help="Data dir (default: a temporary one).")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)  # a partition to score
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.worker is not None:  # a run-worker process of step 1
        print(json.dumps(score_partition(settings_for(args.home, args.partitions), args.worker)))
        return

    home = args.home or Path(tempfile.mkdtemp(prefix="ddss-bench-")) / "ddss"
    settings = settings_for(home, args.partitions)
    partitions = settings.partitions
    citizens = args.citizens or max(100, args.events // 20)
    print(f"data dir {home}; {citizens} citizens, backlog {args.events} events, {partitions} partitions", flush=True)
    initialise(settings, citizens, 42, SEED_DIR / "system_configuration.json", SEED_DIR / "scoring_rules.json")
    start_ms = backlog_start_ms(args.events)
    produce_backlog(settings, citizens, args.events, start_ms)

    bare_rates, passes = measure_throughput(home, partitions, args.repeat)
    rates = [scored["records"] / scored["elapsed_s"] for scored in passes]
    bare, events_per_s = max(bare_rates), max(rates)
    scoring_rss = max(scored["max_rss_mb"] for scored in passes)
    print(
        f"best of {args.repeat}: bare read + decode {bare:,.0f} events/s, end to end {events_per_s:,.0f} events/s, "
        f"ratio {events_per_s / bare:.2f}",
        flush=True,
    )

    # later simulated clocks, so each citizen's event times keep moving forward
    clock = start_ms + 2 * args.events * MEAN_GAP_MS
    probe = LatencyProbe(settings, citizens, args.rate, args.latency_seconds, clock, seed=1)
    sensor_p50, sensor_p95, runs_rss = sensor_mode(settings, probe)
    print(
        f"sensor mode at {args.rate:g} events/s: event → snapshot p50 {sensor_p50:.2f} s, p95 {sensor_p95:.2f} s; "
        f"run peak RSS {runs_rss:.0f} MB",
        flush=True,
    )
    clock += 2 * int(args.rate * args.latency_seconds) * MEAN_GAP_MS
    probe = LatencyProbe(settings, citizens, args.rate, args.latency_seconds, clock, seed=2)
    cont_p50, cont_p95 = continuous_mode(settings, probe)
    print(
        f"continuous mode at {args.rate:g} events/s: event → snapshot p50 {cont_p50:.2f} s, p95 {cont_p95:.2f} s",
        flush=True,
    )
    scaled = scale_out(home.with_name(f"{home.name}-scale-out"), citizens, args.events, start_ms)
    print(
        json.dumps(
            {
                "workers_2_over_1": round(scaled[2] / scaled[1], 3),
                "workers_1_events_per_s": round(scaled[1], 1),
                "workers_2_events_per_s": round(scaled[2], 1),
                "events_per_s": round(events_per_s, 1),
                "bare_read_decode_per_s": round(bare, 1),
                "ratio": round(events_per_s / bare, 3),
                "sensor_p50_s": round(sensor_p50, 3),
                "sensor_p95_s": round(sensor_p95, 3),
                "continuous_p50_s": round(cont_p50, 3),
                "continuous_p95_s": round(cont_p95, 3),
                "max_run_rss_mb": round(max(scoring_rss, runs_rss), 1),
                "events_per_s_passes": [round(rate, 1) for rate in rates],
                "bare_read_decode_per_s_passes": [round(rate, 1) for rate in bare_rates],
            }
        )
    )


if __name__ == "__main__":
    main()
