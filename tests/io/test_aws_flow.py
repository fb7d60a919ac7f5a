"""The aws profile's whole pipeline, rehearsed here: raw S3 -> RDS -> lake on S3 -> Redshift.

What is real: the repository's specs and medallion.yaml's ``aws`` profile, the engine (Spark,
runner, S3 lake with its lock and run records, Secrets Manager, the Glue catalog, the Redshift
adapter), S3/KMS/Secrets Manager/Glue on moto, the RDS role played by the local PostgreSQL, and
Redshift by the adapter over PostgreSQL (tests/io/redshift_emulator.py checks its COPYs).

The job runs are the ones the deployed state machine starts, in its order: ``--task
source-load``, then ``--spec <name>`` for every spec, through Glue's entry point
(engine/run/glue_entry.py) in one pipeline run id.

What stands in for Glue: local Spark has no S3 connector (no hadoop-aws on this machine), so
Hadoop's ViewFileSystemOverloadScheme serves ``s3://`` from a local mirror folder, and the lake's
commit first uploads the version's files to moto with boto3, which is what Glue's S3 committer
leaves there. Everything downstream (the commit's checks, Redshift's COPY, the catalog) sees
only what is on (moto's) S3.

Done when: the whole pipeline (every spec of the aws profile: bronze over JDBC, silver, every
mart) runs, and every gold table equals the local profile's run on the same CSVs in row count
and in the sum of each numeric column; the revenue total also equals the one worked out from the
raw CSVs here with Python's decimal arithmetic (an independent implementation of the revenue
rule: item price plus option price × option quantity, per line).
"""

from __future__ import annotations

import csv
import json
import os
from decimal import Decimal
from pathlib import Path

import boto3
import duckdb
import psycopg
import pytest
from moto import mock_aws

from engine.cli import main
from engine.io.s3lake import S3Lake
from engine.run.glue_entry import main as glue_main
from engine.run.workspace import Workspace
from tests.io.redshift_emulator import EmulatedRedshift

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "tests" / "cases" / "gold" / "raw"
LAKE, RAW_BUCKET = "medallion-lake", "medallion-lake-raw"
ROLE = "arn:aws:iam::000000000000:role/medallion-redshift-copy"


class GlueS3Lake(S3Lake):
    """The S3 lake, with the upload Glue's S3 committer does before the engine's commit."""

    def __init__(self, mirror: Path, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mirror = mirror

    def _upload(self, pending) -> None:
        key = pending.path.removeprefix(f"s3://{LAKE}/")
        folder = self.mirror / LAKE / key
        rel_root = key.removeprefix(self.store.prefix + "/")
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):  # Hadoop's local .crc files stay behind
                self.store.put(f"{rel_root}/{path.relative_to(folder).as_posix()}", path.read_bytes())

    def commit_all(self, main, sides, **kwargs):
        for publish in (main, *sides):  # a table and its side tables (quarantine, rejected)
            self._upload(publish.pending)
        return super().commit_all(main, sides, **kwargs)


