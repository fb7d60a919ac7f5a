"""The dashboards' read-only login on the PostgreSQL profile: made by the publish step, it reads
gold and the health table, and can neither write nor read silver (card tokens live there)."""

from __future__ import annotations

import uuid

import boto3
import psycopg
import pytest
from moto import mock_aws

from dashboards.source import QueryFailed, open_source
from dashboards.sql import Sql
from engine.io.readonly import reader_password, reader_sql
from engine.io.secretsmanager import SecretsManagerProvider
from engine.run.workspace import Workspace
from engine.spec.project import load_project
from engine.spec.secrets import EnvSecretProvider
from tests.io.test_warehouse_contract import Lakes

CONFIG = """\
name: p
profiles:
  postgres:
    lake: {kind: local, root: lake}
    warehouse:
      kind: postgres
      database: "${env:MEDALLION_PG_DATABASE}"
      user: postgres
      reader: {user: "${env:READER}"}
    secrets: {kind: env, prefix: MEDALLION_SECRET_}
"""


@pytest.fixture()
def reader_role(pg_database, postgres, monkeypatch):
    """A login name unique to this test (roles are server-wide), dropped afterwards."""
    name = f"dash_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("READER", name)
    monkeypatch.setenv("MEDALLION_SECRET_DASHBOARD_PASSWORD", "dash-pass")
    yield name
    with psycopg.connect(**pg_database, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{name}"')
    with psycopg.connect(**postgres, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_the_dashboards_login_reads_gold_only_and_writes_nothing(make_project, pg_database, reader_role):
    root = make_project({}, config=CONFIG)
    ws = Workspace(load_project(root, "postgres"), [])
    lakes = Lakes("local", root, None)
    lakes.lake = ws.lake
    ws.warehouse.refresh([lakes.sales(), lakes.daily()])  # silver.sales and gold.daily published

    source = open_source(ws)  # what `medallion dashboard` connects with
    assert source.warehouse.config.user == reader_role
    assert source.query(Sql("SELECT count(*) AS n FROM gold.daily"))["n"].tolist() == [4]
    assert source.query(Sql("SELECT version FROM medallion.published WHERE table_name = 'gold.daily'"))[
        "version"].tolist() == [1]
    for statement in ("SELECT name FROM silver.sales", "SELECT * FROM quarantine.x",
                      "INSERT INTO gold.daily (revenue) VALUES (1)", "DELETE FROM gold.daily",
                      "DROP TABLE gold.daily", "CREATE TABLE gold.mine (x int)", "CREATE TABLE public.mine (x int)",
                      "UPDATE medallion.published SET version = 9"):
        with pytest.raises(QueryFailed, match="permission denied|does not exist|must be owner"):
            source.query(Sql(statement))
    with pytest.raises(QueryFailed, match="permission denied for schema silver"):
        source.query(Sql("SELECT name FROM silver.sales"))

    # a new gold version is a new table: the publish grants it again
    ws.warehouse.refresh([lakes.daily()])
    assert source.query(Sql("SELECT count(*) AS n FROM gold.daily"))["n"].tolist() == [4]
    with psycopg.connect(**pg_database) as conn:
        assert conn.execute("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                            "WHERE rolname = %s", (reader_role,)).fetchone() == (True, False, False, False)


def test_the_password_is_generated_into_secrets_manager_when_missing():
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        provider = SecretsManagerProvider("medallion/", sm=sm)
        made = reader_password("${secret:dashboard_password}", provider)
        assert sm.get_secret_value(SecretId="medallion/dashboard_password")["SecretString"] == made
        assert len(made) >= 32 and any(c.isupper() for c in made) and any(c.isdigit() for c in made)
        assert reader_password("${secret:dashboard_password}", SecretsManagerProvider("medallion/", sm=sm)) == made
    with pytest.raises(Exception, match="set the environment variable MEDALLION_SECRET_DASHBOARD_PASSWORD"):
        reader_password("${secret:dashboard_password}", EnvSecretProvider(env={}))


def test_redshift_statements_of_the_reader():
    assert reader_sql("dash", "p'w", False, "redshift") == [
        "CREATE USER \"dash\" PASSWORD 'p''w'",
        'CREATE SCHEMA IF NOT EXISTS "gold"', 'GRANT USAGE ON SCHEMA "gold" TO "dash"',
        'GRANT SELECT ON ALL TABLES IN SCHEMA "gold" TO "dash"',
        'GRANT USAGE ON SCHEMA "medallion" TO "dash"', 'GRANT SELECT ON "medallion"."published" TO "dash"']
