"""After `ddss demo`, as a new user sees it in a browser: the Dagster UI's Materialize dialog offers the demo's days in
its default window; the dashboard's overview, region and citizen charts all have data in their default windows; and
/docs renders the API's operations from files the API serves itself (nothing from a CDN)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ddss_platform.defs.dagster_instance import WORKSPACE, DagsterProcess, dagster_env
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores
from ddss_platform_tests.api.browser import MARKS_JS, wait_for
from ddss_platform_tests.api.conftest import serving
from ddss_platform_tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BIN = Path(sys.executable).parent
DASHBOARD_CHARTS = ["chart-score-distribution", "chart-events-per-minute", "chart-region-scores", "chart-region-tiers"]
CITIZEN_CHARTS = ["chart-citizen-score", "chart-citizen-graph"]
DIALOG = "return Array.from(document.querySelectorAll('[role=dialog]')).map((d) => d.innerText).join('\\n');"
CLICK = (
    "const button = Array.from(document.querySelectorAll(arguments[0] + ' button'))"
    ".find((b) => b.textContent.trim().startsWith(arguments[1])); if (button) button.click(); return !!button;"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("demo") / "ddss"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"DDSS_HOME": str(home)}
    done = subprocess.run(
        [str(BIN / "ddss"), "demo", "--citizens", "300", "--events", "6000"],
        cwd=home.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return Settings.from_env({"DDSS_HOME": str(home)})


def test_the_dashboard_charts_have_data_in_their_default_windows(demo, browser):
    with serving(demo) as url:
        browser.get(url + "/")
        for chart in DASHBOARD_CHARTS:
            wait_for(browser, lambda d, chart=chart: d.execute_script(MARKS_JS, chart) > 0, f"{chart} drew nothing")
            assert browser.execute_script(f"return document.getElementById('{chart}').dataset.empty") == ""
        with open_stores(demo) as stores:  # a citizen whose score the demo's events changed, with relationships
            moved = stores.documents.find_citizens(tier="Caution", limit=50)
            citizen = next(d["nationalID"] for d in moved if stores.graph.neighbours(d["nationalID"]))
        browser.get(f"{url}/#citizen={citizen}")
        for chart in CITIZEN_CHARTS:
            wait_for(browser, lambda d, chart=chart: d.execute_script(MARKS_JS, chart) > 0, f"{chart} drew nothing")


def test_docs_render_every_operation_offline(demo, browser):
    with serving(demo) as url:
        operations = sum(len(path) for path in httpx.get(url + "/openapi.json").json()["paths"].values())
        browser.get(url + "/docs")
        wait_for(
            browser,
            lambda d: d.execute_script("return document.querySelectorAll('.opblock').length") >= operations,
            f"Swagger UI did not render the {operations} operations",
        )
        sources = browser.execute_script(
            "return Array.from(document.querySelectorAll('script[src], link[href]')).map((e) => e.src || e.href);"
        )
        assert sources and all(source.startswith(url) for source in sources), sources


def test_the_materialize_dialog_offers_the_demo_days(demo, browser, tmp_path):
    with open_stores(demo) as stores:
        last_day = max(stores.archive.count_by_day())
    port = _free_port()
    log = tmp_path / "webserver.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)],
            env=dagster_env(demo),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    webserver = DagsterProcess("dagster-webserver", process, log)

    def up() -> bool:
        assert webserver.alive(), log.read_text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, what="the Dagster webserver answering", timeout_s=600)
        browser.get(f"http://127.0.0.1:{port}/assets/credit_score_aggregates_by_region_date")

        def open_dialog(driver) -> bool:
            """One step toward the partition dialog: press Materialize (again, while the page is still loading
            the asset and the press does nothing), then confirm that both assets of the multi-asset are meant."""
            if driver.execute_script(CLICK, "[role=dialog]", "Confirm"):
                return True
            if not driver.execute_script(DIALOG):
                driver.execute_script(CLICK, "body", "Materialize")
            return False

        wait_for(browser, open_dialog, "no Materialize dialog")
        text = wait_for(browser, lambda d: "Last 90 days" in (t := d.execute_script(DIALOG)) and t, "no dialog")
        assert "Could not find partition" not in text
        # the default window ends with the demo's last day: its partitions are in it
        assert last_day in text, text
    finally:
        webserver.stop()
