"""/rules, /config, /regions…/aggregates, /metrics/system, /events/{id}, /overview, /health and /docs."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from ddss_platform.events.topics import CITIZEN_EVENTS_DLQ
from ddss_platform.stores.archive import CREDIT_SCORE_AGGREGATES, EVENTS_SUMMARY
from ddss_platform.stores.timeseries import DERIVED_METRICS, SYSTEM_AGGREGATES_DAILY


def test_config_is_the_active_configuration(api, ports):
    body = api.get("/config").json()
    stored = {k: v for k, v in ports.documents.load_active_configuration().items() if k != "_id"}
    assert body == stored
    assert body["status"] == "ACTIVE"


def test_rules_are_the_active_rules_of_the_active_rule_set(api, ports):
    body = api.get("/rules").json()
    rule_set = ports.documents.load_active_configuration()["activeRuleSet"]
    assert body["rule_set"] == rule_set
    assert [r["ruleID"] for r in body["rules"]] == [r["ruleID"] for r in ports.documents.load_active_rules(rule_set)]
    assert len(body["rules"]) >= 12
    assert all(r["status"] == "ACTIVE" for r in body["rules"])


def test_region_aggregates_are_the_archive_rows(api, ports, world):
    first, last = world.days[0], world.days[-1]
    body = api.get("/regions/North/aggregates", params={"from": first, "to": last}).json()
    stored = ports.archive.read_aggregates(CREDIT_SCORE_AGGREGATES, region="North", start_day=first, end_day=last)
    assert [r["date"] for r in body["rows"]] == list(stored["aggregation_date"]) != []
    for row, (_, expected) in zip(body["rows"], stored.iterrows()):
        assert row["citizens"] == expected["citizens"]
        assert row["avg_score"] == pytest.approx(expected["avg_score"])
        assert sum(row["tier_counts"].values()) == row["citizens"]
    summary = ports.archive.read_aggregates(EVENTS_SUMMARY, region="North", start_day=first, end_day=last)
    assert sum(e["event_count"] for e in body["events"]) == summary["event_count"].sum() > 0


def test_region_aggregates_outside_the_data_or_for_an_unknown_region_are_empty(api, world):
    assert api.get("/regions/North/aggregates", params={"from": "2020-01-01", "to": "2020-02-01"}).json()["rows"] == []
    days = {"from": world.days[0], "to": world.days[-1]}
    assert api.get("/regions/Atlantis/aggregates", params=days).json()["rows"] == []


def test_regions_list_the_aggregated_regions(api):
    assert {"North", "South", "East", "West", "Central"} <= set(api.get("/regions").json()["regions"])


@pytest.mark.parametrize(
    "path, params, parameter",
    [
        ("/regions/North/aggregates", {"from": "2025-02-01", "to": "2025-01-01"}, "from"),
        ("/regions/North/aggregates", {"from": "2025-13-01"}, "from"),
        ("/regions/North/aggregates", {"from": "2020-01-01", "to": "2025-01-01"}, "to"),
        ("/metrics/system", {"from": "2025-01-02", "to": "2025-01-01"}, "from"),
        ("/metrics/system", {"to": "yesterday"}, "to"),
    ],
)
def test_bad_ranges_are_422_naming_the_parameter(api, path, params, parameter):
    response = api.get(path, params=params)
    assert response.status_code == 422
    assert any(parameter in error["loc"] for error in response.json()["detail"]), response.text


def test_bad_region_is_422(api):
    assert api.get("/regions/No'rth/aggregates").status_code == 422


def test_system_metrics_are_the_derived_points(api, ports, world):
    day_after = (date.fromisoformat(world.days[-1]) + timedelta(days=1)).isoformat()
    month_start = date.fromisoformat(world.days[0]).replace(day=1).isoformat()  # the monthly points' time
    params = {"from": month_start, "to": day_after}
    body = api.get("/metrics/system", params=params).json()
    stored = ports.timeseries.query(
        DERIVED_METRICS, SYSTEM_AGGREGATES_DAILY, body["start_ms"] * 10**6, body["end_ms"] * 10**6
    )
    assert len(body["daily"]) == len(stored) > 0
    assert [d["values"]["averageScore"] for d in body["daily"]] == pytest.approx(list(stored["averageScore"]))
    assert body["monthly"]


def _event_with_association_effect(ports) -> str:
    history = ports.archive.read_events()
    for citizen in history["citizen_id"].unique():
        changes = ports.archive.read_score_history(citizen, limit=1000)
        effects = changes[changes["reason"] == "ASSOCIATION_EFFECT"]
        if len(effects):
            return effects.iloc[0]["event_id"]
    raise AssertionError("the world has no association effect")


def test_event_shows_every_score_change_it_caused(api, ports):
    event_id = _event_with_association_effect(ports)
    body = api.get(f"/events/{event_id}").json()
    stored = ports.archive.read_events(event_id=event_id).iloc[0]
    assert body["event"]["event_id"] == event_id
    assert body["citizen_id"] == stored["citizen_id"]
    assert body["offset"] == stored["offset"]
    changes = body["score_changes"]
    reasons = {c["reason"] for c in changes}
    assert "ASSOCIATION_EFFECT" in reasons and len(reasons) >= 2
    assert all(c["event_id"] == event_id for c in changes)
    # the same changes as the archive's score history of each citizen involved
    for change in changes:
        history = ports.archive.read_score_history(change["citizen_id"], limit=1000)
        mine = history[history["event_id"] == event_id]
        assert change["new_score"] in list(mine["new_score"])


def test_unknown_event_is_404_and_malformed_id_422(api):
    response = api.get("/events/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert "00000000-0000-4000-8000-000000000000" in response.json()["detail"]
    assert api.get("/events/bad id").status_code == 422


def test_overview_counts_match_the_stores(api, ports):
    body = api.get("/overview").json()
    assert body["tiers"] == {
        t: ports.documents.count_by_tier().get(t, 0) for t in ("Exemplary", "Standard", "Caution", "HighRisk")
    }
    assert body["citizens"] == ports.documents.citizen_count() == sum(body["score_histogram"]["counts"])
    assert body["dlq_count"] == sum(ports.bus.end_offsets(CITIZEN_EVENTS_DLQ).values()) > 0
    assert body["bus_lag"] == 0
    assert sum(m["events"] for m in body["events_per_minute"]) > 0


def test_health_reports_every_store_and_the_lag(api):
    body = api.get("/health").json()
    assert body["status"] == "ok"
    assert set(body["stores"]) == {"bus", "documents", "timeseries", "graph", "archive"}
    assert all(store["reachable"] for store in body["stores"].values())
    assert body["bus_lag"] == 0 and body["lag_by_partition"]


def test_the_docs_page_loads_swagger_ui_from_the_api_itself(api):
    page = api.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/") for source in sources), sources  # nothing from a CDN
    assert all(api.get(source).status_code == 200 for source in sources)
    assert "SwaggerUIBundle" in api.get("/docs-assets/swagger-ui-bundle.js").text


def test_openapi_documents_every_endpoint(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {
        "/citizens",
        "/citizens/{nationalID}",
        "/rules",
        "/config",
        "/regions/{region}/aggregates",
        "/metrics/system",
        "/events/{eventId}",
        "/health",
    } <= set(paths)


def test_dashboard_and_its_chart_library_are_served(api):
    page = api.get("/")
    assert page.status_code == 200 and 'data-tier-count="Exemplary"' in page.text
    plotly = api.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and "plotly.js" in plotly.text[:200]
    assert api.get("/static/dashboard.js").status_code == 200
