"""``medallion validate`` checks dashboard blocks: every mistake is ``file:line: message (did you
mean ...?)``. The project is copied and broken on purpose; the expected line of each mistake is
found by searching the copied file for the text we put there (not by the code under test)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import main
from tests.dashboards.conftest import ROOT


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("medallion.yaml", "vocabulary.yaml"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("pipelines", "marts"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


def _break(path: Path, old: str, new: str) -> int:
    """Replace ``old`` (exactly once) and return the 1-based line it is on."""
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return text[:text.index(old)].count("\n") + 1


def _validate(root: Path, capsys) -> tuple[int, list[str]]:
    code = main(["validate", "--project-dir", str(root)])
    return code, capsys.readouterr().err.strip().splitlines()


def test_the_project_validates(capsys):
    assert main(["validate", "--project-dir", str(ROOT)]) == 0
    assert "spec(s) valid" in capsys.readouterr().out


def test_block_mistakes_are_located_with_a_suggestion(tmp_path, capsys):
    root = _copy(tmp_path)
    sales, churn, lift = root / "marts/sales_trends.yaml", root / "marts/churn_indicators.yaml", \
        root / "marts/loyalty_enrollment_lift.yaml"
    key = _break(sales, "    - {label: Lines, value: sum(lines), format: integer, delta: previous_period}",
                 "    - {lable: Lines, value: sum(lines), format: integer, delta: previous_period}")
    column = _break(sales, "y: sum(revenue), sort: -y, top: 15, y_title: Revenue,",
                    "y: sum(revenu), sort: -y, top: 15, y_title: Revenue,")
    option = _break(churn, "{type: histogram, x: days_since_last_order,", "{type: histogram, log_y: true, x: days_since_last_order,")
    inside = _break(churn, "value: \"sum(CASE WHEN churn_status = 'at_risk' THEN revenue_last_365d END)\"",
                    "value: \"sum(CASE WHEN churn_statu = 'at_risk' THEN revenue_last_365d END)\"")
    term = _break(churn, "{term: customer_status.churned,", "{term: customer_status.chruned,")
    part_of = _break(lift, "part_of: gold.loyalty_impact", "part_of: gold.loyalty_impakt")
    code, lines = _validate(root, capsys)
    assert code == 2
    assert sorted(lines) == sorted([
        f"error: marts/sales_trends.yaml:{key}: unknown key 'lable' in dashboard.kpis.2 (did you mean 'label'?)",
        f"error: marts/churn_indicators.yaml:{option}: unknown key 'log_y' in dashboard.charts.2 (did you mean 'log_x'?)",
        f"error: marts/loyalty_enrollment_lift.yaml:{part_of}: dashboard.part_of: no page for 'gold.loyalty_impakt' "
        "(did you mean 'gold.loyalty_impact'?)",
    ]), lines  # a block that fails its model is reported alone: its cross-references wait for the fix
    _break(sales, "{lable: Lines", "{label: Lines")
    _break(churn, "{type: histogram, log_y: true,", "{type: histogram,")
    code, lines = _validate(root, capsys)
    assert sorted(lines) == sorted([
        f"error: marts/sales_trends.yaml:{column}: dashboard.charts.5.y: unknown column 'revenu' (did you mean 'revenue'?)",
        f"error: marts/churn_indicators.yaml:{inside}: dashboard.kpis.3.value: unknown column 'churn_statu' "
        "(did you mean 'churn_status'?)",
        f"error: marts/churn_indicators.yaml:{term}: dashboard.kpis.2.term: 'customer_status' has no value 'chruned' "
        "(did you mean 'churned'?)",
        f"error: marts/loyalty_enrollment_lift.yaml:{part_of}: dashboard.part_of: no page for 'gold.loyalty_impakt' "
        "(did you mean 'gold.loyalty_impact'?)",
    ]), lines


@pytest.mark.parametrize("old,new,message", [
    ("    - {type: line, x: order_date, y: sum(revenue), compare: year_over_year,",
     "    - {type: lin, x: order_date, y: sum(revenue), compare: year_over_year,",
     "unknown chart type 'lin' (did you mean 'line'?)"),
    ("  title: Sales Trends\n", "  tilte: Sales Trends\n", "unknown key 'tilte' in dashboard (did you mean 'title'?)"),
])
def test_chart_types_and_page_keys(tmp_path, capsys, old, new, message):
    root = _copy(tmp_path)
    line = _break(root / "marts/sales_trends.yaml", old, new)
    code, lines = _validate(root, capsys)
    assert code == 2
    assert f"error: marts/sales_trends.yaml:{line}: {message}" in lines, lines


def test_a_vocabulary_mistake_is_located(tmp_path, capsys):
    root = _copy(tmp_path)
    line = _break(root / "vocabulary.yaml", "    label: Customer status (rule + model)\n", "    lable: Customer status (rule + model)\n")
    code, lines = _validate(root, capsys)
    assert code == 2
    assert f"error: vocabulary.yaml:{line}: unknown key 'lable' in terms.customer_status (did you mean 'label'?)" \
        in lines, lines
