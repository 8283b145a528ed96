"""``ddss stream`` (continuous scoring, a worker of the scoring group) and ``ddss demo`` (the whole pipeline once)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable

import typer
from tqdm import tqdm

from ddss_platform.cli.app import app, check_stores
from ddss_platform.events.topics import CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.processing import DEFAULT_BATCH_SIZE, RangeResult, holder_name, next_range, process_range
from ddss_platform.processing.result import EFFECT_COUNTS
from ddss_platform.processing.worker import WorkerPartitions
from ddss_platform.settings import Settings
from ddss_platform.stores import Stores, open_stores
from ddss_platform.stores.archive import DAY_MS
from ddss_platform.stores.bus import FencedError, UnknownTopicError, lag

STREAM_MEMBER = "ddss stream"


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


@app.command()
def stream(
    batch_size: int = typer.Option(DEFAULT_BATCH_SIZE, min=1, help="Most records scored per partition per step."),
    poll: float = typer.Option(0.1, min=0.01, help="Seconds between looks at the topic when there is no lag."),
    linger: float = typer.Option(
        0.2,
        min=0.0,
        help="Seconds to let new records gather before scoring them "
        "(fewer, larger writes; adds at most this to the latency).",
    ),
    exit_when_idle: float | None = typer.Option(
        None, min=0.0, help="Stop after this many seconds without lag (default: run until Ctrl-C)."
    ),
    member: str | None = typer.Option(
        None,
        envvar="DDSS_STREAM_MEMBER",
        help="This worker's stable name in the group (Kafka static membership: restarted under the same name "
        "within the session timeout, it gets its partitions back without a rebalance). Default: a name of its "
        "own per process.",
    ),
) -> None:
    """Score continuously as a worker of consumer group ddss-scoring, with seconds of latency instead of sensor
    ticks. Start several (on one host or many): the group divides the partitions among them and moves a
    stopped or dead worker's partitions to the others, each resuming from its committed offset. A worker
    that lost a partition can no longer write or commit for it (its fence). The scoring sensor launches no
    runs for the partitions the workers own. Each range a worker commits is reported to the Dagster instance
    (DAGSTER_HOME's, else the data directory's) as runless materializations of the scoring outputs, as the
    sensor's runs report theirs."""
    # imported here: the other commands start without Dagster
    from ddss_platform.defs.dagster_instance import command_instance
    from ddss_platform.defs.streaming.reports import BackgroundReports
    from ddss_platform.defs.streaming.resources import ScoringTuning

    settings = Settings.from_env()
    name = member or f"{STREAM_MEMBER}-{socket.gethostname()}-{os.getpid()}"
    # the stores and the instance first: one that cannot be reached ends the command before it joins the group
    with open_stores(settings) as stores, command_instance(settings) as instance:
        # both stop it cleanly, even when started from a script that had SIGINT ignored (as `cmd &` does)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, _raise_interrupt)
        effects: Counter = Counter()
        reports = BackgroundReports(instance, ScoringTuning())

        def on_commit(result: RangeResult) -> None:
            effects.update(result.effect_counts())
            typer.echo(result.summary())
            if not result.already_committed:
                reports.submit(result)

        membership = partitions = None
        try:
            membership = _join(stores, name, static=member is not None, poll=poll)
            typer.echo(f"{name} joined consumer group {SCORING_GROUP}")
            partitions = WorkerPartitions(stores.documents, membership, holder_name(name), typer.echo)
            _consume(stores, partitions, batch_size, poll, linger, exit_when_idle, on_commit)
        except KeyboardInterrupt:
            typer.echo("stopping")
        finally:
            try:
                reports.close()  # before the partitions move: the reports stay in commit order
            finally:
                typer.echo(effects_summary(effects))
                if partitions is not None:
                    typer.echo(f"fenced writes refused: {partitions.refused_writes}")
                    partitions.release_all()
                if membership is not None:
                    membership.close()
                    typer.echo(f"{name} left consumer group {SCORING_GROUP}; its partitions move to the others")


