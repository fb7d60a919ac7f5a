"""docs/dashboards-reference.md is generated from the models; it must not drift from them."""

from __future__ import annotations

from dashboards.reference import reference
from tests.dashboards.conftest import ROOT


def test_the_reference_page_is_up_to_date():
    page = (ROOT / "docs" / "dashboards-reference.md").read_text(encoding="utf-8")
    assert page == reference(), "regenerate: python -m dashboards.reference > docs/dashboards-reference.md"


def test_the_reference_lists_every_chart_and_block_type():
    page = (ROOT / "docs" / "dashboards-reference.md").read_text(encoding="utf-8")
    for name in ("line", "area", "bar", "scatter", "histogram", "heatmap",  # the chart types, by hand
                 "note", "signal_check", "model_report", "rule_vs_model"):
        assert f"### `{name}`" in page, name
    for option in ("`per_day`", "`panels`", "`only_if`", "`min`", "`x_order`", "`rows_are`", "`term`"):
        assert option in page, option
