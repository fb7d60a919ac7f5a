"""Fixtures of the dashboard tests: a small DuckDB warehouse shaped exactly like the marts.

Why not the pipeline: Spark costs ~30 s here. The tables are created from each page spec's
documented ``columns`` (types from their formats), filled with a few generated rows, and the
tables the tests check numbers on get hand-written rows, so every expected value is computed by
hand in the tests. A run record (with a fitted model report and quality rules) sits in the
lake's run store. The real pipeline is exercised by the slow browser test.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
SQL_TYPE = {"text": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "money": "DECIMAL(18,2)",
            "percent": "DOUBLE", "date": "DATE", "datetime": "TIMESTAMP", "boolean": "BOOLEAN", None: "VARCHAR"}
CATEGORIES = {
    "churn_status": ["active", "at_risk", "churned"], "status": ["active", "inactive"],
    "segment": ["Champions", "Loyal", "New", "Hibernating"], "clv_tier": ["High", "Medium", "Low"],
    "clv_tier_excl_bots": ["High", "Medium", "Low"],
    "loyalty_group": ["member order", "non-member order", "guest"],
    "customer_class": ["always member", "never member", "joined", "lapsed member"],
    "preferred_daypart": ["Breakfast", "Lunch", "Dinner"], "day_of_week": ["Monday", "Tuesday", "Sunday"],
}
ROWS = 12
RUN_ID = "20240110T000000000Z-aaaaaa"

# --- hand-written rows (the numbers the tests check) --------------------------------------------
SALES = [  # order_date, restaurant_id, item_category, revenue, lines, units, bulk_revenue, is_holiday
    ("2024-01-01", "R1", "Bowls", 100.00, 4, 5, 0.00, True),
    ("2024-01-02", "R2", "Bowls", 50.00, 2, 2, 0.00, False),
    ("2024-01-03", "R1", "Salads", 25.00, 1, 1, 0.00, False),
    ("2024-01-08", "R1", "Bowls", 10.00, 1, 1, 0.00, False),
    ("2024-01-09", "R2", "Salads", 5.00, 1, 2, 5.00, False),
    ("2024-01-10", "R'3; DROP TABLE gold.sales_trends; --", "Salads", 2.50, 1, 1, 0.00, False),
]
CHURN = [  # user_id, churn_status, days_since_last_order, revenue_last_365d, overdue_ratio
    ("U1", "active", 3, 80.00, 0.5),
    ("U2", "at_risk", 60, 40.00, 2.0),
    ("U3", "churned", 400, 0.00, 9.0),
    ("U4", "active", 10, 20.00, 1.5),
    ("U5", "at_risk", 80, 60.50, 1.1),
]
PRICING = [  # item, category, revenue, zero_price_lines, discount_lines, has_discount_signal
    ("bowl", "Bowls", 300.00, 2, 0, False),
    ("salad", "Salads", 120.00, 1, 0, False),
]
CLASSES = [  # customer_class, customers, avg_clv: "lapsed member" is the 2-customer group
    ("never member", 120, 40.0), ("joined", 80, 90.0), ("always member", 45, 70.0), ("lapsed member", 2, 300.0),
]
LOYALTY = [  # order_month, loyalty_group, orders, revenue; as_of 2024-02-20: February is a partial month
    ("2023-12-01", "member order", 10, 150.0), ("2023-12-01", "guest", 5, 50.0),
    ("2024-01-01", "member order", 12, 170.0), ("2024-01-01", "guest", 6, 66.0),
    ("2024-02-01", "member order", 4, 60.0), ("2024-02-01", "guest", 2, 20.0),
]
FIT = {
    "kind": "clv_model", "status": "fitted", "message": "all models fitted; predictive columns published",
    "customers": 5, "horizon": 365.0, "time_unit": "days",
    "bgnbd": {"model": "bgnbd", "converged": True, "message": "converged", "log_likelihood": -1234.5,
              "params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, "n_customers": 2357},
    "gamma_gamma": {"model": "gamma_gamma", "converged": True, "message": "converged", "log_likelihood": -99.0,
                    "params": {"p": 6.25, "q": 3.74, "gamma": 15.44}, "n_customers": 946},
}


def _value(column: str, fmt: str | None, i: int) -> Any:
    if column in CATEGORIES:
        values = CATEGORIES[column]
        return values[i % len(values)]
    if fmt == "integer":
        return i + 1
    if fmt == "percent":
        return (i % 10) / 10
    if fmt == "number":
        return 1.5 * i
    if fmt == "money":
        return 10.0 * (i + 1)
    if fmt == "date":
        return dt.date(2024, 1, 1) + dt.timedelta(days=7 * i)
    if fmt == "datetime":
        return dt.datetime(2024, 1, 1, 12) + dt.timedelta(days=7 * i)
    if fmt == "boolean":
        return i % 3 == 0
    return f"{column[:3]}{i % 4}"


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, Any],
            rows: list[dict[str, Any]] | None = None) -> None:
    layer, name = table.split(".")
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{layer}"')
    names = list(columns)
    con.execute(f'CREATE OR REPLACE TABLE "{layer}"."{name}" ('
                + ", ".join(f'"{c}" {SQL_TYPE[getattr(columns[c], "format", None)]}' for c in names) + ")")
    rows = rows if rows is not None else [{} for _ in range(ROWS)]
    for i, given in enumerate(rows):
        values = [given.get(c, _value(c, getattr(columns[c], "format", None), i)) for c in names]
        con.execute(f'INSERT INTO "{layer}"."{name}" VALUES (' + ", ".join("?" for _ in names) + ")", values)


def _page_tables() -> dict[str, dict[str, Any]]:
    """Every table a page (or a section) reads, with its documented columns."""
    from dashboards.catalog import load_pages
    from engine.run.workspace import Workspace

    ws = Workspace.open(ROOT, None, [])
    tables = {}
    for page in load_pages(ws.graph, ROOT):
        for item in [page, *page.sections]:
            tables[item.table] = item.columns
    return tables


def build_warehouse(lake: Path) -> None:
    """The warehouse file and a run record under ``lake``."""
    from engine.run.record import RunRecord, RunStore, SpecRecord

    lake.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    for table, columns in _page_tables().items():
        rows = None
        if table == "gold.sales_trends":
            rows = [{"order_date": dt.date.fromisoformat(d), "restaurant_id": r, "item_category": c, "revenue": v,
                     "items_revenue": v, "options_revenue": 0.0, "lines": n, "units": u, "bulk_revenue": b,
                     "is_holiday": h, "is_weekend": False, "as_of": dt.date(2024, 1, 10)}
                    for d, r, c, v, n, u, b, h in SALES]
        elif table == "gold.churn_indicators":
            rows = [{"user_id": u, "churn_status": s, "rule_status": s, "days_since_last_order": d,
                     "revenue_last_365d": v, "overdue_ratio": o, "is_suspected_bot": False} for u, s, d, v, o in CHURN]
        elif table == "gold.pricing_effectiveness":
            rows = [{"item_name_normalized": n, "item_category": c, "revenue": v, "zero_price_lines": z,
                     "discount_lines": dl, "has_discount_signal": h, "discount_amount": 0.0}
                    for n, c, v, z, dl, h in PRICING]
        elif table == "gold.loyalty_customer_classes":
            rows = [{"customer_class": c, "customers": n, "avg_clv": v} for c, n, v in CLASSES]
        elif table == "gold.loyalty_impact":
            rows = [{"order_month": dt.date.fromisoformat(m), "loyalty_group": g, "orders": o, "revenue": r,
                     "avg_order_value": round(r / o, 2), "as_of": dt.date(2024, 2, 20)} for m, g, o, r in LOYALTY]
        _create(con, table, columns, rows)
    con.execute("CREATE SCHEMA quarantine")  # the shape the runner writes (engine/steps/quarantine.py)
    con.execute('CREATE TABLE quarantine.silver_order_items ("_rule" VARCHAR, "_reason" VARCHAR, "_spec" VARCHAR, '
                '"_step" VARCHAR, "_run_id" VARCHAR, "_quarantined_at" TIMESTAMP, "_record" VARCHAR)')
    for i in range(3):
        con.execute("INSERT INTO quarantine.silver_order_items VALUES ('line_keys_present', 'lineitem_id is null', "
                    "'silver.order_items', 'step 8 (quality)', ?, '2024-01-10 00:01:00', ?)",
                    [RUN_ID, f'{{"order_id": "O{i}", "lineitem_id": null}}'])
    con.close()
    store = RunStore(lake / "_runs")
    store.save(RunRecord(
        run_id=RUN_ID, project="test", profile="local", status="ok",
        started_at="2024-01-10T00:00:00+00:00", finished_at="2024-01-10T00:02:30+00:00",
        specs=[SpecRecord(spec="silver.order_items", layer="silver", status="ok", attempts=1, rows_in=102,
                          rows_out=99, seconds=4.5, version=1, quarantined=3,
                          accounting={"source": "lines", "rows_in": 102, "rows_out": 99, "quarantined": 3,
                                      "filtered": 0, "deduplicated": 0, "dropped": 0, "balanced": True},
                          rules=[{"step": "step 8 (quality)", "rule": "line_keys_present", "kind": "not_null",
                                  "action": "quarantine", "checked": 102, "failed": 3},
                                 {"step": "step 8 (quality)", "rule": "usd_only", "kind": "accepted_values",
                                  "action": "warn", "checked": 102, "failed": 0}]),
               SpecRecord(spec="gold.customer_lifetime_value", layer="gold", status="ok", attempts=1,
                          rows_in=99, rows_out=5, seconds=7.25, version=1, artefacts=[FIT])]))


@pytest.fixture(scope="session")
def warehouse_lake(tmp_path_factory) -> Path:
    """The lake folder holding the small warehouse and run record (built once)."""
    lake = tmp_path_factory.mktemp("dash") / "lake"
    build_warehouse(lake)
    return lake


@pytest.fixture()
def fresh_lake(warehouse_lake, tmp_path) -> Path:
    """A private copy of the lake a test may change (run records, artefacts)."""
    copy = tmp_path / "lake"
    shutil.copytree(warehouse_lake, copy)
    return copy


@pytest.fixture()
def use_project(monkeypatch):
    """Point the app at a project folder and variables; caches start empty."""
    import streamlit as st

    from dashboards import context

    def use(project_dir: Path, var: list[str], profile: str | None = None) -> None:
        monkeypatch.setenv(context.ENV_DIR, str(project_dir))
        monkeypatch.setenv(context.ENV_VARS, json.dumps(var))
        monkeypatch.setenv(context.ENV_PROFILE, profile or "")
        st.cache_data.clear()
        st.cache_resource.clear()
        context._SOURCES.clear()

    yield use
    st.cache_data.clear()
    st.cache_resource.clear()
    context._SOURCES.clear()