def _join(stores: Stores, name: str, static: bool, poll: float):
    """Join the group once citizen-events exists (`ddss init` or `ddss simulate` creates it)."""
    told = False
    while True:
        try:
            return stores.bus.join(SCORING_GROUP, name, CITIZEN_EVENTS, static=static)
        except UnknownTopicError:
            if not told:
                typer.echo(f"waiting for topic {CITIZEN_EVENTS} (`ddss init` or `ddss simulate` creates it)")
                told = True
            time.sleep(max(poll, 1.0))


def effects_summary(effects: Counter) -> str:
    """One line of the association effects this command handled (``RangeResult.effect_counts``)."""
    return "association effects: " + ", ".join(f"{name.replace('_', ' ')} {effects[name]}" for name in EFFECT_COUNTS)


def _lags(bus, held) -> dict[str, tuple[dict[int, int], dict[int, int]]]:
    """topic -> (end offsets, committed offsets) of the partitions this worker holds."""
    offsets = {}
    for topic in (CITIZEN_EVENTS, CITIZEN_EFFECTS):
        try:
            ends, committed = bus.end_offsets(topic), bus.committed(SCORING_GROUP, topic)
        except UnknownTopicError:  # no association effect produced yet
            continue
        offsets[topic] = {p: ends[p] for p in held if p in ends}, committed
    return offsets


def _consume(
    stores: Stores,
    partitions: WorkerPartitions,
    batch_size: int,
    poll: float,
    linger: float,
    exit_when_idle: float | None,
    on_commit: Callable[[RangeResult], None],
) -> None:
    idle_since = time.monotonic()
    pending_since = None
    while True:
        held = partitions.refresh()
        offsets = _lags(stores.bus, held)
        behind = sum(sum(lag(ends, committed).values()) for ends, committed in offsets.values())
        now = time.monotonic()
        if behind == 0:
            pending_since = None
            if not partitions.ever_assigned:
                idle_since = now  # idle only counts once the group gave this worker its partitions
            elif exit_when_idle is not None and now - idle_since >= exit_when_idle:
                return
            time.sleep(poll)
            continue
        pending_since = pending_since or now
        if behind < batch_size and now - pending_since < linger:
            time.sleep(min(poll, linger))
            continue
        for topic, (ends, committed) in offsets.items():
            for partition in sorted(ends):
                rng = next_range(topic, partition, committed[partition], ends[partition], batch_size)
                if rng is None or partition not in partitions.held:
                    continue
                try:
                    on_commit(process_range(stores, rng, owner=partitions.held[partition]))
                except FencedError as error:
                    partitions.refused(partition, error)
        pending_since = None
        idle_since = time.monotonic()


