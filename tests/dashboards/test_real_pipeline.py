"""The dashboards on a warehouse the real pipeline built: the hand-made gold fixture
(tests/cases/gold/raw: 40 raw lines, revenue 1,043.70 — see tests/marts/test_gold_marts.py).
Too few customers for the CLV model, so the CLV page must say why it did not fit."""

from __future__ import annotations

import pytest

from engine.cli import main
from tests.dashboards.conftest import ROOT
from tests.dashboards.test_pages import PAGES, assert_clean, charts, kpi_labels, metrics, not_shown, open_page

pytestmark = pytest.mark.slow
RAW = ROOT / "tests" / "cases" / "gold" / "raw"


@pytest.fixture(scope="module")
def real_lake(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("dash_real") / "lake"
    assert main(["run", "--project-dir", str(ROOT), "--var", f"raw_dir={RAW}", "--var", f"lake_dir={lake}",
                 "--var", "bot_max_orders_per_day=2"]) == 0
    return lake


def test_every_page_on_the_real_warehouse(real_lake, use_project):
    use_project(ROOT, [f"lake_dir={real_lake}"])
    for page in PAGES:
        at = open_page(page.slug)
        assert_clean(at)
        omitted, shown = not_shown(at), [m.label for m in at.metric]
        assert all(label in shown or f"*{label}*" in omitted for label in kpi_labels(page)), (page.slug, omitted)
        assert charts(at), page.slug
    at = open_page("sales_trends")
    assert metrics(at)["Revenue"] == "$1,043.70"  # the fixture's revenue: 1,034.50 items + 9.20 options
    at = open_page("customer_lifetime_value")
    assert any("not_fitted" in w.value and "too little data" in w.value for w in at.warning)
    at = open_page("pipeline_health")
    assert_clean(at)
    assert metrics(at)["Run status"] == "OK"
