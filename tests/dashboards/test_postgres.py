"""The generated pages on the real PostgreSQL warehouse (the postgres profile), not only DuckDB.

The small warehouse of conftest.py is copied into a database of its own (so the tables other
tests publish to ``test`` are untouched); the app opens it through the profile, and the same
hand-computed numbers and bound-parameter filters must come out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import create_database, drop_database
from tests.dashboards.conftest import ROOT
from tests.dashboards.test_pages import PAGES, assert_clean, charts, kpi_labels, metrics, not_shown, open_page

PG_TYPE = {"VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "double precision",
           "DECIMAL(18,2)": "numeric(18,2)", "DATE": "date", "TIMESTAMP": "timestamp", "BOOLEAN": "boolean"}


def _copy_warehouse(duck: Path, dsn: dict) -> None:
    """Every table of the DuckDB file, with its rows, into the PostgreSQL database."""
    import psycopg

    src = duckdb.connect(str(duck), read_only=True)
    tables = src.execute("select table_schema, table_name from information_schema.tables "
                         "where table_schema <> 'main'").fetchall()
    with psycopg.connect(**dsn, autocommit=True) as pg:
        for schema, table in tables:
            cols = src.execute("select column_name, data_type from information_schema.columns where "
                               "table_schema = ? and table_name = ? order by ordinal_position",
                               [schema, table]).fetchall()
            pg.execute(f'create schema if not exists "{schema}"')
            pg.execute(f'create table "{schema}"."{table}" ('
                       + ", ".join(f'"{c}" {PG_TYPE[t]}' for c, t in cols) + ")")
            rows = src.execute(f'select * from "{schema}"."{table}"').fetchall()
            with pg.cursor() as cur:
                cur.executemany(f'insert into "{schema}"."{table}" values ('
                                + ", ".join(["%s"] * len(cols)) + ")", rows)
    src.close()


@pytest.fixture(scope="module")
def pg_lake(postgres, warehouse_lake, tmp_path_factory):
    """A lake folder for the postgres profile (run records) and a fresh database with the marts."""
    import psycopg

    name = create_database(postgres, "medallion_dash")["dbname"]
    admin = postgres
    _copy_warehouse(warehouse_lake / "warehouse.duckdb", {**postgres, "dbname": name})
    lake = tmp_path_factory.mktemp("pgdash") / "lake"
    shutil.copytree(warehouse_lake / "_runs", lake / "postgres" / "_runs")  # the profile's lake root
    yield lake, name
    drop_database(admin, name)


@pytest.fixture()
def on_postgres(pg_lake, use_project, monkeypatch):
    lake, database = pg_lake
    monkeypatch.setenv("MEDALLION_PG_DATABASE", database)
    use_project(ROOT, [f"lake_dir={lake}"], profile="postgres")


@pytest.mark.parametrize("page", PAGES, ids=[p.slug for p in PAGES])
def test_every_page_draws_on_postgres(page, on_postgres):
    at = open_page(page.slug)
    assert_clean(at)
    parts = [page, *page.sections]
    omitted, shown = not_shown(at), [m.label for m in at.metric]
    assert all(label in shown or f"*{label}*" in omitted for label in kpi_labels(page)), (shown, omitted)
    drawn = charts(at)
    titles = [c.title for p in parts for c in p.board.charts]
    assert len(drawn) + sum(f"*{t}*" in omitted for t in titles) == len(titles), omitted
    assert all(d["rows"] > 0 for d in drawn), "a chart without data"


def test_sales_numbers_and_filters_on_postgres(on_postgres, pg_lake):
    at = open_page("sales_trends")
    assert_clean(at)
    _, database = pg_lake
    assert any(f"PostgreSQL 127.0.0.1:5432/{database}" in c.value and "profile postgres" in c.value
               for c in at.sidebar.caption), [c.value for c in at.sidebar.caption]
    # the same six hand-written rows as on DuckDB: 100 + 50 + 25 + 10 + 5 + 2.50
    assert metrics(at)["Revenue"] == "$192.50"
    at.multiselect(key="sales_trends:filter:restaurant_id").set_value(["R1"]).run()
    assert metrics(at)["Revenue"] == "$135.00"  # 100 + 25 + 10
    evil = "R'3; DROP TABLE gold.sales_trends; --"
    at.multiselect(key="sales_trends:filter:restaurant_id").set_value([evil]).run()
    assert_clean(at)
    assert metrics(at)["Revenue"] == "$2.50"  # a bound parameter: matches only itself


def test_churn_counts_use_count_if_rewritten_for_postgres(on_postgres):
    at = open_page("churn_indicators")
    assert_clean(at)
    got = metrics(at)
    # U1, U4 active; U2, U5 at risk; U3 churned (count_if is not PostgreSQL: rewritten to a sum)
    assert (got["Active"], got["At risk"], got["Churned"]) == ("2", "2", "1")