@app.command()
def demo(
    citizens: int = typer.Option(1000, min=2, help="Citizens of the seed world."),
    events: int = typer.Option(20_000, min=1, help="Events to simulate."),
    bad_fraction: float = typer.Option(0.01, min=0.0, max=1.0, help="Share of malformed records."),
    seed: int = typer.Option(0, help="Simulator seed."),
    start_ms: int | None = typer.Option(
        None,
        help="Epoch ms the simulated clock starts at (default: recent, the stream ends about an hour before today "
        "began, UTC: every day it covers is a complete daily partition).",
    ),
    timeout: float = typer.Option(900.0, min=1.0, help="Seconds to wait for the runs to catch up."),
    aggregate: bool = typer.Option(
        True, help="Then run the Spark daily aggregates for each day with events, as the daily schedule would."
    ),
) -> None:
    """Run the platform once end to end: init → simulate → start the Dagster daemon → wait while the scoring
    sensor's runs score everything (lag zero) → aggregate the days with Spark → print what every store received
    and the score distribution. The dashboard's and the Dagster UI's default windows then show the data."""
    from ddss_platform.cli.bus_commands import produce_events
    from ddss_platform.cli.store_commands import SEED_DIR, initialise
    from ddss_platform.defs import dagster_instance
    from ddss_platform.events.simulator import recent_start_ms, simulate_records

    settings = Settings.from_env()
    check_stores(settings)
    started = time.perf_counter()
    typer.echo(f"[1/5] ddss init ({citizens} citizens) in {settings.home}")
    for action in initialise(
        settings, citizens, 42, SEED_DIR / "system_configuration.json", SEED_DIR / "scoring_rules.json"
    ):
        typer.echo(f"      {action}")
    typer.echo(f"[2/5] ddss simulate: {events} events ({bad_fraction:.0%} malformed)")
    with open_stores(settings) as stores:
        start = recent_start_ms(events, _today_start_ms()) if start_ms is None else start_ms
        records = simulate_records(stores.codec, citizens, events, seed=seed, bad_fraction=bad_fraction, start_ms=start)
        produce_events(stores.bus, records, events)
    instance = dagster_instance.open_instance(settings)
    daemon = None
    try:
        if dagster_instance.daemon_running(instance):
            typer.echo("[3/5] a Dagster daemon of this data directory is already running: its sensor does the work")
        else:
            typer.echo(f"[3/5] starting the Dagster daemon (DAGSTER_HOME={dagster_instance.dagster_home(settings)})")
            daemon = dagster_instance.start_daemon(settings)
            dagster_instance.wait_for_daemon(settings, daemon)
        typer.echo("[4/5] waiting for the scoring sensor's runs to bring the lag to zero")
        _wait_for_runs(settings, instance, daemon, timeout)
    finally:
        if daemon is not None:
            daemon.stop()
    if aggregate:
        _aggregate_days(settings, instance)
    _print_summary(settings, instance, time.perf_counter() - started)
    instance.dispose()


def _today_start_ms() -> int:
    """The start of today (UTC): the demo's days end before it, so each is a daily partition (Dagster's daily
    partitions end with the last complete day) that the Spark job aggregates and the UI offers."""
    return time.time_ns() // 1_000_000 // DAY_MS * DAY_MS


def _aggregate_days(settings: Settings, instance) -> None:
    """The spark_aggregates job for every day the archive holds events of, in this process on the demo's instance
    (each run starts its Spark driver), so the region views have aggregates and the UI their materializations."""
    from ddss_platform.definitions import defs

    today = time.strftime("%Y-%m-%d", time.gmtime())
    with open_stores(settings) as stores:
        days = [day for day in sorted(stores.archive.count_by_day()) if day < today]  # today is no partition yet
    typer.echo(f"[5/5] Spark daily aggregates of {len(days)} day(s): {', '.join(days)}")
    job = defs.resolve_job_def("spark_aggregates")
    for day in days:
        result = job.execute_in_process(
            partition_key=day,
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},  # the UI has the run's log
        )
        if not result.success:
            _fail(f"the Spark aggregation of {day} failed (run {result.run_id}); see it in the Dagster UI (ddss up)")
        typer.echo(f"      {day}: run {result.run_id[:8]} succeeded")


def _wait_for_runs(settings: Settings, instance, daemon, timeout: float) -> None:
    from ddss_platform.defs.scoring_runs import backlog

    deadline = time.monotonic() + timeout
    with open_stores(settings) as stores, tqdm(unit="ev", desc="scored", file=sys.stderr) as progress:
        base = None
        while True:
            produced, behind, running = backlog(stores.bus, instance)
            # a run commits its offsets once, at its end, but writes the archive chunk by chunk: the bar follows
            # the archive between commits (dead letters, never archived, count at the commit)
            archived = sum(stores.archive.count_by_day().values())
            base = base or (produced - behind, archived)
            scored = max(produced - behind, min(produced, base[0] + archived - base[1]))
            progress.total = produced
            progress.update(scored - progress.n)
            if not behind and not running:
                return
            if daemon is not None and not daemon.alive():
                _fail(f"the Dagster daemon exited; see {daemon.log_path}")
            if time.monotonic() > deadline:
                _fail(
                    f"lag still {behind} after {timeout:.0f} s; see the runs in the Dagster UI (ddss up) "
                    f"or {daemon.log_path if daemon else settings.home / 'dagster'}"
                )
            time.sleep(2.0)


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _materialized(instance, key: str, field: str) -> int:
    """Sum of ``field`` over every materialization of ``key`` the scoring runs reported."""
    from ddss_platform.defs.lineage import materializations

    return sum(
        r.asset_materialization.metadata[field].value
        for r in materializations(instance, key)
        if r.asset_materialization and field in r.asset_materialization.metadata
    )


