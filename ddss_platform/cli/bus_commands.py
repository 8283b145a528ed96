"""``ddss simulate``, ``ddss emit`` and ``ddss topics``: put events on the bus and look at it."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import typer
from tqdm import tqdm

from ddss_platform.cli.app import app
from ddss_platform.events.codec import EventCodec
from ddss_platform.events.manual import parse_event_json, prepare_manual_event
from ddss_platform.events.simulator import recent_start_ms, simulate_records
from ddss_platform.events.topics import ALL_TOPICS, CITIZEN_EFFECTS, CITIZEN_EVENTS, SCORED_TOPICS, SCORING_GROUP
from ddss_platform.events.validation import EventValidationError
from ddss_platform.processing import describe_holder, live_holders
from ddss_platform.settings import Settings
from ddss_platform.stores.bus import EventBus, ProduceRecord, UnknownTopicError, lag, open_bus, open_codec
from ddss_platform.stores.bus.digest import topic_digest

PRODUCE_BATCH = 5_000


def _open(settings: Settings, partitions: int | None = None) -> tuple[EventBus, EventCodec]:
    bus = open_bus(settings)
    for topic in ALL_TOPICS:
        bus.ensure_topic(topic, partitions or settings.partitions)
    return bus, open_codec(settings)


def produce_events(bus: EventBus, records: Iterator[ProduceRecord], total: int, rate: float | None = None) -> int:
    """Produce ``records`` (``total`` of them) to citizen-events in batches behind a progress bar, paced at
    ``rate`` events per second when given; returns how many were produced."""
    batch_size = PRODUCE_BATCH if rate is None else max(1, min(PRODUCE_BATCH, int(rate / 10)))
    started = time.perf_counter()
    produced = 0
    with tqdm(total=total, unit="ev", desc="simulate", file=sys.stderr) as progress:
        while batch := list(islice(records, batch_size)):
            produced += bus.produce(CITIZEN_EVENTS, batch)
            progress.update(len(batch))
            if rate is not None:  # pace: sleep until the wall clock catches up with the target rate
                time.sleep(max(0.0, produced / rate - (time.perf_counter() - started)))
    return produced


@app.command()
def simulate(
    citizens: int = typer.Option(1000, min=2, help="Seeded citizens (IDs as `ddss init --citizens N` creates)."),
    events: int = typer.Option(10_000, min=0, help="Events to produce."),
    rate: float | None = typer.Option(None, min=0.001, help="Events per second to pace at (default: flat out)."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives byte-identical topic contents."),
    bad_fraction: float = typer.Option(
        0.0, min=0.0, max=1.0, help="Share of malformed records (garbage, wrong schema, bad severity)."
    ),
    partitions: int | None = typer.Option(None, min=1, help="Partitions of a new topic (default DDSS_PARTITIONS)."),
    start_ms: int | None = typer.Option(
        None,
        help="Timestamp (epoch ms) the simulated clock starts at; the same seed and start give byte-identical "
        "records. Default: recent, so that the stream ends about an hour ago.",
    ),
) -> None:
    """Produce simulated citizen events to the citizen-events topic."""
    settings = Settings.from_env()
    bus, codec = _open(settings, partitions)
    if start_ms is None:
        start_ms = recent_start_ms(events, time.time_ns() // 1_000_000)
    records = simulate_records(codec, citizens, events, seed=seed, bad_fraction=bad_fraction, start_ms=start_ms)
    started = time.perf_counter()
    try:
        produced = produce_events(bus, records, events, rate)
    finally:
        bus.close()
    elapsed = time.perf_counter() - started
    typer.echo(
        f"produced {produced} events to {CITIZEN_EVENTS} in {elapsed:.2f} s: "
        f"{produced / elapsed if elapsed else 0:.0f} events/s"
    )


@app.command()
def emit(
    event_json: str | None = typer.Argument(None, help="The event as a JSON object (default: read stdin)."),
    file: Path | None = typer.Option(
        None, "--file", exists=True, dir_okay=False, help="A file of JSON lines, one event per line."
    ),
) -> None:
    """Produce hand-written events after validating them (eventId and timestamp are filled when absent).

    Every event is checked before anything is produced: one invalid event refuses the whole input."""
    if file is not None and event_json is not None:
        raise typer.BadParameter("give the event as an argument or --file, not both")
    if file is not None:
        lines = [(f"{file}:{n}", line) for n, line in enumerate(file.read_text().splitlines(), 1) if line.strip()]
    else:
        lines = [("event", event_json if event_json is not None else sys.stdin.read())]
    now_ms = time.time_ns() // 1_000_000
    events = []
    for where, text in lines:
        try:
            events.append(prepare_manual_event(parse_event_json(text), now_ms, lambda: str(uuid.uuid4())))
        except EventValidationError as exc:
            typer.echo(f"refused {where}: {exc.field}: {exc.reason}", err=True)
            raise typer.Exit(code=2) from None
    if not events:
        typer.echo("no events given", err=True)
        raise typer.Exit(code=2)
    bus, codec = _open(Settings.from_env())
    try:
        produced = bus.produce(CITIZEN_EVENTS, [(e["citizenId"], codec.encode(e)) for e in events])
    finally:
        bus.close()
    for event in events:
        typer.echo(f"{event['eventId']} {event['citizenId']} {event['eventType']}")
    typer.echo(f"produced {produced} event(s) to {CITIZEN_EVENTS}")


@app.command()
def topics(
    digest: bool = typer.Option(False, help="Also print a SHA-256 of each topic's contents (to compare runs)."),
) -> None:
    """Show each topic's partitions and end offsets; for the topics group ddss-scoring consumes (citizen-events,
    citizen-effects) also the group's committed offsets and lag, who scores each partition (the `ddss stream`
    worker or score_events run holding its fence, else the scoring sensor's runs), and what became of the
    association effects (no group reads the dead-letter topic: the dead_letter_rate check and the API's
    dead-letter count read it whole)."""
    settings = Settings.from_env()
    bus = open_bus(settings)
    owners = _owners(settings)
    try:
        for topic in ALL_TOPICS:
            try:
                ends = bus.end_offsets(topic)
            except UnknownTopicError:
                typer.echo(f"{topic}: not created yet")
                continue
            if topic not in SCORED_TOPICS:
                typer.echo(f"{topic}: {len(ends)} partitions, {sum(ends.values())} records, read by no consumer group")
                for partition, end in ends.items():
                    typer.echo(f"  partition {partition}: end offset {end}")
                continue
            committed = bus.committed(SCORING_GROUP, topic)
            behind = lag(ends, committed)
            typer.echo(
                f"{topic}: {len(ends)} partitions, {sum(ends.values())} records, "
                f"group {SCORING_GROUP} lag {sum(behind.values())}"
            )
            for partition, end in ends.items():
                typer.echo(
                    f"  partition {partition}: end offset {end}, committed {committed[partition]}, "
                    f"lag {behind[partition]}, scored by {describe_holder(owners.get(partition))}"
                )
            if digest:
                typer.echo(f"  sha256 {topic_digest(bus, topic)}")
        _effects_report(settings, bus)
    finally:
        bus.close()


def _owners(settings: Settings) -> dict:
    """partition -> the live holder of its fence (``processing.lease``); nothing when the store is not set up."""
    from ddss_platform.stores.documents import open_documents

    documents = open_documents(settings)
    try:
        return live_holders(documents)
    finally:
        documents.close()


def _effects_report(settings: Settings, bus: EventBus) -> None:
    """What became of the effects consumed from citizen-effects: applied when delivered, or parked (then applied
    when the target registered, expired, or still waiting)."""
    from ddss_platform.stores.documents import APPLIED, EXPIRED, PARKED, open_documents

    try:
        consumed = sum(bus.committed(SCORING_GROUP, CITIZEN_EFFECTS).values())
        produced = sum(bus.end_offsets(CITIZEN_EFFECTS).values())
    except UnknownTopicError:
        return
    if not produced:  # nothing scored yet (the document store may not even be initialised)
        typer.echo("association effects: none produced yet")
        return
    documents = open_documents(settings)
    try:
        parked = documents.parked_effect_counts()
    finally:
        documents.close()
    ever_parked = sum(parked.values())
    typer.echo(
        f"association effects: {produced} produced, {consumed} consumed: {consumed - ever_parked} applied on "
        f"delivery (or dropped: replays of a retried range, dead letters), {ever_parked} parked for a citizen "
        f"not registered yet: {parked.get(APPLIED, 0)} applied late, {parked.get(EXPIRED, 0)} expired, "
        f"{parked.get(PARKED, 0)} waiting"
    )
