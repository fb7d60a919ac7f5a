"""Committed lake versions in the Glue Data Catalog (moto's Glue), re-pointed by a rollback."""

from __future__ import annotations

import boto3
import psycopg
import pytest

from engine.cli import main
from engine.errors import UsageError
from engine.io.catalog import CatalogedWarehouse, GlueCatalog
from engine.run.workspace import Workspace
from engine.spec.project import load_project
from tests.io.test_warehouse_contract import LAKE_BUCKET, Lakes, s3  # noqa: F401 - s3 is a fixture


def table(glue, database, name):
    return glue.get_table(DatabaseName=database, Name=name)["Table"]


def partitions(glue, database, name):
    found = glue.get_partitions(DatabaseName=database, TableName=name)["Partitions"]
    return sorted((p["Values"], p["StorageDescriptor"]["Location"]) for p in found)


def test_each_committed_version_is_a_glue_table_at_its_location(tmp_path, s3):
    lakes, glue = Lakes("s3", tmp_path, s3), boto3.client("glue", region_name="us-east-1")
    catalog = GlueCatalog("medallion_", glue=glue, s3=s3)
    sales, daily = lakes.sales(), lakes.daily()
    assert sorted(catalog.register([sales, daily])) == ["gold.daily", "silver.sales"]
    assert sorted(d["Name"] for d in glue.get_databases()["DatabaseList"]) == ["medallion_gold", "medallion_silver"]
    entry = table(glue, "medallion_silver", "sales")
    assert entry["StorageDescriptor"]["Location"] == f"s3://{LAKE_BUCKET}/lake/silver/sales/v000001/"
    assert [(c["Name"], c["Type"]) for c in entry["StorageDescriptor"]["Columns"]] == [
        ("name", "string"), ("qty", "int"), ("amount", "decimal(12,2)"), ("order_date", "date"),
        ("ordered_at", "timestamp"), ("is_paid", "boolean")]
    assert entry["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert entry["Parameters"]["medallion_version"] == "1" and entry["TableType"] == "EXTERNAL_TABLE"
    daily_entry = table(glue, "medallion_gold", "daily")
    assert [c["Name"] for c in daily_entry["StorageDescriptor"]["Columns"]] == ["revenue"]
    assert [(k["Name"], k["Type"]) for k in daily_entry["PartitionKeys"]] == [("day", "date"), ("region", "string")]
    base = f"s3://{LAKE_BUCKET}/lake/gold/daily/v000001"
    assert partitions(glue, "medallion_gold", "daily") == [
        (["2024-02-29", "__HIVE_DEFAULT_PARTITION__"], f"{base}/day=2024-02-29/region=__HIVE_DEFAULT_PARTITION__/"),
        (["2024-02-29", "north"], f"{base}/day=2024-02-29/region=north/"),
        (["2024-03-01", "south/east"], f"{base}/day=2024-03-01/region=south%2Feast/")]
    assert catalog.register([sales, daily]) == []  # already there: one GetTable each

    second = lakes.daily()
    assert catalog.register([sales, second]) == ["gold.daily"]
    assert table(glue, "medallion_gold", "daily")["StorageDescriptor"]["Location"].endswith("/daily/v000002/")
    assert all("/v000002/" in loc for _, loc in partitions(glue, "medallion_gold", "daily"))
    assert len(partitions(glue, "medallion_gold", "daily")) == 3

    restored = lakes.lake.rollback("gold.daily")
    assert catalog.register([restored]) == ["gold.daily"]
    assert all("/v000001/" in loc for _, loc in partitions(glue, "medallion_gold", "daily"))


def test_bad_prefix_and_local_paths_are_refused(tmp_path):
    with pytest.raises(UsageError, match="lower-case letters, digits and underscores"):
        GlueCatalog("Medallion-")
    local = Lakes("local", tmp_path, None).sales()
    with pytest.raises(UsageError, match="registers S3 locations only"):
        GlueCatalog("m_", glue=object()).register([local])


CONFIG = """\
name: p
profiles:
  aws:
    lake: {kind: s3, bucket: contract-lake, prefix: lake}
    warehouse: {kind: postgres, database: "${env:MEDALLION_PG_DATABASE}", user: postgres}
    catalog: {kind: glue, database_prefix: analytics_}
    secrets: {kind: aws_secrets_manager, prefix: medallion/}
  local_catalog:
    lake: {kind: local, root: lake}
    warehouse: {kind: duckdb, path: w.duckdb}
    catalog: {kind: glue}
"""


def test_rollback_re_points_the_catalog_and_the_warehouse(make_project, s3, pg_database, capsys):
    root = make_project({}, config=CONFIG)
    ws = Workspace(load_project(root, "aws"), [])
    assert isinstance(ws.warehouse, CatalogedWarehouse) and ws.warehouse.dialect == "postgres"
    lakes = Lakes("s3", root, s3)
    lakes.lake = ws.lake
    first, second = lakes.sales(), lakes.sales(rows=[])
    ws.warehouse.refresh(ws.lake.tables())
    glue = boto3.client("glue", region_name="us-east-1")
    assert table(glue, "analytics_silver", "sales")["Parameters"]["medallion_version"] == str(second.version)

    assert main(["rollback", "silver.sales", "--profile", "aws", "--project-dir", str(root)]) == 0
    assert "silver.sales: version 2 -> 1" in capsys.readouterr().out
    entry = table(glue, "analytics_silver", "sales")
    assert entry["StorageDescriptor"]["Location"] == first.path + "/"
    with psycopg.connect(**pg_database) as conn:
        assert conn.execute("select count(*) from silver.sales").fetchone() == (3,)
    with pytest.raises(UsageError, match="a Glue catalog registers S3 locations; its lake must be kind: s3"):
        Workspace(load_project(root, "local_catalog"), []).warehouse
