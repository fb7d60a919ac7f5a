"""The as-of rule: an explicit as_of date replaces "latest"; orders after it are left out and every
"days since" is counted to it. A value that is not a date stops the run instead of falling back.

Same raw fixture as test_gold_marts.py (see its docstring for the orders), run with
as_of=2023-12-31. Orders on or before that date: O01, O05, O06 (C1); O07-O10 (C2); O12, O13 (C3);
O15-O17 (C4); O23, O24 (C7); O25 (C8); O27 (C9); guests O28, O29 - 18 orders, 7 customers
(C5 and C6 only ordered in 2024).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.cli import main

pytestmark = pytest.mark.slow  # runs the whole pipeline

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "tests" / "cases" / "gold" / "raw"
AS_OF = date(2023, 12, 31)


def user(k: int) -> str:
    return f"6522{'0' * 18}c{k}"


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("gold_as_of") / "lake"
    code = main(["run", "--project-dir", str(ROOT), "--var", f"raw_dir={RAW}", "--var", f"lake_dir={lake}",
                 "--var", "as_of=2023-12-31", "--select",
                 "+gold.churn_indicators +gold.sales_trends +gold.location_performance"])
    assert code == 0
    return lake


def query(lake: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_variable_sets_the_date(lake):
    # the data still ends on 2024-02-20; the marts are measured as of the date given
    assert query(lake, "select as_of, as_of_variable, data_last_order_date from gold.as_of") == [
        (AS_OF, "2023-12-31", date(2024, 2, 20))]


def test_orders_after_the_date_are_left_out(lake):
    assert query(lake, "select count(*), max(order_date) from gold.order_facts") == [(18, date(2023, 12, 22))]
    assert query(lake, "select max(order_date), sum(orders) from gold.sales_trends where item_category = 'Bowls'") \
        == [(date(2023, 10, 23), 1)]
    # C1 as of 2023-12-31: O01 9.48 + O05 18.98 + O06 7.49; first order 2023-01-16, 349 days before
    assert query(lake, f"select orders, total_revenue, tenure_days from gold.customer_lifetime_value "
                       f"where user_id = '{user(1)}'") == [(3, Decimal("35.95"), 349)]


def test_days_and_status_are_counted_to_the_date(lake):
    got = {r[0]: r[1:] for r in query(lake, "select user_id, days_since_last_order, churn_status "
                                            "from gold.churn_indicators")}
    assert got == {
        user(1): (19, "active"),    # 2023-12-12
        user(2): (49, "at_risk"),   # 2023-11-12
        user(3): (87, "at_risk"),   # 2023-10-05 (its 2024 order is after the date)
        user(4): (40, "active"),    # 2023-11-21
        user(7): (39, "active"),    # 2023-11-22
        user(8): (314, "churned"),  # 2023-02-20 (its 2024 order is after the date)
        user(9): (369, "churned"),  # 2022-12-27
    }


def test_location_windows_move_with_the_date(lake):
    # RC's last order (2023-08-24) is 129 days before 2023-12-31: still inactive, but now inside the
    # previous 90 days (days 90-179), so it has revenue_prev_90d and a growth of -100 %
    rc = query(lake, "select status, revenue_last_90d, revenue_prev_90d, growth_90d_pct, rank_growth "
                     "from gold.location_performance where restaurant_id = '5e7e35ec902ad5ac017b242a'")
    assert rc == [("inactive", Decimal("0.00"), Decimal("19.78"), -100.0, None)]


@pytest.mark.parametrize("value", ["yesterday", "2023-13-01", "31-12-2023"])
def test_a_value_that_is_not_a_date_stops_the_run(lake, value):
    code = main(["run", "--project-dir", str(ROOT), "--var", f"raw_dir={RAW}", "--var", f"lake_dir={lake}",
                 "--var", f"as_of={value}", "--select", "gold.as_of"])
    assert code == 1
    record = json.loads(sorted((lake / "_runs").glob("*.json"))[-1].read_text())
    (spec,) = record["specs"]
    assert spec["status"] == "failed" and "as_of_is_a_date" in spec["error"]
    # the table keeps its last good version
    assert query(lake, "select as_of from gold.as_of") == [(AS_OF,)]
