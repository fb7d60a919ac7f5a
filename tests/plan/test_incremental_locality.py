"""Which silver/gold specs can be recomputed by part, and the reason a step costs a full pass.

The expected verdicts are worked out by hand from the rule each step must meet (module
docstring of engine.plan.incremental): the grain must reach every grouping step unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.plan.check import check_project
from engine.plan.columns import Col
from engine.plan.graph import build_graph, load_all
from engine.plan.incremental import analyse
from engine.spec.loader import load_spec

ORDERS = {"order_id": Col("string"), "user_id": Col("string"), "order_date": Col("date"),
          "amount": Col("decimal(10,2)"), "store_id": Col("string")}
STORES = {"store_id": Col("string"), "region": Col("string")}


def verdict(tmp_path: Path, steps: str, incremental: str = "{affected_keys: user_id}",
            inputs: str = "{orders: silver.orders, stores: silver.stores}") -> tuple[str | None, set[str]]:
    path = tmp_path / "spec.yaml"
    path.write_text(f"name: gold.m\ninputs: {inputs}\nincremental: {incremental}\nsteps:\n{steps}",
                    encoding="utf-8")
    loaded = load_spec(path, {})
    frames = {"orders": ORDERS, "stores": STORES}
    result = analyse(loaded, {alias: frames[alias] for alias in loaded.spec.inputs})
    return result.full_pass, result.driving


@pytest.mark.parametrize(("steps", "expected"), [
    ("  - {type: aggregate, input: orders, group_by: [user_id], metrics: {n: count(*)}}", None),
    ("  - {type: window, input: orders, partition_by: [user_id], order_by: [order_date], columns: {k: rank()}}",
     None),
    ("  - {type: window, input: orders, order_by: [amount], columns: {p: percent_rank()}}",
     "step 1 (window) percent_rank() over all rows, not partitioned by user_id"),
    ("  - {type: window, input: orders, partition_by: [store_id], order_by: [amount], columns: {r: rank()}}",
     "step 1 (window) rank() partitioned by (store_id) without user_id"),
    ("  - {type: aggregate, input: orders, group_by: [store_id], metrics: {n: count(*)}}",
     "step 1 (aggregate) groups by (store_id) without user_id"),
    ("  - {type: dedupe, input: orders, keys: [order_id]}\n"
     "  - {type: aggregate, group_by: [user_id], metrics: {n: count(*)}}",
     "step 1 (dedupe) keeps one row per (order_id) across all user_id values"),
    ("  - {type: derive, input: orders, columns: {user_id: upper(user_id)}}",
     "step 1 (derive) rewrites user_id, the column the recomputed part is chosen by (user_id)"),
    ("  - {type: select, input: orders, columns: [order_id, amount]}",
     "step 1 (select) drops user_id"),
    ("  - {type: quality, input: orders, rules: [{rule: unique, columns: [order_id]}]}",
     "step 1 (quality) rule unique(order_id) compares rows across all user_id values"),
    # a lookup read whole: joined as the side that is not kept, it is fine; kept, it is not
    ("  - {type: join, left: orders, right: stores, on: [store_id], how: left}\n"
     "  - {type: aggregate, group_by: [user_id], metrics: {n: count(*)}}", None),
    ("  - {type: join, left: stores, right: orders, on: [store_id], how: left}",
     "step 1 (join) a left join keeps rows of the frame read whole that no recomputed row matches"),
    ("  - {type: sql, query: 'SELECT user_id, count(*) AS n FROM orders GROUP BY user_id'}",
     "step 1 (sql) is a sql query over orders: sql is not analysed"),
    # a sql step over the lookup only is computed whole, which is exact
    ("  - {type: sql, query: 'SELECT store_id FROM stores', as: s}\n"
     "  - {type: join, left: orders, right: s, on: [store_id], how: semi}", None),
])
def test_each_step_rule(tmp_path, steps, expected):
    assert verdict(tmp_path, steps)[0] == expected


def test_by_date_windows_partitioned_by_the_date_are_exact(tmp_path):
    steps = ("  - {type: aggregate, input: orders, group_by: [order_date, store_id], metrics: {r: sum(amount)}}\n"
             "  - {type: window, partition_by: [order_date], order_by: [r], columns: {k: row_number()}}")
    assert verdict(tmp_path, steps, "{by: order_date, lookback_days: 3}") == (None, {"orders"})
    moving = ("  - {type: window, input: orders, partition_by: [store_id], order_by: [order_date], "
              "frame: {start: -6}, columns: {avg7: avg(amount)}}")
    assert verdict(tmp_path, moving, "{by: order_date}")[0] == (
        "step 1 (window) avg() partitioned by (store_id) without order_date")


def test_no_input_with_the_grain(tmp_path):
    steps = "  - {type: aggregate, input: stores, group_by: [region], metrics: {n: count(*)}}"
    assert verdict(tmp_path, steps, "{by: order_date}", "{stores: silver.stores}")[0] == (
        "no input has column(s) order_date")


BRONZE = """\
name: bronze.a
steps:
  - type: read
    format: csv
    path: raw/a.csv
    columns: {order_id: string, user_id: string, day: string}
