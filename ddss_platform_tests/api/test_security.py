"""The API token, and query fragments of every store's language in every text parameter."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from ddss_platform_tests.api.conftest import API_TOKEN
from ddss_platform_tests.api.world import store_contents

PROTECTED = [
    "/citizens",
    "/citizens/CIT00000001",
    "/rules",
    "/config",
    "/regions",
    "/regions/North/aggregates",
    "/metrics/system",
    "/overview",
    "/events/00000000-0000-4000-8000-000000000000",
]


@pytest.fixture
def protected(protected_url):
    with httpx.Client(base_url=protected_url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("path", PROTECTED)
def test_data_endpoints_need_the_token(protected, path):
    missing = protected.get(path)
    assert missing.status_code == 401 and "token" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = protected.get(path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    right = protected.get(path, headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert right.status_code in (200, 404), right.text  # 404: the made-up event id


def test_health_and_the_dashboard_shell_need_no_token(protected):
    assert protected.get("/health").status_code == 200
    assert protected.get("/").status_code == 200
    assert protected.get("/static/dashboard.js").status_code == 200


def test_without_a_configured_token_no_header_is_needed(api):
    assert api.get("/citizens").status_code == 200


INJECTIONS = [
    "'",
    '"',
    "CIT00000001'--",
    '"; DROP TABLE citizens; --',
    "' OR 1=1 --",
    "{ q(func: has(nationalID)) { uid nationalID } }",
    '") |> drop() //',
    'x" |> drop(columns: ["_value"])',
    "North' OR '1'='1",
    "1; DELETE FROM edges",
    "$where: 1",
]

# every text parameter: (method path template or query name, how to place the value)
TEXT_PARAMETERS = [
    ("path", "/citizens/{}"),
    ("path", "/events/{}"),
    ("path", "/regions/{}/aggregates"),
    ("query", ("/citizens", "region")),
    ("query", ("/citizens", "tier")),
    ("query", ("/citizens", "cursor")),
    ("query", ("/regions/North/aggregates", "from")),
    ("query", ("/regions/North/aggregates", "to")),
    ("query", ("/metrics/system", "from")),
    ("query", ("/metrics/system", "to")),
]


def _request(api, where, target, value):
    if where == "path":
        return api.get(target.format(quote(value, safe="")))
    path, name = target
    return api.get(path, params={name: value})


def test_injection_attempts_get_normal_answers_or_4xx_and_change_nothing(api, world_settings):
    before = store_contents(world_settings)
    answers = {}
    for where, target in TEXT_PARAMETERS:
        for value in INJECTIONS:
            response = _request(api, where, target, value)
            answers[(str(target), value)] = response.status_code
            assert response.status_code < 500, (target, value, response.text)
            if response.status_code == 200:  # a normal answer: nothing found for this value
                body = response.json()
                assert body.get("items", []) == [] and body.get("rows", []) == [], (target, value, body)
    assert store_contents(world_settings) == before
    assert set(answers.values()) <= {200, 404, 422}
