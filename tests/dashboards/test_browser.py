"""The real browser: ``streamlit run`` serves the app, headless Chromium opens every page, a
screenshot per page is saved, and no page shows an exception or an error alert; every chart
has drawn (a Vega canvas or svg).

By default it runs on the small test warehouse. To refresh the documentation's screenshots from
a real run, point it at that run's lake and a folder (not MEDALLION_*: tests/conftest.py clears those):
``DASHBOARD_SCREENSHOT_LAKE=/path/.lake DASHBOARD_SCREENSHOT_DIR=docs/screenshots pytest -m slow ...``
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dashboards.app import HEALTH_SLUG
from tests.conftest import IN_CI
from tests.dashboards.browser import (errors_on_page, free_port, full_page_screenshot, make_driver,
                                      missing_browser, start_app, stop, wait_drawn)
from tests.dashboards.conftest import ROOT
from tests.dashboards.test_pages import PAGES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    reason = missing_browser()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true needs Chromium for the browser test: {reason}")
        pytest.skip(reason)
    driver = make_driver()
    yield driver
    driver.quit()


def test_every_page_in_chromium(browser, warehouse_lake, tmp_path):
    lake = Path(os.environ.get("DASHBOARD_SCREENSHOT_LAKE") or warehouse_lake)
    keep = os.environ.get("DASHBOARD_SCREENSHOT_DIR")
    port = free_port()
    server = start_app(ROOT, port, [f"lake_dir={lake}"], log=tmp_path / "streamlit.log")
    shots = tmp_path / "screenshots"
    try:
        for slug in [p.slug for p in PAGES] + [HEALTH_SLUG]:
            browser.set_window_size(1500, 1000)
            path = "" if slug == PAGES[0].slug else slug  # the first page is the app's root
            browser.get(f"http://127.0.0.1:{port}/{path}")
            state = wait_drawn(browser)
            full_page_screenshot(browser, shots / f"{slug}.png")
            assert errors_on_page(browser) == [], slug
            assert state["charts"] > 0 and state["drawn"] == state["charts"], (slug, state)
            assert (shots / f"{slug}.png").stat().st_size > 20_000
    finally:
        stop(server)
    assert sorted(p.name for p in shots.iterdir()) == sorted(f"{s}.png" for s in [p.slug for p in PAGES]
                                                            + [HEALTH_SLUG])
    if keep:
        target = Path(keep)
        target.mkdir(parents=True, exist_ok=True)
        for png in shots.iterdir():
            shutil.copy(png, target / png.name)
