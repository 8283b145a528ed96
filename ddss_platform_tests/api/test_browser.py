"""The dashboard in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

Skips, with the reason, when Chromium or its driver is not installed (`.ci/run` installs both:
`apt-get install -y chromium chromium-driver`).
"""

from __future__ import annotations

import httpx
import pytest

from ddss_platform_tests.api.browser import MARKS_JS, shown, wait_for
from ddss_platform_tests.api.conftest import API_TOKEN

pytestmark = pytest.mark.browser

CHARTS = ["chart-score-distribution", "chart-events-per-minute", "chart-region-scores", "chart-region-tiers"]
TIERS = ("Exemplary", "Standard", "Caution", "HighRisk")


def tier_counts_by_paging(base_url: str, headers: dict | None = None) -> dict[str, int]:
    """Citizens per tier as a client of the API would count them: every page of /citizens?tier=…"""
    counts = {}
    with httpx.Client(base_url=base_url, headers=headers or {}, timeout=30) as client:
        for tier in TIERS:
            total, cursor = 0, None
            while True:
                page = client.get(
                    "/citizens", params={"tier": tier, "limit": 500, **({"cursor": cursor} if cursor else {})}
                ).json()
                total += len(page["items"])
                if not (cursor := page["next_cursor"]):
                    break
            counts[tier] = total
    return counts


def test_dashboard_shows_the_api_numbers_and_charts_and_finds_a_citizen(browser, base_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(base_url + "/")
    wait_for(
        browser,
        lambda d: all(shown(d, f'[data-tier-count="{t}"]').isdigit() for t in TIERS),
        "tier counts never appeared",
    )
    shown_counts = {t: int(shown(browser, f'[data-tier-count="{t}"]')) for t in TIERS}
    assert shown_counts == tier_counts_by_paging(base_url)
    assert sum(shown_counts.values()) == int(shown(browser, "#citizen-total"))
    assert int(shown(browser, "#dlq-count")) > 0
    assert shown(browser, "#bus-lag") == "0"

    for chart in CHARTS:
        wait_for(browser, lambda d, chart=chart: d.execute_script(MARKS_JS, chart) > 0, f"{chart} drew nothing")

    # search by id → the citizen view
    citizen = httpx.get(base_url + "/citizens", params={"tier": "Caution", "limit": 1}).json()["items"][0]["nationalID"]
    box = browser.find_element(By.ID, "citizen-search-input")
    box.send_keys(citizen)
    browser.find_element(By.ID, "citizen-search-button").click()
    wait_for(browser, lambda d: shown(d, "#citizen-id") == citizen, "the citizen view did not open")
    assert shown(browser, "#citizen-tier") == "Caution"
    wait_for(browser, lambda d: d.execute_script(MARKS_JS, "chart-citizen-score") > 0, "no score chart")
    wait_for(browser, lambda d: d.execute_script(MARKS_JS, "chart-citizen-graph") > 0, "no relationship graph")
    assert browser.find_elements(By.CSS_SELECTOR, "#citizen-events tbody tr[data-event-id]")

    # the start of an ID → the citizens whose IDs begin with it, and the citizen shown before is gone
    box.clear()
    box.send_keys(citizen[:-1])
    browser.find_element(By.ID, "citizen-search-button").click()
    listed = wait_for(
        browser,
        lambda d: d.execute_script(
            "if (!document.getElementById('citizen-detail').hidden) return null;"
            "const ids = Array.from(document.querySelectorAll('#citizen-results a[data-citizen-id]'))"
            "  .map((a) => a.dataset.citizenId);"
            "return ids.length ? ids : null;"
        ),
        "no list of the citizens whose IDs start so, or the citizen shown before stayed",
    )
    assert citizen in listed and all(i.startswith(citizen[:-1]) for i in listed), listed

    # search by tier → a result list → click → another citizen's view
    box.clear()
    Select(browser.find_element(By.ID, "citizen-search-tier")).select_by_value("Standard")
    browser.find_element(By.ID, "citizen-search-button").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#citizen-results a[data-citizen-id]"), "no results")
    link = browser.find_element(By.CSS_SELECTOR, "#citizen-results a[data-citizen-id]")
    other = link.get_attribute("data-citizen-id")
    link.click()
    wait_for(browser, lambda d: shown(d, "#citizen-id") == other, "clicking a result did not open it")

    browser.execute_script("window.scrollTo(0, 0)")
    screenshot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")


def test_dashboard_passes_the_token_from_the_url(browser, protected_url):
    browser.get(protected_url + "/?token=" + API_TOKEN)
    wait_for(browser, lambda d: shown(d, '[data-tier-count="Standard"]').isdigit(), "no data with the token")
    assert "token=" not in browser.current_url  # taken off the address once stored
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    assert (
        int(shown(browser, '[data-tier-count="Standard"]')) == tier_counts_by_paging(protected_url, headers)["Standard"]
    )
