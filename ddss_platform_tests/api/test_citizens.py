"""GET /citizens (search and keyset pages) and GET /citizens/{nationalID}, checked against the stores."""

from __future__ import annotations

import pytest

from ddss_platform.stores.graph import now_ms


def all_pages(api, limit: int, **filters) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit, **filters, **({"cursor": cursor} if cursor else {})}
        response = api.get("/citizens", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 10_000


def test_pages_cover_every_citizen_once_in_order(api, ports):
    expected = sorted(ports.documents.all_snapshots()["nationalID"])
    seen = [c["nationalID"] for c in all_pages(api, limit=7)]
    assert seen == expected  # no duplicates, no gaps, nationalID order


@pytest.mark.parametrize(
    "filters",
    [
        {"tier": "Caution"},
        {"region": "North"},
        {"min_score": 480, "max_score": 500},
        {"tier": "Standard", "region": "East", "min_score": 490},
    ],
)
def test_filtered_pages_return_exactly_the_matching_citizens(api, ports, filters):
    snapshots = ports.documents.all_snapshots()
    match = snapshots
    if "tier" in filters:
        match = match[match["tier"] == filters["tier"]]
    if "region" in filters:
        match = match[match["region"] == filters["region"]]
    if "min_score" in filters:
        match = match[match["score"] >= filters["min_score"]]
    if "max_score" in filters:
        match = match[match["score"] <= filters["max_score"]]
    items = all_pages(api, limit=5, **filters)
    assert [c["nationalID"] for c in items] == sorted(match["nationalID"])
    assert len(items) > 0, "the world should have citizens for every filter used here"
    by_id = snapshots.set_index("nationalID")
    for item in items:
        assert item["score"] == pytest.approx(by_id.loc[item["nationalID"], "score"])
        assert item["tier"] == by_id.loc[item["nationalID"], "tier"]


def test_a_page_continues_after_the_cursor_even_when_scores_change_between_pages(api, ports):
    first = api.get("/citizens", params={"limit": 3}).json()
    # a cursor is a position in nationalID order: the next page starts right after the last id shown
    second = api.get("/citizens", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    everyone = sorted(ports.documents.all_snapshots()["nationalID"])
    assert [c["nationalID"] for c in first["items"] + second["items"]] == everyone[:6]


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"tier": "Legendary"}, "tier"),
        ({"min_score": -1}, "min_score"),
        ({"max_score": 1000.5}, "max_score"),
        ({"min_score": 600, "max_score": 500}, "min_score"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMV0"}, "cursor"),  # valid base64 JSON, wrong shape
        ({"region": "North'"}, "region"),
    ],
)
def test_bad_search_parameters_are_422_naming_the_parameter(api, params, parameter):
    response = api.get("/citizens", params=params)
    assert response.status_code == 422
    assert any(parameter in error["loc"] for error in response.json()["detail"]), response.text


def _citizen_with_everything(ports) -> str:
    """A citizen with relationships, score history and archived events."""
    snapshots = ports.documents.all_snapshots().sort_values("nationalID")
    for national_id in snapshots["nationalID"]:
        if (
            ports.graph.outgoing([national_id])[national_id]
            and len(ports.archive.read_score_history(national_id, limit=2)) >= 2
        ):
            return national_id
    raise AssertionError("the world has no citizen with relationships and history")


def test_citizen_view_matches_every_store(api, ports):
    national_id = _citizen_with_everything(ports)
    response = api.get(f"/citizens/{national_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    doc = ports.documents.get_citizens([national_id])[national_id]

    assert body["nationalID"] == national_id
    assert body["profile"]["region"] == doc["profile"]["region"]
    assert body["flags"] == doc["flags"]
    assert body["score"] == doc["scoreSnapshot"]["currentScore"]
    assert body["tier"] == doc["scoreSnapshot"]["tier"]

    history = ports.archive.read_score_history(national_id, limit=100)
    assert [h["event_id"] for h in body["score_history"]] == list(history["event_id"])
    times = [h["time_ms"] for h in body["score_history"]]
    assert times == sorted(times, reverse=True)  # newest first
    # the snapshot is the last change applied (association effects arrive from other partitions'
    # runs, so that is not always the newest by event time)
    assert body["score"] in [h["new_score"] for h in body["score_history"]]

    events = body["recent_events"]
    assert events, "the citizen has archived events"
    assert [e["time_ms"] for e in events] == sorted((e["time_ms"] for e in events), reverse=True)
    archived = ports.archive.read_events(citizen_id=national_id)
    assert {e["event_id"] for e in events} <= set(archived["event_id"])
    assert events[0]["event_id"] == archived.iloc[0]["event_id"]

    edges = ports.graph.outgoing([national_id])[national_id]
    assert {(r["nationalID"], r["type"]) for r in body["relationships"]} == {(e.target, str(e.type)) for e in edges}
    related = ports.documents.get_citizens([e.target for e in edges])
    for r in body["relationships"]:
        assert r["score"] == related[r["nationalID"]]["scoreSnapshot"]["currentScore"]

    at = now_ms()
    active = [e for e in edges if e.active_at(at)]
    metrics = body["graph_metrics"]
    assert metrics["family_size"] == len({e.target for e in active if e.type == "family"})
    assert metrics["colleague_count"] == len({e.target for e in active if e.type == "colleague"})
    assert metrics["friend_count"] == len({e.target for e in active if e.type == "friend"})
    assert 0.0 <= metrics["colleague_density"] <= 1.0


def test_citizen_view_sizes_follow_the_query(api, ports):
    national_id = _citizen_with_everything(ports)
    body = api.get(f"/citizens/{national_id}", params={"events": 0, "history": 1}).json()
    assert body["recent_events"] == []
    assert len(body["score_history"]) == 1


def test_unknown_citizen_is_404_with_a_message(api):
    response = api.get("/citizens/CIT99999999")
    assert response.status_code == 404
    assert "CIT99999999" in response.json()["detail"]


@pytest.mark.parametrize("bad_id", ["CIT 1", "x" * 65, "CIT;1", "é"])
def test_malformed_national_id_is_422(api, bad_id):
    response = api.get(f"/citizens/{bad_id}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "nationalID"]
