"""Static checks before Spark: columns propagate through the graph, expressions are parsed,
mistakes come back as file:line messages with suggestions; lineage follows the columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.plan.check import check_project
from engine.plan.graph import build_graph, load_all
from engine.plan.lineage import lineage_lines

ROOT = Path(__file__).resolve().parents[2]

BRONZE = """\
name: bronze.a
steps:
  - type: read
    format: csv
    path: raw/a.csv
    columns: {order_id: string, price: string, qty: string}
schedule: cron(0 7 * * ? *)
"""

SILVER = """\
name: silver.b
inputs:
  a: bronze.a
steps:
  - type: derive
    columns:
      total: prise * qty
      x: to_dat(order_id)
  - type: filter
    condition: sum(qty) > 1
  - type: aggregate
    group_by: [order_idd]
    metrics:
      n: qty
schedule: cron(0 7 * * ? *)
"""

SQL = """\
name: gold.c
inputs:
  b: silver.ok
steps:
  - type: sql
    query: |
      SELECT b.order_id,
             b.pricee
      FROM b
output:
  keys: [order_id]
"""

OK = """\
name: silver.ok
inputs:
  a: bronze.a
steps:
  - type: parse
    columns:
      price: {type: "decimal(10,2)"}
      qty: {type: int}
  - type: derive
    columns:
      revenue: price * qty
output:
  keys: [order_id]
"""


def _check(make_project, files):
    root = make_project(files)
    graph = build_graph(load_all(root, ["pipelines", "marts"], {}))
    return graph, check_project(graph)


def test_every_mistake_is_reported_at_its_line(make_project):
    _, result = _check(make_project, {"pipelines/a.yaml": BRONZE, "pipelines/b.yaml": SILVER})
    assert [str(e) for e in result.errors] == [
        "pipelines/b.yaml:7: unknown column 'prise' in frame 'a' (did you mean 'price'?)",
        "pipelines/b.yaml:8: unknown function 'to_dat' (did you mean 'to_date'?)",
        "pipelines/b.yaml:10: aggregate SUM(qty) is not allowed here (use an aggregate step, or a window step "
        "for a running value)",
        "pipelines/b.yaml:12: unknown column 'order_idd' in frame 'step 2 (filter)' (did you mean 'order_id'?)",
        "pipelines/b.yaml:14: metric 'qty' has no aggregate function (e.g. sum, count, max); a grouped column "
        "belongs in group_by",
        "pipelines/b.yaml:15: schedule on silver.b, which reads bronze.a: only a root spec (one that reads no other "
        "spec) may have a schedule; downstream specs start when their inputs are committed (scheduled roots: "
        "bronze.a)",
    ]


def test_sql_columns_are_checked_on_their_own_line(make_project):
    _, result = _check(make_project, {"pipelines/a.yaml": BRONZE, "pipelines/ok.yaml": OK, "marts/c.yaml": SQL})
    assert [str(e) for e in result.errors] == [
        "marts/c.yaml:8: unknown column 'pricee' in the query (did you mean 'price'?)"]


def test_types_and_lineage_follow_the_steps(make_project):
    graph, result = _check(make_project, {"pipelines/a.yaml": BRONZE, "pipelines/ok.yaml": OK})
    assert not result.errors
    out = result.outputs["silver.ok"]
    assert {c: v.type for c, v in out.items()} == {"order_id": "string", "price": "decimal(10,2)", "qty": "int",
                                                   "revenue": None}
    assert lineage_lines(graph, result, "silver.ok.revenue") == [
        "silver.ok.revenue [?] = price * qty  (pipelines/ok.yaml:11)",
        "  bronze.a.price [string]  (pipelines/a.yaml)",
        "    raw/a.csv: price",
        "  bronze.a.qty [string]  (pipelines/a.yaml)",
        "    raw/a.csv: qty",
    ]
    with pytest.raises(UsageError, match=r"no column 'revenu' \(did you mean 'revenue'\?\)"):
        lineage_lines(graph, result, "silver.ok.revenu")


def test_the_restaurant_project_is_clean_and_fully_known():
    from engine.run.workspace import Workspace

    ws = Workspace.open(ROOT, None, [])
    result = check_project(ws.graph)
    assert [str(e) for e in result.errors] == []
    assert all(frame is not None for frame in result.outputs.values())
    lines = lineage_lines(ws.graph, result, "gold.sales_trends.revenue")
    assert lines[0].startswith("gold.sales_trends.revenue [decimal(20,2)] = SUM(l.line_revenue)")
    assert lines[-1].strip() == "data/raw/order_items{.csv,/*.csv}: ITEM_QUANTITY"  # one file, or one a day


def test_the_function_list_is_that_of_the_spark_we_run(spark):
    from engine.plan.expressions import spark_functions

    assert spark_functions() == {r[0].lower() for r in spark.sql("SHOW FUNCTIONS").collect()}
