"""The dashboards' read-only login on the PostgreSQL profile: made by the publish step, it reads
gold and the health table, and can neither write nor read silver (card tokens live there)."""

from __future__ import annotations

import uuid
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[2]

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


def test_grants_only_when_the_login_is_managed_elsewhere():
    assert reader_sql("dash", None, True, "redshift") == [
        'CREATE SCHEMA IF NOT EXISTS "gold"', 'GRANT USAGE ON SCHEMA "gold" TO "dash"',
        'GRANT SELECT ON ALL TABLES IN SCHEMA "gold" TO "dash"',
        'GRANT USAGE ON SCHEMA "medallion" TO "dash"', 'GRANT SELECT ON "medallion"."published" TO "dash"']


def test_the_repositorys_postgres_profile_makes_and_uses_the_read_only_login(pg_database, tmp_path):
    """medallion.yaml's own postgres profile: the publish creates the login named by
    MEDALLION_DASHBOARDS_USER (pg_database gives each test its own) with the password from
    MEDALLION_SECRET_DASHBOARD_PASSWORD, and the dashboards connect as it."""
    import os

    ws = Workspace.open(ROOT, "postgres", [f"lake_dir={tmp_path / 'lake'}"])
    reader = os.environ["MEDALLION_DASHBOARDS_USER"]
    assert ws.project.profile.warehouse.reader.user == reader
    lakes = Lakes("local", tmp_path, None)
    lakes.lake = ws.lake
    assert ws.warehouse.refresh([lakes.sales(), lakes.daily()]) == ["silver.sales", "gold.daily"]
    source = open_source(ws)
    assert source.warehouse.config.user == reader
    assert source.query(Sql("SELECT count(*) AS n FROM gold.daily"))["n"].tolist() == [4]
    with pytest.raises(QueryFailed, match="permission denied for schema silver"):
        source.query(Sql("SELECT name FROM silver.sales"))
    with psycopg.connect(**pg_database) as conn:  # the password is the environment's (md5/scram of it)
        (stored,) = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (reader,)).fetchone()
    assert stored and stored.startswith(("SCRAM-SHA-256$", "md5"))


def test_a_login_managed_elsewhere_is_granted_never_created_or_re_passworded(make_project, pg_database, postgres,
                                                                            monkeypatch):
    """create_login: false (the aws profile: the stack's rotation owns the user and its password)."""
    name = f"dash_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("READER", name)
    monkeypatch.delenv("MEDALLION_SECRET_DASHBOARD_PASSWORD")  # never read: the password is not the publish's
    config = CONFIG.replace('reader: {user: "${env:READER}"}', 'reader: {user: "${env:READER}", create_login: false}')
    root = make_project({}, config=config)
    ws = Workspace(load_project(root, "postgres"), [])
    lakes = Lakes("local", root, None)
    lakes.lake = ws.lake
    with pytest.raises(Exception, match=f"the dashboards' login {name} does not exist and "
                                        "warehouse.reader.create_login is false"):
        ws.warehouse.refresh([lakes.daily()])
    try:
        with psycopg.connect(**postgres, autocommit=True) as conn:  # what the rotation function does
            conn.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD 'rotated-by-the-stack'")
            (before,) = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,)).fetchone()
        assert ws.warehouse.refresh([lakes.daily()]) == ["gold.daily"]
        with psycopg.connect(**pg_database) as conn:
            (after,) = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,)).fetchone()
            granted = conn.execute("SELECT has_table_privilege(%s, 'gold.daily', 'SELECT'), "
                                   "has_table_privilege(%s, 'gold.daily', 'INSERT')", (name, name)).fetchone()
        assert after == before and granted == (True, False)
    finally:
        with psycopg.connect(**pg_database, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{name}"')
        with psycopg.connect(**postgres, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_the_aws_profiles_reader_on_the_redshift_adapter(pg_database, tmp_path):
    """The repository's aws profile (reader managed by the stack) on the real Redshift adapter over
    PostgreSQL (tests/io/redshift_emulator.py): a missing user stops the publish with the fix; once
    the stack has made it, every refresh grants it, even one that publishes nothing (which heals
    the failed one), and its password is never touched."""
    import os

    from engine.io.redshift import RedshiftWarehouse
    from engine.spec.project import RedshiftWarehouse as RedshiftConfig
    from tests.io.redshift_emulator import EmulatedRedshift
    from tests.io.test_warehouse_contract import LAKE_BUCKET, ROLE, STAGING

    reader = load_project(ROOT, "aws").profile.warehouse.reader
    assert (reader.user, reader.create_login) == (os.environ["MEDALLION_DASHBOARDS_USER"], False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (LAKE_BUCKET, STAGING):
            s3.create_bucket(Bucket=bucket)
        lakes = Lakes("s3", tmp_path, s3)
        emulator = EmulatedRedshift(pg_database, s3, ROLE)
        config = RedshiftConfig(kind="redshift", host="127.0.0.1", database=pg_database["dbname"], user="etl",
                                password="${secret:rs}", iam_role=ROLE, staging_bucket=STAGING, reader=reader)
        warehouse = RedshiftWarehouse(config, EnvSecretProvider(env={"MEDALLION_SECRET_RS": "pw"}),
                                      connect=emulator.connect, s3_client=lambda: s3)
        daily = lakes.daily()
        with pytest.raises(Exception, match=f"the dashboards' login {reader.user} does not exist"):
            warehouse.refresh([daily])
        with psycopg.connect(**pg_database, autocommit=True) as conn:  # the stack's first rotation
            conn.execute(f"CREATE USER \"{reader.user}\" PASSWORD 'rotated-by-the-stack'")
            (before,) = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (reader.user,)).fetchone()
        warehouse.refresh([daily])  # publishes gold.daily, or finds it published by the failed refresh
        assert warehouse.refresh([daily]) == []  # nothing new: the grants are applied all the same
        with psycopg.connect(**pg_database) as conn:
            (after,) = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (reader.user,)).fetchone()
            privileges = conn.execute(
                "SELECT has_table_privilege(%s, 'gold.daily', 'SELECT'), has_table_privilege(%s, 'gold.daily', "
                "'INSERT'), has_table_privilege(%s, 'medallion.published', 'SELECT')", [reader.user] * 3).fetchone()
        assert after == before and privileges == (True, False, True)
        grants = [s for s in emulator.statements if "GRANT" in s and reader.user in s]
        assert not [s for s in emulator.statements if "PASSWORD" in s and reader.user in s]
        assert grants.count(f'GRANT SELECT ON ALL TABLES IN SCHEMA "gold" TO "{reader.user}"') == 2
