"""A demo-like world on the embedded profile for the API tests and bench/api.py.

Everything but the batch aggregates goes through the real pipeline: the seed configuration, rules,
citizens and social graph are loaded through the store ports, the simulator's events are produced
to the bus, and the scoring processor (the code the score_events runs use) processes every
partition to the end. The Flux-derived daily/monthly system metrics are computed by the time-series
port itself. The Spark aggregates are written through the archive port from a pandas computation
over the archive and the snapshots (starting Spark would dominate the tests' time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ddss_platform.cli.world import WORLD_EPOCH_MS, generate_world
from ddss_platform.events.simulator import simulate_records
from ddss_platform.events.topics import ALL_TOPICS, CITIZEN_EVENTS
from ddss_platform.processing import process_backlog
from ddss_platform.scoring import load_configuration
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform.stores.archive import CREDIT_SCORE_AGGREGATES, EVENTS_SUMMARY, day_start_ms
from ddss_platform.stores.documents import new_citizen_document
from ddss_platform.stores.timeseries import SYSTEM_AGGREGATES_DAILY, SYSTEM_AGGREGATES_MONTHLY
from ddss_platform_tests.recent import START_MS

SEED_DIR = Path(__file__).resolve().parents[2] / "schemas" / "seed"
PRODUCE_BATCH = 5_000


@dataclass(frozen=True)
class WorldFacts:
    citizens: int  # seeded; new-citizen events add more
    events: int
    days: list[str]  # days with archived events, 'YYYY-MM-DD'


def build_world(
    settings: Settings, citizens: int = 200, events: int = 3_000, seed: int = 7, bad_fraction: float = 0.02
) -> WorldFacts:
    configuration = json.loads((SEED_DIR / "system_configuration.json").read_text())
    rules = json.loads((SEED_DIR / "scoring_rules.json").read_text())
    config = load_configuration(configuration)
    with open_stores(settings) as ports:
        for port in (ports.documents, ports.timeseries, ports.graph, ports.archive):
            port.ensure_schema()
        ports.documents.put_configuration(configuration)
        ports.documents.upsert_rules(rules)
        world = generate_world(citizens, seed)
        baseline = config.baseline_score
        ports.documents.create_citizens(
            new_citizen_document(
                c.national_id, c.profile, c.flags, baseline, config.tier_for(baseline), WORLD_EPOCH_MS, c.contact_info
            )
            for c in world.citizens
        )
        ports.graph.upsert_relationships(world.relationships)

        for topic in ALL_TOPICS:
            ports.bus.ensure_topic(topic, settings.partitions)
        records = list(
            simulate_records(ports.codec, citizens, events, seed=seed, bad_fraction=bad_fraction, start_ms=START_MS)
        )
        for start in range(0, len(records), PRODUCE_BATCH):
            ports.bus.produce(CITIZEN_EVENTS, records[start : start + PRODUCE_BATCH])
        process_backlog(ports)

        days = sorted(ports.archive.count_by_day())
        span = (day_start_ms(days[0]) * 1_000_000, (day_start_ms(days[-1]) + 86_400_000) * 1_000_000)
        for metric in (SYSTEM_AGGREGATES_DAILY, SYSTEM_AGGREGATES_MONTHLY):
            ports.timeseries.compute_derived(metric, *span)
        write_aggregates(ports, days, config)
    return WorldFacts(citizens=citizens, events=events, days=days)


def write_aggregates(ports, days: list[str], config) -> None:
    """Both aggregate tables for each day: the region's current snapshot statistics and that day's
    archived events per type and region."""
    snapshots = ports.documents.all_snapshots()
    tiers = {t: f"tier_{t.lower()}_count" for t in ("Exemplary", "Standard", "Caution", "HighRisk")}
    for day in days:
        events = ports.archive.read_events(day=day)
        net = events.groupby("citizen_id")["score_impact"].sum()
        scores = snapshots.assign(net=snapshots["nationalID"].map(net).fillna(0.0))
        by_region = scores.groupby("region")
        credit = by_region["score"].agg(
            citizens="count", avg_score="mean", median_score="median", min_score="min", max_score="max"
        )
        for tier, column in tiers.items():
            credit[column] = by_region["tier"].apply(lambda s, tier=tier: int((s == tier).sum()))
        credit["improvements"] = by_region["net"].apply(lambda s: int((s > 0).sum()))
        credit["deteriorations"] = by_region["net"].apply(lambda s: int((s < 0).sum()))
        credit["last_updated"] = day_start_ms(day)
        ports.archive.write_aggregates(CREDIT_SCORE_AGGREGATES, credit.reset_index(), day)

        summary = events.groupby(["event_type", "region"]).agg(
            event_count=("event_id", "count"),
            total_score_impact=("score_impact", "sum"),
            avg_score_impact=("score_impact", "mean"),
            distinct_citizens=("citizen_id", "nunique"),
        )
        summary["last_updated"] = day_start_ms(day)
        ports.archive.write_aggregates(EVENTS_SUMMARY, summary.reset_index(), day)


def store_contents(settings: Settings) -> dict[str, object]:
    """Everything the API could change, read back through the ports (to compare before/after)."""
    with open_stores(settings) as ports:
        return {
            "citizens": ports.documents.all_snapshots().sort_values("nationalID").to_dict("records"),
            "configuration": ports.documents.load_active_configuration(),
            "edges": ports.graph.all_edges().sort_values(["source", "target", "type"]).astype(str).to_dict("records"),
            "archive": ports.archive.read_events().to_dict("records"),
            "bus": {t: ports.bus.end_offsets(t) for t in ALL_TOPICS},
            "files": sorted(str(p.relative_to(settings.home)) for p in settings.home.rglob("*.parquet")),
        }


__all__ = ["WorldFacts", "build_world", "store_contents"]
