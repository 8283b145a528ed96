"""Headless Chromium for the browser tests (Debian's chromium + chromium-driver, driven by Selenium), and the
waits and reads they share. The `browser` fixture (api/conftest.py) skips, with the reason, where Chromium or its
driver is missing (`scripts/setup.sh --full` installs both)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 180
"""An overall limit for a page to show what a test waits for (a page under a busy machine takes a while)."""

# plotly draws each trace's marks (bars, lines, points) as SVG paths in a g.trace; an empty chart has
# axes and grid lines but no mark with an area
MARKS_JS = """
const chart = document.getElementById(arguments[0]);
if (!chart) return 0;
return Array.from(chart.querySelectorAll('svg.main-svg g.trace path'))
  .filter((p) => { const box = p.getBBox(); return box.width > 0 && box.height > 0; }).length;
"""


@contextmanager
def chromium(profile: Path) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,2200",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(lambda d: condition(d), message)


def shown(driver, css: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css).text.strip()
