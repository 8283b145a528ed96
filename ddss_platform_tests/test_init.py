"""`ddss init` on the embedded profile: everything created once, a second run has nothing to do."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ddss_platform.cli import app
from ddss_platform.cli.store_commands import SEED_DIR
from ddss_platform.settings import Settings
from ddss_platform.stores.bus import open_bus
from ddss_platform.stores.documents import open_documents
from ddss_platform.stores.graph import open_graph

STORE_URLS = ("DDSS_BUS_URL", "DDSS_DOCUMENTS_URL", "DDSS_TIMESERIES_URL", "DDSS_GRAPH_URL", "DDSS_ARCHIVE_URL")


@pytest.fixture
def embedded_home(ddss_home, monkeypatch):
    for name in STORE_URLS:
        monkeypatch.delenv(name, raising=False)
    return ddss_home


def run(*args: str):
    return CliRunner().invoke(app, ["init", *args], catch_exceptions=False)


def test_init_creates_everything_once(embedded_home):
    first = run("--citizens", "300", "--seed", "7")
    assert first.exit_code == 0, first.output
    assert "documents: created 300 citizens" in first.output
    assert "graph: created 300 citizen nodes" in first.output
    assert "bus: created topic citizen-events" in first.output

    settings = Settings.from_env()
    documents = open_documents(settings)
    try:
        config = documents.load_active_configuration()
        assert config["configID"] == json.loads((SEED_DIR / "system_configuration.json").read_text())["configID"]
        assert len(documents.load_active_rules(config["activeRuleSet"])) >= 12
        assert documents.citizen_count() == 300
        assert documents.count_by_tier() == {"Standard": 300}  # the seed baseline 500 falls in Standard
        snapshot = documents.get_citizens(["CIT00000299"])["CIT00000299"]["scoreSnapshot"]
        assert snapshot["currentScore"] == config["baselineScore"]
    finally:
        documents.close()
    graph = open_graph(settings)
    try:
        counts = graph.counts()
        assert counts.nodes == 300 and all(n > 0 for n in counts.edges.values())
    finally:
        graph.close()
    bus = open_bus(settings)
    try:
        assert len(bus.partitions("citizen-events")) == settings.partitions
    finally:
        bus.close()

    second = run("--citizens", "300", "--seed", "7")
    assert second.exit_code == 0, second.output
    assert second.output.startswith("nothing to do")


def test_init_keeps_what_the_running_system_changed(embedded_home):
    assert run("--citizens", "50").exit_code == 0
    settings = Settings.from_env()
    graph = open_graph(settings)
    try:
        edge = graph.all_edges().iloc[0]
        assert graph.end_relationships([(edge.source, edge.target, edge.type, 1)]) == 1
    finally:
        graph.close()
    assert run("--citizens", "50").output.startswith("nothing to do")


def test_a_bad_seed_rule_is_refused_naming_rule_and_field(embedded_home, tmp_path):
    rules = json.loads((SEED_DIR / "scoring_rules.json").read_text())
    rules[3]["conditionLogic"]["conditions"][0]["operator"] = "ROUGHLY"
    bad = tmp_path / "rules.json"
    bad.write_text(json.dumps(rules))
    result = CliRunner().invoke(app, ["init", "--citizens", "10", "--rules", str(bad)])
    assert result.exit_code == 1
    assert rules[3]["ruleID"] in result.output and "conditionLogic" in result.output
    assert not (embedded_home / "documents.sqlite").exists()  # refused before anything was written