@pytest.fixture()
def s3_through_mirror(spark, tmp_path):
    """Spark reads and writes s3://medallion-lake/lake and s3://medallion-lake-raw/raw in a mirror."""
    mirror = tmp_path / "mirror"
    links = {f"fs.viewfs.mounttable.{LAKE}.link./lake": mirror / LAKE / "lake",
             f"fs.viewfs.mounttable.{RAW_BUCKET}.link./raw": mirror / RAW_BUCKET / "raw"}
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    settings = {"fs.s3.impl": "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme",
                "fs.s3.impl.disable.cache": "true", **{k: f"file://{v}" for k, v in links.items()}}
    for folder in links.values():
        folder.mkdir(parents=True)
    for key, value in settings.items():
        conf.set(key, value)
    yield mirror
    for key in settings:
        conf.unset(key)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_the_aws_flow_matches_the_local_run(spark, s3_through_mirror, pg_database, tmp_path, monkeypatch, capsys):
    local_lake = tmp_path / "local"
    assert main(["run", "--project-dir", str(ROOT), "--var", f"raw_dir={RAW}", "--var", f"lake_dir={local_lake}",
]) == 0

    mirror = s3_through_mirror
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (LAKE, RAW_BUCKET):
            s3.create_bucket(Bucket=bucket)
        for csv in sorted(RAW.glob("*.csv")):  # the raw files, in the raw bucket (and where Spark reads them)
            s3.put_object(Bucket=RAW_BUCKET, Key=f"raw/{csv.name}", Body=csv.read_bytes())
            (mirror / RAW_BUCKET / "raw" / csv.name).write_bytes(csv.read_bytes())
        key = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        sm = boto3.client("secretsmanager")
        sm.create_secret(Name="medallion/card_hmac_key", SecretString="medallion-local-development-key")
        sm.create_secret(Name="medallion/redshift_password", SecretString="rs-pass")
        sm.create_secret(Name="medallion/rds_source", SecretString=json.dumps({"username": "postgres",
                                                                               "password": "rds-pass"}))
        for name, value in {"MEDALLION_BUCKET": LAKE, "MEDALLION_KMS_KEY": key, "MEDALLION_RDS_HOST": "127.0.0.1",
                            "MEDALLION_RDS_DATABASE": pg_database["dbname"], "MEDALLION_RDS_USER": "postgres",
                            "MEDALLION_RDS_SSLMODE": "disable"}.items():
            monkeypatch.setenv(name, value)
        ws = Workspace.open(ROOT, "aws", [f"raw_dir=s3://{RAW_BUCKET}/raw"])
        cfg = ws.project.profile.lake
        ws.__dict__["lake"] = GlueS3Lake(mirror, cfg.bucket, cfg.prefix, cfg.kms_key, ws.project.profile.keep_versions)
        emulator = EmulatedRedshift(pg_database, s3, ROLE)
        reader = os.environ["MEDALLION_DASHBOARDS_USER"]  # pg_database's own name; dropped with it
        with psycopg.connect(**pg_database, autocommit=True) as conn:  # what the stack's rotation does first
            conn.execute(f"CREATE USER \"{reader}\" PASSWORD 'rotated-by-the-stack'")
        ws.warehouse.warehouse._connect_factory = emulator.connect  # Redshift's wire -> PostgreSQL
        # every job run the state machine starts, in its order, through Glue's entry point
        monkeypatch.setattr("engine.run.glue_entry._open_workspace", lambda args: ws)
        run = ["--run-id", "aws-run-1", "--profile", "aws"]
        assert glue_main(["--task", "source-load", *run]) == 0  # raw S3 -> RDS (PySpark over JDBC)
        for spec in ws.graph.order:                            # RDS -> bronze -> silver -> gold -> Redshift
            assert glue_main(["--spec", spec, *run]) == 0, spec
        capsys.readouterr()
        assert len(ws.graph.order) == 22
        assert all(ws.store.load(f"aws-run-1.{spec}").status == "ok" for spec in ws.graph.order)

        # the source database holds the raw rows; bronze came from it over JDBC, not from the files
        with psycopg.connect(**pg_database) as conn:
            (rds_rows,) = conn.execute("select count(*) from source.order_items").fetchone()
            gold = [t for (t,) in conn.execute("select table_name from medallion.published "
                                               "where table_name like 'gold.%' order by 1").fetchall()]
        assert rds_rows == sum(1 for _ in RAW.joinpath("order_items.csv").open()) - 1
        assert ws.lake.current("bronze.order_items").rows == rds_rows
        pointer = json.loads(s3.get_object(Bucket=LAKE, Key="lake/bronze/order_items/_current.json")["Body"].read())
        assert pointer["path"].startswith("bronze/order_items/v")  # relative to the lake root, on moto's S3
        assert ws.lake.current("bronze.order_items").path == f"s3://{LAKE}/lake/{pointer['path']}"
        # every COPY read committed lake objects through a manifest, with the configured role
        assert emulator.copies and all(c.manifest and all(o.startswith(f"s3://{LAKE}/lake/") for o in c.objects)
                                       for c in emulator.copies)
        # the catalog names each committed version
        glue = boto3.client("glue")
        entry = glue.get_table(DatabaseName="medallion_gold", Name="sales_trends")["Table"]
        assert entry["StorageDescriptor"]["Location"] == ws.lake.current("gold.sales_trends").path + "/"

    specs = Workspace.open(ROOT, "aws", []).graph.specs
    assert len(specs) == 22 and {n.split(".")[0] for n in specs} == {"bronze", "silver", "gold"}
    local = duckdb.connect(str(local_lake / "warehouse.duckdb"), read_only=True)
    local_gold = [f"{s}.{t}" for s, t in local.execute(
        "select table_schema, table_name from information_schema.tables where table_schema = 'gold' "
        "order by 1, 2").fetchall()]
    assert gold == local_gold == sorted(n for n in specs if n.startswith("gold."))
    numeric = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
    with psycopg.connect(**pg_database) as conn:
        for table in gold + ["silver.orders", "silver.order_lines"]:
            (n,) = local.execute(f"select count(*) from {table}").fetchone()
            assert conn.execute(f"select count(*) from {table}").fetchone() == (n,), table
            schema, name = table.split(".")
            columns = [c for c, t in local.execute(
                "select column_name, data_type from information_schema.columns where table_schema = ? "
                "and table_name = ?", [schema, name]).fetchall() if t.upper().startswith(numeric)]
            for column in columns:
                (want,) = local.execute(f'select sum("{column}") from {table}').fetchone()
                (got,) = conn.execute(f'select sum("{column}") from {table}').fetchone()
                if want is None or got is None:
                    assert want is got is None, (table, column)
                else:  # the same values summed in another order: equal to the last few bits
                    assert float(got) == pytest.approx(float(want), rel=1e-9, abs=1e-9), (table, column)
        (revenue,) = conn.execute("select sum(revenue) from silver.orders").fetchone()
        # the publish granted the dashboards' user (created by the stack, not by the publish) gold only
        privileges = conn.execute("select has_table_privilege(%s, 'gold.sales_trends', 'SELECT'), "
                                  "has_table_privilege(%s, 'gold.sales_trends', 'INSERT'), "
                                  "has_schema_privilege(%s, 'silver', 'USAGE')", [reader] * 3).fetchone()
    local.close()
    assert revenue == raw_revenue(RAW)
    assert privileges == (True, False, False)


def raw_revenue(raw: Path) -> Decimal:
    """Σ line revenue from the raw CSVs, independently of the engine: item price + Σ option price ×
    option quantity of the line (option_charge per_line, the project default), lines of the test
    app ('Alltown Fresh - DEVELOPMENT', filtered by silver) and their options left out."""
    with (raw / "order_items.csv").open(newline="", encoding="utf-8") as f:
        lines = {(r["ORDER_ID"], r["LINEITEM_ID"]): Decimal(r["ITEM_PRICE"]) for r in csv.DictReader(f)
                 if r["APP_NAME"] != "Alltown Fresh - DEVELOPMENT"}
    with (raw / "order_item_options.csv").open(newline="", encoding="utf-8") as f:
        options = sum(Decimal(r["OPTION_PRICE"]) * Decimal(r["OPTION_QUANTITY"]) for r in csv.DictReader(f)
                      if (r["ORDER_ID"], r["LINEITEM_ID"]) in lines)
    return sum(lines.values()) + options
