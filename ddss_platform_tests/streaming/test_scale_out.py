"""Issue 19: several `ddss stream` workers share the partitions of group ddss-scoring, on the embedded bus and on
the real Kafka; faults move partitions between them, and every store ends as one clean pass leaves it.

The backlog (50,000 events, 6 partitions) is produced in slices while the faults happen, so the workers are
scoring through every fault: at least 10 of them, workers SIGKILLed, SIGSTOPped (and resumed once the others
have their partitions), and new workers added. A stopped worker resumes in the middle of its range and finds
the partition moved on: its next write is refused (``fenced``), which the test requires to happen at least once.

One fact of the embedded stores shapes the SIGSTOP: they are SQLite files with one writer at a time, so a worker
stopped inside a write transaction would stall every other writer until it resumes. The test stops a worker
only when it holds no write lock (``/proc/locks``); the production stores have no such lock.

Interleaving changes only what the score history records as the score (and tier) before and after each change:
a related citizen's effect can land before or after an event of the target's. Those columns are left out of
the comparison; each history row's change is compared. Likewise whether an effect had to wait for its target's
registration (parked, then applied) or found the target registered: the count of effects applied after
waiting is left out, those still waiting or expired are compared. Every other column and every other store must
be identical (the final snapshots, whose scores and tiers do not depend on the interleaving, included).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ddss_platform.events.simulator import simulate_records
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORED_TOPICS, SCORING_GROUP
from ddss_platform.processing import live_holders, process_backlog
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform.stores.bus import lag
from ddss_platform.stores.documents import APPLIED
from ddss_platform_tests.recent import START_MS
from ddss_platform_tests.streaming.support import REPO, assert_same_contents, seed_stores, store_contents
from ddss_platform_tests.waiting import wait_until

CITIZENS = 2_000
EVENTS = 50_000
PARTITIONS = 6
WORKERS = 3
FAULTS = 12
BATCH = 500
MOVE_TIMEOUT_S = 180.0
INTERLEAVED = {
    "citizen_score_history": ["old_score", "new_score", "tier"],
    "score_change_history": ["oldScore", "newScore", "tier"],
}


def simulated(settings: Settings) -> list:
    with open_stores(settings) as stores:
        return list(simulate_records(stores.codec, CITIZENS, EVENTS, seed=19, bad_fraction=0.005, start_ms=START_MS))


def produce(settings: Settings, batch: list) -> None:
    with open_stores(settings) as stores:
        stores.bus.produce(CITIZEN_EVENTS, batch)


def comparable(contents: dict) -> dict:
    """``store_contents`` without the history's interleaving-dependent columns (see the module doc)."""
    for name, columns in INTERLEAVED.items():
        frame = contents[name].drop(columns=columns)
        contents[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    contents["parked_effects"].pop(APPLIED, None)
    return contents


def write_locks(pid: int) -> list[str]:
    """The exclusive file locks (SQLite's write lock, the writer queue's flock) ``pid`` holds."""
    lines = Path("/proc/locks").read_text().splitlines()
    return [
        line for line in lines if len(fields := line.split()) > 4 and fields[3] == "WRITE" and fields[4] == str(pid)
    ]


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path
    stopped: bool = False

    def output(self) -> str:
        return self.log.read_text()


@dataclass
class Fleet:
    """The workers of one data directory, started as `ddss stream` processes."""

    settings: Settings
    logs: Path
    workers: dict[str, Worker] = field(default_factory=dict)
    started: int = 0
    faults: list[str] = field(default_factory=list)

    def start(self) -> Worker:
        self.started += 1
        name = f"worker-{self.started}"
        log = self.logs / f"{name}.log"
        env = {**os.environ, **self.settings.to_env(), "PYTHONUNBUFFERED": "1"}
        env.pop("DAGSTER_HOME", None)  # the data directory's own instance
        argv = [str(Path(sys.executable).parent / "ddss"), "stream", "--member", name, "--batch-size", str(BATCH)]
        with log.open("w") as out:
            process = subprocess.Popen(
                [*argv, "--linger", "0"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )
        worker = self.workers[name] = Worker(name, process, log)
        return worker

    def check(self) -> None:
        for worker in self.workers.values():
            code = worker.process.poll()
            assert code is None, f"{worker.name} exited with {code}:\n{worker.output()[-3000:]}"

    def owners(self) -> dict[int, str]:
        with open_stores(self.settings) as stores:
            return {p: fence.holder or "" for p, fence in live_holders(stores.documents).items()}

    def owned_by(self, worker: Worker) -> list[int]:
        return sorted(p for p, holder in self.owners().items() if holder.startswith(f"{worker.name} "))

    def running(self) -> list[Worker]:
        return [w for w in self.workers.values() if not w.stopped]

    def all_held_by_running(self) -> bool:
        owners = self.owners()
        names = tuple(f"{w.name} " for w in self.running())
        return len(owners) == PARTITIONS and all(holder.startswith(names) for holder in owners.values())

    def wait_moved(self, what: str) -> None:
        wait_until(self.all_held_by_running, what=what, timeout_s=MOVE_TIMEOUT_S, check=self.check)

    def busiest(self) -> Worker:
        return max(self.running(), key=lambda w: len(self.owned_by(w)))

    def kill(self) -> None:
        victim = self.busiest()
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        del self.workers[victim.name]
        self.wait_moved(f"the partitions of SIGKILLed {victim.name} moved to the live workers")
        self.faults.append(f"SIGKILL {victim.name}")

    def stop_and_resume(self) -> None:
        victim = self.busiest()
        for _ in range(200):  # never inside a SQLite write transaction (see the module doc)
            victim.process.send_signal(signal.SIGSTOP)
            wait_until(lambda: _state(victim.process.pid) == "T", what=f"{victim.name} stopped", timeout_s=30)
            if not write_locks(victim.process.pid):
                break
            victim.process.send_signal(signal.SIGCONT)
            time.sleep(random.uniform(0.0, 0.05))
        victim.stopped = True
        self.wait_moved(f"the partitions of SIGSTOPped {victim.name} moved to the running workers")
        victim.process.send_signal(signal.SIGCONT)
        victim.stopped = False
        self.faults.append(f"SIGSTOP+SIGCONT {victim.name}")

    def add(self) -> None:
        worker = self.start()
        wait_until(
            lambda: self.owned_by(worker),
            what=f"added {worker.name} owns a partition",
            timeout_s=MOVE_TIMEOUT_S,
            check=self.check,
        )
        self.faults.append(f"added {worker.name}")

    def kill_all(self) -> None:
        for worker in self.workers.values():
            worker.process.kill()
            worker.process.wait()

    def stop_all(self) -> None:
        for worker in self.workers.values():
            worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers.values():
            assert worker.process.wait(timeout=120) == 0, worker.output()[-3000:]


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def caught_up(settings: Settings) -> bool:
    with open_stores(settings) as stores:
        ends = stores.bus.end_offsets(CITIZEN_EVENTS)
        if sum(ends.values()) < EVENTS:
            return False
        for topic in SCORED_TOPICS:  # citizen-events first: its ranges produce the effects
            try:
                behind = lag(stores.bus.end_offsets(topic), stores.bus.committed(SCORING_GROUP, topic))
            except Exception:  # noqa: BLE001 - citizen-effects not created yet
                return False
            if sum(behind.values()):
                return False
        return True


def clean_pass(tmp_path: Path, batch: list) -> dict:
    settings = Settings.from_env({"DDSS_HOME": str(tmp_path / "clean"), "DDSS_PARTITIONS": str(PARTITIONS)})
    seed_stores(settings, CITIZENS)
    produce(settings, batch)
    with open_stores(settings) as stores:
        process_backlog(stores, batch_size=BATCH)
    return comparable(store_contents(settings))


def faulty_pass(settings: Settings, logs: Path, batch: list) -> Fleet:
    """Three workers, the backlog produced slice by slice, a fault after each slice: kill, stop, add, in turn."""
    fleet = Fleet(settings, logs)
    slices = [batch[i : i + len(batch) // (FAULTS + 2)] for i in range(0, len(batch), len(batch) // (FAULTS + 2))]
    produce(settings, slices[0])
    try:
        for _ in range(WORKERS):
            fleet.start()
        fleet.wait_moved("three workers own all partitions")
        faults = [fleet.stop_and_resume, fleet.kill, fleet.add]
        for number, piece in enumerate(slices[1:]):
            produce(settings, piece)
            if number < FAULTS:
                faults[number % len(faults)]()
                if len(fleet.workers) < 2:
                    fleet.add()
        wait_until(
            lambda: caught_up(settings), what="the workers scored the whole backlog", timeout_s=900, check=fleet.check
        )
    except BaseException:
        fleet.kill_all()
        raise
    fleet.stop_all()
    return fleet


def assert_like_a_clean_pass(tmp_path: Path, settings: Settings, fleet: Fleet, expected: dict) -> None:
    assert len(fleet.faults) >= 10, fleet.faults
    logs = {path.name: path.read_text() for path in sorted((tmp_path / "logs").glob("*.log"))}
    refused = sum(text.count("fenced: refused a write") for text in logs.values())
    assert refused >= 1, "no stopped worker attempted a write after its partition moved"
    assert_same_contents(expected, comparable(store_contents(settings)))
    with open_stores(settings) as stores:
        assert sum(stores.bus.end_offsets(CITIZEN_EFFECTS).values()) > 0


@pytest.mark.slow
def test_workers_on_the_embedded_bus_survive_faults_and_end_like_a_clean_pass(tmp_path):
    settings = Settings.from_env({"DDSS_HOME": str(tmp_path / "workers"), "DDSS_PARTITIONS": str(PARTITIONS)})
    seed_stores(settings, CITIZENS)
    batch = simulated(settings)
    expected = clean_pass(tmp_path, batch)
    (tmp_path / "logs").mkdir()
    fleet = faulty_pass(settings, tmp_path / "logs", batch)
    assert_like_a_clean_pass(tmp_path, settings, fleet, expected)


def wait_group_empty(bootstrap: str) -> None:
    """Until Kafka has dropped every member (a static member stays for the session timeout after it stops), so
    the next test can delete the group."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})

    def empty() -> bool:
        described = admin.describe_consumer_groups([SCORING_GROUP])[SCORING_GROUP].result(timeout=30)
        return described.state in (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD)

    wait_until(empty, what=f"group {SCORING_GROUP} has no member left", timeout_s=120)


@pytest.mark.live
@pytest.mark.slow
def test_workers_on_kafka_survive_faults_and_end_like_a_clean_pass(tmp_path, kafka_bootstrap):
    """The same on the real Kafka: the group protocol divides the partitions (cooperative-sticky, static
    members), and the broker fences a removed member's commits by its generation."""
    from ddss_platform_tests.fixtures.production import empty_kafka

    empty_kafka(kafka_bootstrap)
    settings = Settings.from_env(
        {
            "DDSS_HOME": str(tmp_path / "workers"),
            "DDSS_PARTITIONS": str(PARTITIONS),
            "DDSS_BUS_URL": f"kafka://{kafka_bootstrap}",
        }
    )
    seed_stores(settings, CITIZENS)
    batch = simulated(settings)
    expected = clean_pass(tmp_path, batch)
    (tmp_path / "logs").mkdir()
    try:
        fleet = faulty_pass(settings, tmp_path / "logs", batch)
    finally:
        wait_group_empty(kafka_bootstrap)
    assert_like_a_clean_pass(tmp_path, settings, fleet, expected)
