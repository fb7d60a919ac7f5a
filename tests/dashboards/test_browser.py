"""The real browser, one Chromium session for everything: ``streamlit run`` serves the restaurant
project (on the small test warehouse) and a second, non-restaurant project (bike share,
tests/cases/dashboards/bikes, built by the real pipeline); every page is opened by its deep link
``/<page>``, screenshotted, and checked: no exception, error alert or "Page not found" dialog,
every chart drawn, and every KPI card equal to its SQL run directly on the same DuckDB file.
The bike project's copy without ``gold.riders`` and with a failed run shows what to run and the
failure in red; the ALB's OIDC header puts the user's name in the sidebar.

To refresh docs/screenshots from a real run: ``DASHBOARD_SCREENSHOT_LAKE=/path/.lake
DASHBOARD_SCREENSHOT_DIR=docs/screenshots pytest -m slow tests/dashboards/test_browser.py``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from dashboards.app import HEALTH_SLUG
from dashboards.vocabulary import load_vocabulary
from engine.cli import main
from engine.run.workspace import Workspace
from tests.conftest import IN_CI
from tests.dashboards.browser import (errors_on_page, free_port, full_page_screenshot, make_driver,
                                      missing_browser, start_app, stop, wait_drawn)
from tests.dashboards.conftest import ROOT
from tests.dashboards.test_pages import PAGES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # two servers, a Spark run, Chromium
BIKES = ROOT / "tests" / "cases" / "dashboards" / "bikes"
METRICS_JS = """return [...document.querySelectorAll('[data-testid="stMetric"]')].map(m => [
  m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
  m.querySelector('[data-testid="stMetricValue"]').innerText.trim()]);"""


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


@pytest.fixture(scope="module")
def bike_lake(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("bikes") / "lake"
    assert main(["run", "--project-dir", str(BIKES), "--var", f"lake_dir={lake}"]) == 0
    return lake


def parse_shown(text: str) -> float | None:
    """A KPI card's number, read back independently of dashboards.formatting."""
    if text in ("—", ""):
        return None
    scale = 1e6 if text.endswith("M") else 1.0
    number = float(re.sub(r"[^0-9.\-]", "", text.rstrip("M").replace("−", "-")))
    return number * scale / (100 if text.endswith("%") else 1)


def tolerance(text: str) -> float:
    """Half a unit of the last digit shown."""
    digits = text.rstrip("M%").split(".")
    step = 10 ** -len(digits[1]) if len(digits) > 1 else 1
    return step / 2 * (1e6 if text.endswith("M") else 1) / (100 if text.endswith("%") else 1) + 1e-9


def expected_kpis(root: Path, warehouse: Path) -> dict[str, dict[str, float | None]]:
    """page slug -> label -> the KPI's SQL on the whole table, run straight on the DuckDB file."""
    ws = Workspace.open(root, None, [])
    vocabulary = load_vocabulary(root, ws.project.variables)
    from dashboards.catalog import load_pages

    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for page in load_pages(ws.graph, root, vocabulary):
            for part in [page, *page.sections]:
                schema, table = part.table.split(".")
                for kpi in part.board.kpis:
                    term, value = vocabulary.term(kpi.term)
                    label = kpi.label or (value.label if value else term.label)
                    got = con.execute(f'SELECT {kpi.value} FROM "{schema}"."{table}"').fetchone()[0]
                    out.setdefault(page.slug, {})[label] = None if got is None else float(got)
    return out


def check_pages(driver, port: int, slugs: list[str], expected: dict, shots: Path) -> dict[str, list]:
    seen = {}
    for slug in slugs:
        driver.set_window_size(1500, 1000)
        driver.get(f"http://127.0.0.1:{port}/{slug}")
        state = wait_drawn(driver)
        full_page_screenshot(driver, shots / f"{slug or 'overview'}.png")
        assert errors_on_page(driver) == [], slug
        assert state["drawn"] == state["charts"], (slug, state)
        cards = driver.execute_script(METRICS_JS)
        wanted = expected.get(slug, {})
        for label, shown in cards:
            if label in wanted:
                want = wanted[label]
                got = parse_shown(shown)
                assert (got is None) == (want is None), (slug, label, shown, want)
                if want is not None:
                    assert abs(got - want) <= tolerance(shown) + abs(want) * 1e-9, (slug, label, shown, want)
        seen[slug] = cards
    return seen


