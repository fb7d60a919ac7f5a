"""``medallion test``: the restaurant specs' own tests pass (every mart has at least one); a
failing test prints its row diff and exits 1; given rows are typed from the upstream output
schema (dates, decimals, timestamps in the session time zone), and a value that cannot be typed
is reported at its row's line."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.spec.yaml_source import load_yaml_file

ROOT = Path(__file__).resolve().parents[2]
MARTS = sorted((ROOT / "marts").glob("*.yaml"))


def _mart_names() -> list[str]:
    return [load_yaml_file(path).data["name"] for path in MARTS]


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


def test_every_mart_has_a_spec_test():
    """Derived from marts/, so a new mart without ``tests:`` fails here (no Spark needed)."""
    assert len(MARTS) >= 14
    untested = [path.name for path in MARTS if not load_yaml_file(path).data.get("tests")]
    assert untested == [], f"marts without a tests: block: {untested}"


@pytest.mark.slow
@pytest.mark.timeout(1800)  # every spec test of the project in one call
def test_the_restaurant_spec_tests_pass(spark, capsys):
    assert main(["test", "--project-dir", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out and "FAIL " not in out
    for mart in _mart_names():
        assert f"PASS {mart}:" in out, mart
    passed = int(re.search(r"(\d+) passed, 0 failed", out).group(1))
    assert passed == out.count("PASS ") > len(MARTS)  # the silver specs have tests of their own too


def test_a_failing_test_prints_its_diff_and_exits_1(spark, make_project, capsys):
    root = make_project({"pipelines/a.yaml": BRONZE, "pipelines/b.yaml": SILVER})
    assert main(["test", "--project-dir", str(root)]) == 1
    out = capsys.readouterr().out
    assert "FAIL silver.b: doubles the price" in out
    assert "pipelines/b.yaml:12" in out
    assert "changed    {order_id: 'o2'}: doubled expected 4.1, got 4.0" in out
    assert "missing    {order_id: 'o3', doubled: 1}" in out
    assert "0 passed, 1 failed" in out



TYPED_COLUMNS = "{sold_on: string, price: string, tip: string, total: string, paid_at: string}"

TYPED_BRONZE = f"""\
name: bronze.t
steps:
  - type: read
    format: csv
    path: raw/t.csv
    columns: {TYPED_COLUMNS}
"""

TYPED_SILVER = """\
name: silver.t
inputs:
  a: bronze.t
steps:
  - type: parse
    columns:
      sold_on: {type: date}
      price: {type: "decimal(10,2)"}
      tip: {type: "decimal(10,2)"}
      total: {type: "decimal(10,2)"}
      paid_at: {type: timestamp}
"""

TYPED_GOLD = """\
name: gold.t
inputs:
  t: silver.t
steps:
  - type: derive
    columns:
      sold_on_type: typeof(sold_on)
      price_type: typeof(price)
      next_day: sold_on + 1
      month_end: last_day(sold_on)
      exact_cents: price + tip = total
      paid_hour: hour(paid_at)
      paid_date: to_date(paid_at)
tests:
  - name: given strings reach the spec as silver.t's date, decimal and timestamp
    given:
      t:
        - {sold_on: "2023-03-08", price: "7.25", tip: "0.30", total: "7.55", paid_at: "2024-03-10 01:30:00"}
        - {sold_on: "2023-02-28", price: "0.10", tip: "0.20", total: "0.30", paid_at: "2024-03-10 23:59:59"}
    expect:
      rows:
        - {sold_on: 2023-03-08, sold_on_type: date, price_type: "decimal(10,2)", next_day: 2023-03-09,
           month_end: 2023-03-31, exact_cents: true, paid_at: "2024-03-10 01:30:00", paid_hour: 1,
           paid_date: 2024-03-10}
        - {sold_on: 2023-02-28, sold_on_type: date, price_type: "decimal(10,2)", next_day: 2023-03-01,
           month_end: 2023-02-28, exact_cents: true, paid_at: "2024-03-10 23:59:59", paid_hour: 23,
           paid_date: 2024-03-10}
"""


def _typed_project(make_project, gold: str = TYPED_GOLD) -> Path:
    return make_project({"pipelines/t.yaml": TYPED_BRONZE, "pipelines/silver_t.yaml": TYPED_SILVER,
                         "pipelines/gold_t.yaml": gold})


@pytest.fixture()
def new_york_process(monkeypatch):
    """The Python process in New York time (the JVM session stays UTC), as on a US laptop."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_given_values_are_typed_from_the_upstream_schema(spark, make_project, capsys, new_york_process):
    """'2023-03-08' reaches gold.t as a date and '7.25' as decimal(10,2) (silver.t's types), so
    date arithmetic works and 0.10 + 0.20 = 0.30 exactly (as doubles it is 0.30000000000000004;
    from strings, date + 1 is null). By hand: 2023-03-08 + 1 = 03-09, last day of March the 31st;
    2023-02-28 + 1 = 03-01 (2023 is no leap year), last day of February the 28th.
    A timestamp is a wall time of the UTC session even with the Python process in New York:
    01:30 is hour 1 of 2024-03-10 (the US switch to summer time that night), 23:59:59 still that day."""
    root = _typed_project(make_project)
    assert main(["test", "--project-dir", str(root), "--select", "gold.t"]) == 0
    out = capsys.readouterr().out
    assert "PASS gold.t: given strings reach the spec as silver.t's date, decimal and timestamp" in out
    assert "1 passed, 0 failed" in out


def test_without_an_upstream_type_the_same_strings_stay_strings(spark, make_project, capsys):
    """The control: given as the rows of a read step of string columns, the same YAML strings stay
    strings, and the test fails on exactly the cells typing decides."""
    gold = TYPED_GOLD.replace("inputs:\n  t: silver.t\n", "").replace(
        "  - type: derive\n", f"  - type: read\n    format: csv\n    path: raw/t.csv\n    as: t\n"
                              f"    columns: {TYPED_COLUMNS}\n  - type: derive\n", 1)
    root = make_project({"pipelines/gold_t.yaml": gold})
    assert main(["test", "--project-dir", str(root)]) == 1
    out = capsys.readouterr().out
    assert "sold_on_type expected 'date', got 'string'" in out
    assert "price_type expected 'decimal(10,2)', got 'string'" in out
    assert "next_day expected '2023-03-09', got None" in out
    assert "exact_cents expected True, got False" in out  # 0.10 + 0.20 summed as doubles


def test_a_given_value_that_cannot_be_typed_is_reported_at_its_row(spark, make_project, capsys):
    for good, bad, row, message in (
            ('sold_on: "2023-03-08"', 'sold_on: "2023-02-30"', 1, "column 'sold_on': '2023-02-30' is not a date"),
            ('price: "0.10"', 'price: "ten cents"', 2, "column 'price': 'ten cents' is not a decimal(10,2)")):
        gold = TYPED_GOLD.replace(good, bad)
        line = next(i for i, text in enumerate(gold.splitlines(), 1) if bad in text)
        root = _typed_project(make_project, gold)
        assert main(["test", "--project-dir", str(root)]) == 1
        out = capsys.readouterr().out
        assert "FAIL gold.t: given strings reach the spec" in out
        assert f"pipelines/gold_t.yaml:{line}: given 't' row {row}: {message}" in out, out
