"""``medallion test``: the restaurant specs' own tests pass; a failing test prints its row diff
and exits 1; given rows are typed from the upstream output schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # ten Spark tests in one call

BRONZE = """\
name: bronze.a
steps:
  - type: read
    format: csv
    path: raw/a.csv
    columns: {order_id: string, price: string}
"""

SILVER = """\
name: silver.b
inputs:
  a: bronze.a
steps:
  - type: parse
    columns:
      price: {type: "decimal(10,2)"}
  - type: derive
    columns:
      doubled: price * 2
tests:
  - name: doubles the price
    given:
      a: [{order_id: o1, price: "1.25"}, {order_id: o2, price: "2.00"}]
    expect:
      rows: [{order_id: o1, doubled: 2.50}, {order_id: o2, doubled: 4.10}, {order_id: o3, doubled: 1}]
"""


def test_the_restaurant_spec_tests_pass(spark, capsys):
    assert main(["test", "--project-dir", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out and out.count("PASS ") >= 10
    for mart in ("customer_lifetime_value", "customer_segments", "churn_indicators", "sales_trends",
                 "loyalty_impact", "location_performance", "pricing_effectiveness"):
        assert f"PASS gold.{mart}:" in out, mart


def test_a_failing_test_prints_its_diff_and_exits_1(spark, make_project, capsys):
    root = make_project({"pipelines/a.yaml": BRONZE, "pipelines/b.yaml": SILVER})
    assert main(["test", "--project-dir", str(root)]) == 1
    out = capsys.readouterr().out
    assert "FAIL silver.b: doubles the price" in out
    assert "pipelines/b.yaml:12" in out
    assert "changed    {order_id: 'o2'}: doubled expected 4.1, got 4.0" in out
    assert "missing    {order_id: 'o3', doubled: 1}" in out
    assert "0 passed, 1 failed" in out
