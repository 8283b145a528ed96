"""``ddss init``: create every store's schema and load the seed configuration, rules and world."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import typer
from tqdm import tqdm

from ddss_platform.cli.app import app
from ddss_platform.cli.world import World, generate_world
from ddss_platform.events.topics import ALL_TOPICS
from ddss_platform.scoring import ScoringDocumentError, load_configuration, load_rules
from ddss_platform.settings import Settings
from ddss_platform.stores.archive import open_archive
from ddss_platform.stores.bus import UnknownTopicError, open_bus
from ddss_platform.stores.documents import DocumentStore, DocumentValidationError, new_citizen_document, open_documents
from ddss_platform.stores.graph import GraphStore, open_graph
from ddss_platform.stores.timeseries import open_timeseries

SEED_DIR = Path(__file__).resolve().parents[2] / "schemas" / "seed"
CHUNK = 5_000  # citizens / relationships per store call


class SeedError(ValueError):
    """A seed document is refused; the message names the document and the field."""


def _ensure_topics(settings: Settings) -> list[str]:
    bus = open_bus(settings)
    try:
        actions = []
        for topic in ALL_TOPICS:
            try:
                bus.partitions(topic)
            except UnknownTopicError:
                count = bus.ensure_topic(topic, settings.partitions)
                actions.append(f"bus: created topic {topic} with {count} partitions")
        return actions
    finally:
        bus.close()


def _ensure_port_schema(opener: Callable[[Settings], object]) -> Callable[[Settings], list[str]]:
    def ensure(settings: Settings) -> list[str]:
        store = opener(settings)
        try:
            return store.ensure_schema()
        finally:
            store.close()

    return ensure


# Every port init prepares; a new port is one more line.
SCHEMA_STEPS: list[Callable[[Settings], list[str]]] = [
    _ensure_topics,
    _ensure_port_schema(open_documents),
    _ensure_port_schema(open_timeseries),
    _ensure_port_schema(open_graph),
    _ensure_port_schema(open_archive),
]


def load_seed_documents(configuration_path: Path, rules_path: Path) -> tuple[dict, list[dict]]:
    """The seed configuration and rules, checked by the scoring core (SeedError names rule and field)."""
    configuration = json.loads(configuration_path.read_text())
    rules = json.loads(rules_path.read_text())
    try:
        load_configuration(configuration)
        load_rules(rules)
    except ScoringDocumentError as error:
        raise SeedError(
            f"refused {error} (from {configuration_path.name if error.kind == 'configuration' else rules_path.name})"
        ) from None
    return configuration, rules


def _load_seed(documents: DocumentStore, configuration: dict, rules: list[dict]) -> list[str]:
    actions = []
    try:
        if documents.put_configuration(configuration):
            actions.append(f"documents: stored configuration {configuration['configID']} (ACTIVE)")
        changed = documents.upsert_rules(rules)
    except DocumentValidationError as error:
        raise SeedError(f"refused by the document schema: {error}") from None
    if changed:
        actions.append(f"documents: stored {changed} scoring rules")
    return actions


def _create_citizens(documents: DocumentStore, world: World, configuration: dict, now_ms: int) -> list[str]:
    config = load_configuration(configuration)
    baseline, tier = config.baseline_score, config.tier_for(config.baseline_score)
    existing = set()
    ids = [c.national_id for c in world.citizens]
    for start in range(0, len(ids), CHUNK):
        existing |= set(documents.get_citizens(ids[start : start + CHUNK]))
    missing = [c for c in world.citizens if c.national_id not in existing]
    created = 0
    with tqdm(total=len(missing), unit="citizen", desc="citizens", file=sys.stderr, disable=not missing) as progress:
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            created += documents.create_citizens(
                new_citizen_document(c.national_id, c.profile, c.flags, baseline, tier, now_ms, c.contact_info)
                for c in chunk
            )
            progress.update(len(chunk))
    return [f"documents: created {created} citizens at the baseline score {baseline} ({tier})"] if created else []


def _create_graph(graph: GraphStore, world: World) -> list[str]:
    """Add the seed world's nodes and the relationships that do not exist yet; relationships the
    running system changed or ended since are left as they are."""
    ids = [c.national_id for c in world.citizens]
    nodes = sum(graph.upsert_nodes(ids[start : start + CHUNK]) for start in range(0, len(ids), CHUNK))
    existing = set()
    for start in range(0, len(ids), CHUNK):
        existing |= {e.key for edges in graph.outgoing(ids[start : start + CHUNK]).values() for e in edges}
    missing = [e for e in world.relationships if e.key not in existing]
    edges = 0
    with tqdm(total=len(missing), unit="edge", desc="relationships", file=sys.stderr, disable=not missing) as progress:
        for start in range(0, len(missing), 10 * CHUNK):
            chunk = missing[start : start + 10 * CHUNK]
            edges += graph.upsert_relationships(chunk)
            progress.update(len(chunk))
    actions = [f"graph: created {nodes} citizen nodes"] if nodes else []
    return actions + ([f"graph: created {edges} relationships"] if edges else [])


def initialise(settings: Settings, citizens: int, seed: int, configuration_path: Path, rules_path: Path) -> list[str]:
    """Everything `ddss init` does; returns the actions taken (empty: nothing to do)."""
    configuration, rules = load_seed_documents(configuration_path, rules_path)
    settings.home.mkdir(parents=True, exist_ok=True)
    actions = [action for step in SCHEMA_STEPS for action in step(settings)]
    world = generate_world(citizens, seed)
    documents = open_documents(settings)
    try:
        actions += _load_seed(documents, configuration, rules)
        actions += _create_citizens(documents, world, configuration, time.time_ns() // 1_000_000)
    finally:
        documents.close()
    graph = open_graph(settings)
    try:
        actions += _create_graph(graph, world)
    finally:
        graph.close()
    return actions


@app.command()
def init(
    citizens: int = typer.Option(1000, min=0, help="Citizens of the seed world (nationalIDs CIT00000000…)."),
    seed: int = typer.Option(42, help="Seed of the world generator: the same seed gives the same world."),
    configuration: Path = typer.Option(
        SEED_DIR / "system_configuration.json",
        exists=True,
        dir_okay=False,
        help="The system configuration to make ACTIVE.",
    ),
    rules: Path = typer.Option(
        SEED_DIR / "scoring_rules.json", exists=True, dir_okay=False, help="The scoring rules to load (a JSON list)."
    ),
) -> None:
    """Create every store's schema, topics, indexes and tables, then load the seed configuration, rules
    and a world of --citizens citizens with their social graph. Running it again changes nothing."""
    started = time.perf_counter()
    try:
        actions = initialise(Settings.from_env(), citizens, seed, configuration, rules)
    except SeedError as error:
        typer.echo(f"ddss init: {error}", err=True)
        raise typer.Exit(code=1) from None
    for action in actions:
        typer.echo(action)
    elapsed = time.perf_counter() - started
    if actions:
        typer.echo(f"initialised in {elapsed:.1f} s")
    else:
        typer.echo(
            f"nothing to do: every store is ready and the seed world of {citizens} citizens is loaded ({elapsed:.1f} s)"
        )