def test_every_page_of_two_projects_in_one_browser(browser, warehouse_lake, bike_lake, tmp_path):
    lake = Path(os.environ.get("DASHBOARD_SCREENSHOT_LAKE") or warehouse_lake)
    shots = tmp_path / "screenshots"
    slugs = [""] + [p.slug for p in PAGES] + [HEALTH_SLUG]  # "" = the overview, served at "/"
    servers = []
    try:
        port = free_port()
        servers.append(start_app(ROOT, port, [f"lake_dir={lake}"], log=tmp_path / "restaurant.log"))
        seen = check_pages(browser, port, slugs, expected_kpis(ROOT, lake / "warehouse.duckdb"), shots)
        expected = expected_kpis(ROOT, lake / "warehouse.duckdb")
        compared = [(slug, label) for slug, cards in seen.items() for label, _ in cards if label in expected.get(slug, {})]
        assert ("sales_trends", "Revenue") in compared and ("churn_indicators", "At risk") in compared
        assert len(compared) >= 30  # every page's cards, not a sample

        bike_port = free_port()
        servers.append(start_app(BIKES, bike_port, [f"lake_dir={bike_lake}"], log=tmp_path / "bikes.log"))
        claims = base64.urlsafe_b64encode(json.dumps({"name": "Ada Lovelace"}).encode()).decode().rstrip("=")
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                {"headers": {"x-amzn-oidc-data": f"e30.{claims}.signature"}})
        bike_shots = tmp_path / "bikes"
        seen = check_pages(browser, bike_port, ["", "station_months", "riders", HEALTH_SLUG],
                           expected_kpis(BIKES, bike_lake / "warehouse.duckdb"), bike_shots)
        assert {label for label, _ in seen["riders"]} >= {"Riding", "Idle"}  # labels from the vocabulary
        body = browser.find_element("tag name", "body").text
        assert "Signed in as Ada Lovelace" in body
        browser.get(f"http://127.0.0.1:{bike_port}/station_months")
        wait_drawn(browser)
        body = browser.find_element("tag name", "body").text
        assert "Data as of 2024-03-10" in body  # the table's as_of: the last trip in raw/trips.csv
        assert "the last month (2024-03-01 to 2024-03-10: 10 of 31 days) is partial" in body  # hand-counted
        assert "Tiny Dock (n=2)" in body  # the 2-trip station, labelled with its count (greyed)
        assert "groups with fewer than 5 trips are greyed" in body

        broken = _broken_copy(bike_lake, tmp_path / "broken")
        broken_port = free_port()
        servers.append(start_app(BIKES, broken_port, [f"lake_dir={broken}"], log=tmp_path / "broken.log"))
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
        browser.get(f"http://127.0.0.1:{broken_port}/riders")
        wait_drawn(browser)
        body = browser.find_element("tag name", "body").text
        assert "gold.riders is not in the warehouse yet. Run medallion run --select gold.riders" in body
        assert errors_on_page(browser) == []
        browser.get(f"http://127.0.0.1:{broken_port}/{HEALTH_SLUG}")
        wait_drawn(browser)
        full_page_screenshot(browser, bike_shots / "pipeline_health_failed.png")
        red = [e.text for e in browser.find_elements("css selector", '[data-testid="stAlertContentError"]')]
        assert len(red) == 1 and "To resume: medallion run --resume 20990101T000000000Z-ffffff" in red[0]
        assert "x" * 300 in browser.find_element("tag name", "body").text  # the full error, not cut off
        assert not browser.find_elements("css selector", '[data-testid="stException"]')
    finally:
        for server in servers:
            stop(server)
    names = sorted(p.name for p in shots.iterdir())
    assert names == sorted(f"{s or 'overview'}.png" for s in slugs)
    keep = os.environ.get("DASHBOARD_SCREENSHOT_DIR")
    if keep:
        target = Path(keep)
        target.mkdir(parents=True, exist_ok=True)
        for png in [*shots.iterdir(), *(tmp_path / "bikes").iterdir()]:
            shutil.copy(png, target / (png.name if png.parent == shots else f"bikes_{png.name}"))


def _broken_copy(lake: Path, target: Path) -> Path:
    """The bike lake without gold.riders in its warehouse and with a failed run recorded last."""
    from engine.run.record import RunRecord, RunStore, SpecRecord

    shutil.copytree(lake, target)
    with duckdb.connect(str(target / "warehouse.duckdb")) as con:
        kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'gold' "
                           "AND table_name = 'riders'").fetchone()[0]  # the warehouse may publish views
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} gold.riders")
    RunStore(target / "_runs").save(RunRecord(
        run_id="20990101T000000000Z-ffffff", project="bike-share", profile="local", status="failed",
        started_at="2099-01-01T00:00:00+00:00", finished_at="2099-01-01T00:00:30+00:00",
        resume_command="medallion run --resume 20990101T000000000Z-ffffff",
        specs=[SpecRecord(spec="gold.riders", layer="gold", status="failed", attempts=3, seconds=2.0,
                          error_class="TerminalError", error="AnalysisException: column spend_x not found; " + "x" * 300)]))
    return target