def _print_summary(settings: Settings, instance, elapsed: float) -> None:
    import dagster as dg

    from ddss_platform.defs.asset_keys import (
        EVENTS_ARCHIVE_ASSET,
        RAW_EVENTS_ASSET,
        SCORE_CHANGE_HISTORY_ASSET,
        SCORE_SNAPSHOTS_ASSET,
    )
    from ddss_platform.defs.scoring_runs import SCORE_EVENTS_JOB
    from ddss_platform.processing import read_dead_letters

    runs = instance.get_runs(filters=dg.RunsFilter(job_name=SCORE_EVENTS_JOB))
    succeeded = sum(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    with open_stores(settings) as stores:
        produced = sum(stores.bus.end_offsets(CITIZEN_EVENTS).values())
        effect_records = sum(stores.bus.end_offsets(CITIZEN_EFFECTS).values())
        reasons: dict[str, int] = {}
        for letter in read_dead_letters(stores.bus):
            reasons[letter.reason] = reasons.get(letter.reason, 0) + 1
        archived = sum(stores.archive.count_by_day().values())
        tiers = stores.documents.count_by_tier()
    dead = sum(reasons.values())
    typer.echo(
        f"\nScored {produced} records through {len(runs)} sensor-launched score_events runs "
        f"({succeeded} succeeded) in {elapsed:.1f} s"
    )
    rows = [
        ("citizen-events (bus)", f"{produced} records, group {SCORING_GROUP} lag 0"),
        (
            "citizen-events-dlq",
            f"{dead} dead letters"
            + (f" ({', '.join(f'{k} {v}' for k, v in sorted(reasons.items()))})" if reasons else ""),
        ),
        (
            "citizen-effects",
            f"{effect_records} association effects; "
            + ", ".join(
                f"{name.replace('_', ' ')} {_materialized(instance, SCORE_SNAPSHOTS_ASSET, f'effects_{name}')}"
                for name in EFFECT_COUNTS
                if name != "produced"  # the records of the topic, counted before
            ),
        ),
        (EVENTS_ARCHIVE_ASSET, f"{archived} events"),
        (RAW_EVENTS_ASSET, f"{_materialized(instance, RAW_EVENTS_ASSET, 'points')} points"),
        (SCORE_CHANGE_HISTORY_ASSET, f"{_materialized(instance, SCORE_CHANGE_HISTORY_ASSET, 'points')} points"),
        (
            SCORE_SNAPSHOTS_ASSET,
            f"{_materialized(instance, SCORE_SNAPSHOTS_ASSET, 'snapshots')} snapshot updates, "
            f"{_materialized(instance, SCORE_SNAPSHOTS_ASSET, 'new_citizens')} new citizens",
        ),
    ]
    for name, text in rows:
        typer.echo(f"  {name:22s} {text}")
    total = sum(tiers.values()) or 1
    typer.echo("Score distribution by tier:")
    for tier, count in sorted(tiers.items(), key=lambda item: -item[1]):
        typer.echo(f"  {tier:12s} {count:7d}  {count / total:6.1%}")
    typer.echo("Open the Dagster UI (sensor ticks, runs, assets and the dead_letter_rate check) with: ddss up")
