"""The source database config is refused with the fix before anything connects; each profile's
warehouse adapter is built from its own config (no network needed to build them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import UsageError
from engine.io.catalog import CatalogedWarehouse
from engine.io.postgres import PostgresWarehouse
from engine.io.redshift import RedshiftWarehouse
from engine.io.warehouse import DuckDbWarehouse
from engine.run.workspace import Workspace
from engine.spec.project import load_project

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
name: p
profiles:
  deployed:
    lake: {kind: s3, bucket: b, prefix: lake}
    warehouse: {kind: postgres, database: d, user: u}
    secrets: {kind: aws_secrets_manager, prefix: medallion/}
    source: {kind: postgres, host: rds.internal, database: restaurant, user: etl, tables: {t: raw/t.csv}}
  literal:
    lake: {kind: local, root: lake}
    warehouse: {kind: duckdb, path: w.duckdb}
    source: {kind: postgres, host: h, database: d, user: u, password: hunter2}
"""


def test_an_rds_host_without_a_secret_is_refused_with_the_fix(make_project, capsys):
    root = make_project({}, config=CONFIG)
    with pytest.raises(UsageError) as err:
        Workspace(load_project(root, "deployed"), []).source
    assert str(err.value) == (
        "profile 'deployed': the source database rds.internal:5432/restaurant has no secret: set source.password: "
        "${secret:<name>} (a Secrets Manager secret under the profile's prefix; for an RDS managed master "
        "secret, ${secret:<name>.password})")
    assert main(["source", "load", "--profile", "deployed", "--project-dir", str(root)]) == 2
    assert "has no secret: set source.password" in capsys.readouterr().err
    with pytest.raises(UsageError, match="must be a \\$\\{secret:name\\} reference, never a literal"):
        Workspace(load_project(root, "literal"), []).source


def test_each_profile_builds_its_own_adapter():
    env = {"MEDALLION_KMS_KEY": "arn:aws:kms:us-east-1:000000000000:key/k"}
    local = Workspace(load_project(ROOT, "local", env=env), []).warehouse
    postgres = Workspace(load_project(ROOT, "postgres", env=env), []).warehouse
    aws = Workspace(load_project(ROOT, "aws", env=env), [])
    assert isinstance(local, DuckDbWarehouse) and local.path == ROOT / ".lake" / "warehouse.duckdb"
    assert isinstance(postgres, PostgresWarehouse) and postgres.dialect == "postgres"
    assert isinstance(aws.warehouse, CatalogedWarehouse) and isinstance(aws.warehouse.warehouse, RedshiftWarehouse)
    assert aws.warehouse.dialect == "redshift" and aws.warehouse.warehouse.kms_key == env["MEDALLION_KMS_KEY"]
    assert aws.warehouse.catalog.prefix == "medallion_"
    assert aws.source.password == "${secret:rds_source.password}" and aws.source.sslmode == "require"
    assert aws.project.spec_dirs[0] == "pipelines/bronze_jdbc"


def test_a_failed_jdbc_write_names_its_root_cause_not_py4j(spark):
    """A real Spark JDBC write with a driver class that is not on the classpath."""
    from engine.io.source import jdbc_failure

    frame = spark.createDataFrame([(1,)], "id int")
    with pytest.raises(Exception) as err:
        frame.write.jdbc("jdbc:postgresql://127.0.0.1:5432/none", "t", mode="overwrite",
                         properties={"driver": "org.example.MissingDriver", "user": "u", "password": "s3cret-pw"})
    text = jdbc_failure(err.value, "s3cret-pw")
    assert "An error occurred while calling" not in text
    assert "org.example.MissingDriver" in text and "ClassNotFoundException" in text
    assert "apt-get install libpostgresql-jdbc-java" in text
    assert "s3cret-pw" not in text