"""


def test_static_errors_name_the_line(make_project):
    gold = """\
name: gold.g
inputs: {a: bronze.a}
incremental:
  by: day
steps:
  - type: aggregate
    group_by: [day, user_id]
    metrics: {n: count(*)}
"""
    keyed = """\
name: gold.k
inputs: {a: bronze.a}
incremental: {affected_keys: [customer]}
steps:
  - type: aggregate
    group_by: [user_id]
    metrics: {n: count(*)}
"""
    root = make_project({"pipelines/a.yaml": BRONZE, "marts/g.yaml": gold, "marts/k.yaml": keyed})
    result = check_project(build_graph(load_all(root, ["pipelines", "marts"], {})))
    assert sorted(str(e) for e in result.errors) == [
        "marts/g.yaml:4: incremental.by 'day' is a string column of gold.g; by needs a date or timestamp "
        "(the recomputed range is a span of dates)",
        "marts/k.yaml:3: incremental.affected_keys customer: no input has this column (inputs: a (bronze.a)), "
        "so none can be read by part; name a column that comes unchanged from an input, or drop incremental:",
        "marts/k.yaml:3: unknown column 'customer' in the output of gold.k",
    ]


def test_a_trimmed_key_is_followed_and_a_case_only_rename_is_no_rename(tmp_path):
    """' u1' and 'u1' are one output key after the trim: the input rows are chosen by the trimmed
    value (key_steps); for a date range a trim is not followed."""
    path = tmp_path / "spec.yaml"
    path.write_text("name: silver.m\ninputs: {orders: bronze.orders}\nincremental: {affected_keys: user_id}\n"
                    "steps:\n  - {type: trim}\n  - {type: rename, columns: {USER_ID: user_id}}\n"
                    "  - {type: quality, rules: [{rule: unique, columns: [user_id]}]}\n", encoding="utf-8")
    frame = {"USER_ID": Col("string"), "order_date": Col("date")}
    result = analyse(load_spec(path, {}), {"orders": frame})
    assert (result.full_pass, result.key_steps) == (None, {"orders": {"user_id": ("blank_as_null",)}})
    path.write_text(path.read_text().replace("{type: trim}", "{type: trim, blank_as_null: false}"), encoding="utf-8")
    assert analyse(load_spec(path, {}), {"orders": frame}).key_steps == {"orders": {"user_id": ("trim",)}}
    path.write_text(path.read_text().replace("USER_ID: user_id", "USER_ID: customer"), encoding="utf-8")
    assert analyse(load_spec(path, {}), {"orders": frame}).full_pass == (
        "step 2 (rename) renames user_id, the column the recomputed part is chosen by (user_id)")
    assert verdict(tmp_path, "  - {type: trim, input: orders, columns: [order_date]}", "{by: order_date}")[0] == (
        "step 1 (trim) trims order_date, the column the recomputed part is chosen by (order_date)")
