"""The generated pages on the real PostgreSQL warehouse (the postgres profile), not only DuckDB.

The small warehouse of conftest.py is copied into a database of its own (so the tables other
tests publish to ``test`` are untouched), the profile's read-only login is granted as a publish
grants it, and the app opens it through the profile as that login: the same hand-computed
numbers and bound-parameter filters must come out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from engine.spec.secrets import EnvSecretProvider
from tests.conftest import create_database, drop_database, drop_role
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


def grant_as_publish_does(database: str, reader: str, password: str) -> None:
    """The profile's read-only login, made and granted by the publish step's own code
    (PostgresWarehouse.grant_reader), as after a publish of these tables."""
    from engine.run.workspace import Workspace
    from engine.spec.project import load_project

    env = {"MEDALLION_PG_DATABASE": database, "MEDALLION_DASHBOARDS_USER": reader}
    warehouse = Workspace(load_project(ROOT, "postgres", env=env), []).warehouse
    warehouse.secrets = EnvSecretProvider(env={"MEDALLION_SECRET_DASHBOARD_PASSWORD": password})
    with warehouse.open() as conn:
        warehouse._published(conn)  # medallion.published, the health table the login may read
        conn.commit()
        warehouse.grant_reader(conn, published=True)


@pytest.fixture(scope="module")
def pg_lake(postgres, warehouse_lake, tmp_path_factory):
    """A lake folder for the postgres profile (run records), a fresh database with the marts and
    the profile's read-only login (a name of its own: roles are server-wide)."""
    name = create_database(postgres, "medallion_dash")["dbname"]
    reader, password = f"{name}_ro", "dash-pass"
    _copy_warehouse(warehouse_lake / "warehouse.duckdb", {**postgres, "dbname": name})
    grant_as_publish_does(name, reader, password)
    lake = tmp_path_factory.mktemp("pgdash") / "lake"
    shutil.copytree(warehouse_lake / "_runs", lake / "postgres" / "_runs")  # the profile's lake root
    yield lake, name, reader, password
    drop_database(postgres, name)
    drop_role(postgres, reader)


@pytest.fixture()
def on_postgres(pg_lake, use_project, monkeypatch):
    lake, database, reader, password = pg_lake
    monkeypatch.setenv("MEDALLION_PG_DATABASE", database)
    monkeypatch.setenv("MEDALLION_DASHBOARDS_USER", reader)  # the pages connect as the read-only login
    monkeypatch.setenv("MEDALLION_SECRET_DASHBOARD_PASSWORD", password)
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
    database = pg_lake[1]
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
