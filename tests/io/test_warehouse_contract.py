"""The warehouse contract, run over every lake x warehouse pair the engine supports.

Lakes: a local folder, and S3 (moto, in-process). Warehouses: DuckDB, PostgreSQL (a throwaway
database of the test's own), and Redshift: the real adapter over PostgreSQL, its Redshift-only
statements captured and checked by tests/io/redshift_emulator.py against the S3 objects.
DuckDB over an S3 lake is the one pair that is not supported (DuckDB reads s3:// only through
its httpfs extension, which cannot be installed on this machine): the adapter refuses it with
the fix, and ``test_duckdb_refuses_an_s3_lake`` holds it to that.

Expected rows are written out by hand below (they are what the Parquet files were made from).
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from engine.errors import QueryFailed, TerminalError, UsageError
from engine.io.lake import LocalLake
from engine.io.postgres import PostgresWarehouse
from engine.io.redshift import RedshiftWarehouse
from engine.io.s3lake import S3Lake
from engine.io.warehouse import WarehouseSetup, open_warehouse
from engine.spec.project import DuckDbWarehouse as DuckDbConfig
from engine.spec.project import PostgresWarehouse as PostgresConfig
from engine.spec.project import RedshiftWarehouse as RedshiftConfig
from engine.spec.secrets import EnvSecretProvider
from tests.io.redshift_emulator import EmulatedRedshift

LAKE_BUCKET, STAGING = "contract-lake", "contract-staging"
ROLE = "arn:aws:iam::123456789012:role/redshift-copy"
SALES_COLUMNS = [{"name": "name", "type": "string"}, {"name": "qty", "type": "int"},
                 {"name": "amount", "type": "decimal(12,2)"}, {"name": "order_date", "type": "date"},
                 {"name": "ordered_at", "type": "timestamp"}, {"name": "is_paid", "type": "boolean"}]
SALES_ROWS = [("Crème brûlée", 3, Decimal("1234567890.12"), dt.date(2024, 2, 29),
               dt.datetime(2024, 2, 29, 23, 59, 59, 123456), True),
              ("it's", 1, Decimal("-0.01"), dt.date(1999, 12, 31), None, False),
              (None, 7, Decimal("5.00"), dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 0, 0), None)]
DAILY_COLUMNS = [{"name": "revenue", "type": "decimal(10,2)"}, {"name": "day", "type": "date"},
                 {"name": "region", "type": "string"}]
# partition folder -> rows of the file in it (the file lacks the partition columns)
DAILY_FILES = {"day=2024-02-29/region=north": [Decimal("10.50"), Decimal("1.25")],
               "day=2024-02-29/region=__HIVE_DEFAULT_PARTITION__": [Decimal("2.00")],
               "day=2024-03-01/region=south%2Feast": [Decimal("7.75")]}
DAILY_ROWS = [(Decimal("1.25"), dt.date(2024, 2, 29), "north"), (Decimal("2.00"), dt.date(2024, 2, 29), None),
              (Decimal("7.75"), dt.date(2024, 3, 1), "south/east"), (Decimal("10.50"), dt.date(2024, 2, 29), "north")]


def arrow(rows, columns):
    types = {"string": pa.string(), "int": pa.int32(), "decimal(12,2)": pa.decimal128(12, 2),
             "decimal(10,2)": pa.decimal128(10, 2), "date": pa.date32(), "timestamp": pa.timestamp("us"),
             "boolean": pa.bool_()}
    return pa.table({c["name"]: pa.array([r[i] for r in rows], types[c["type"]]) for i, c in enumerate(columns)})


class Lakes:
    """A lake of one kind, and how to write a version's files into it as Spark would."""

    def __init__(self, kind, tmp_path, s3):
        self.kind, self.s3 = kind, s3
        self.lake = LocalLake(tmp_path / "lake") if kind == "local" else S3Lake(LAKE_BUCKET, "lake", s3=s3)

    def put(self, location, relative, data: bytes):
        if self.kind == "local":
            target = location / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            self.s3.put_object(Bucket=LAKE_BUCKET, Key=location.removeprefix(f"s3://{LAKE_BUCKET}/") + "/" + relative,
                               Body=data)

    def commit(self, table, files: dict[str, pa.Table], columns, partition_by=(), rows=None):
        pending = self.lake.begin(table)
        for relative, data in files.items():
            sink = io.BytesIO()
            pq.write_table(data, sink)
            self.put(pending.path, relative, sink.getvalue())
        self.put(pending.path, "_SUCCESS", b"")  # Spark's marker: not data
        total = sum(t.num_rows for t in files.values()) if rows is None else rows
        return self.lake.commit(pending, rows=total, columns=columns, partition_by=list(partition_by), run_id="r")

    def sales(self, rows=SALES_ROWS, lie=None):
        return self.commit("silver.sales", {"part-00000.snappy.parquet": arrow(rows[:2], SALES_COLUMNS),
                                            "part-00001.snappy.parquet": arrow(rows[2:], SALES_COLUMNS)},
                           SALES_COLUMNS, rows=lie)

    def daily(self):
        files = {f"{folder}/part-0.parquet": pa.table({"revenue": pa.array(values, pa.decimal128(10, 2))})
                 for folder, values in DAILY_FILES.items()}
        return self.commit("gold.daily", files, DAILY_COLUMNS, partition_by=["day", "region"])


class Counting:
    """The adapter's S3 client: passes through and records what it touched."""

    def __init__(self, client):
        self.client, self.calls = client, []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.client, name)


@pytest.fixture()
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in (LAKE_BUCKET, STAGING):
            client.create_bucket(Bucket=bucket)
        yield client


@pytest.fixture(scope="module")
def contract_db(postgres):
    """One throwaway database for this module (creating one per test costs seconds each)."""
    from tests.conftest import create_database, drop_database

    conninfo = create_database(postgres, "medallion_contract")
    yield conninfo
    drop_database(postgres, conninfo["dbname"])


@pytest.fixture()
def clean_db(contract_db):
    """The module's database with no tables left by the previous test."""
    import psycopg

    with psycopg.connect(**contract_db, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS silver, gold, quarantine, medallion CASCADE")
    return contract_db


PAIRS = [(lake, wh) for lake in ("local", "s3") for wh in ("duckdb", "postgres", "redshift")
         if (lake, wh) != ("s3", "duckdb")]


@pytest.fixture(params=PAIRS, ids=[f"{lake}-{wh}" for lake, wh in PAIRS])
def pair(request, tmp_path, s3):
    lake_kind, kind = request.param
    lakes = Lakes(lake_kind, tmp_path, s3)
    counting = Counting(s3)
    emulator = None
    if kind == "duckdb":
        warehouse = open_warehouse(DuckDbConfig(kind="duckdb", path="w.duckdb"),
                                   WarehouseSetup(root=tmp_path, secrets=None))
    else:
        conninfo = request.getfixturevalue("clean_db")
        if kind == "postgres":
            warehouse = PostgresWarehouse(PostgresConfig(kind="postgres", database=conninfo["dbname"],
                                                         user="postgres"), None, s3=counting)
        else:
            emulator = EmulatedRedshift(conninfo, s3, ROLE)
            config = RedshiftConfig(kind="redshift", host="127.0.0.1", database=conninfo["dbname"], user="etl",
                                    password="${secret:rs}", iam_role=ROLE, staging_bucket=STAGING)
            warehouse = RedshiftWarehouse(config, EnvSecretProvider(env={"MEDALLION_SECRET_RS": "pw"}),
                                          connect=emulator.connect, s3_client=lambda: counting)
    return lakes, warehouse, emulator, counting


def placeholder(warehouse):
    return "?" if warehouse.dialect == "duckdb" else "%s"


def sales_rows(warehouse):
    return warehouse.query("SELECT name, qty, amount, order_date, ordered_at, is_paid FROM silver.sales "
                           "ORDER BY qty")[1]


def test_publish_shows_exactly_the_committed_rows(pair):
    lakes, warehouse, emulator, _ = pair
    sales, daily = lakes.sales(), lakes.daily()
    assert sorted(warehouse.refresh([sales, daily])) == ["gold.daily", "silver.sales"]
    assert [tuple(r) for r in sales_rows(warehouse)] == sorted(SALES_ROWS, key=lambda r: r[1])
    columns, rows = warehouse.query("SELECT revenue, day, region FROM gold.daily ORDER BY revenue")
    assert columns == ["revenue", "day", "region"] and [tuple(r) for r in rows] == DAILY_ROWS
    assert warehouse.published() == {"silver.sales": 1, "gold.daily": 1}
    assert warehouse.refresh([sales, daily]) == []  # idempotent: nothing new, nothing done


def test_a_new_version_shows_only_after_refresh(pair):
    lakes, warehouse, _, _ = pair
    warehouse.refresh([lakes.sales()])
    second = lakes.sales(rows=SALES_ROWS[:1] + SALES_ROWS[2:])
    assert len(sales_rows(warehouse)) == 3  # committed but not yet published: readers keep v1
    assert warehouse.refresh([second]) == ["silver.sales"]
    assert [r[1] for r in sales_rows(warehouse)] == [3, 7] and warehouse.published() == {"silver.sales": 2}


def test_bound_parameters_are_values_never_sql(pair):
    lakes, warehouse, _, _ = pair
    warehouse.refresh([lakes.sales()])
    mark = placeholder(warehouse)
    sql = f"SELECT qty FROM silver.sales WHERE name = {mark} OR qty > {mark} ORDER BY qty"
    assert warehouse.query(sql, ["it's", 5])[1] == [(1,), (7,)]
    assert warehouse.query(sql, ["x' OR '1'='1", 100])[1] == []
    assert warehouse.query("SELECT count(*) FROM silver.sales WHERE name LIKE '%r%'")[1] == [(1,)]


def test_a_failed_publish_keeps_the_previous_version(pair):
    lakes, warehouse, _, _ = pair
    warehouse.refresh([lakes.sales()])
    liar = lakes.sales(rows=SALES_ROWS[:1], lie=5)  # the commit claims 5 rows, the files hold 1
    with pytest.raises(TerminalError, match="previous (table|view) kept|the lake has 5"):
        warehouse.refresh([liar])
    assert len(sales_rows(warehouse)) == 3 and warehouse.published() == {"silver.sales": 1}


def test_a_committed_version_whose_files_are_gone_names_the_fix(pair, s3):
    lakes, warehouse, _, _ = pair
    warehouse.refresh([lakes.sales()])
    second = lakes.sales(rows=SALES_ROWS[:1])
    lakes.lake.store.delete_prefix(f"silver/sales/v{second.version:06d}")
    with pytest.raises(TerminalError) as err:
        warehouse.refresh([second])
    assert str(err.value) == (f"silver.sales: committed version 2 is gone from {second.path} (deleted outside "
                              "medallion); roll back to a kept version (medallion rollback silver.sales) or "
                              "rebuild it (medallion run --select silver.sales)")
    assert len(sales_rows(warehouse)) == 3


def test_a_bad_statement_is_one_line(pair):
    lakes, warehouse, _, _ = pair
    warehouse.refresh([lakes.sales()])
    with pytest.raises(QueryFailed) as err:
        warehouse.query("SELECT * FROM gold.nope")
    assert str(err.value).startswith("query failed: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("pair", [("local", "redshift"), ("s3", "redshift")], indirect=True,
                         ids=["local-redshift", "s3-redshift"])
def test_redshift_copy_reads_the_committed_objects(pair, s3):
    """The Redshift-only statements, checked against what is on S3."""
    lakes, warehouse, emulator, counting = pair
    sales, daily = lakes.sales(), lakes.daily()
    warehouse.refresh([sales, daily])
    staged = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=STAGING).get("Contents", []))
    lake_data = lambda v: sorted(f"s3://{LAKE_BUCKET}/{o['Key']}" for o in s3.list_objects_v2(
        Bucket=LAKE_BUCKET, Prefix=v.path.removeprefix(f"s3://{LAKE_BUCKET}/") + "/").get("Contents", [])
        if o["Key"].endswith(".parquet"))
    by_target = {}
    for copy in emulator.copies:
        by_target.setdefault(copy.target, []).append(copy)
    if lakes.kind == "s3":
        # COPY reads the lake's own objects through manifests: no data object is uploaded or read here
        assert staged == ["redshift-staging/gold/daily/v000001/partition-00000.manifest",
                          "redshift-staging/gold/daily/v000001/partition-00001.manifest",
                          "redshift-staging/gold/daily/v000001/partition-00002.manifest",
                          "redshift-staging/silver/sales/v000001/all.manifest"]
        assert not {"get_object", "download_file", "upload_file", "download_fileobj"} & set(counting.calls)
        (sales_copy,) = by_target['"silver"."sales__v1"']
        assert sales_copy.manifest and sales_copy.uri == f"s3://{STAGING}/{staged[-1]}"
        assert sales_copy.objects == lake_data(sales) and sales_copy.rows == 3
        daily_copies = by_target['"daily__v1__part"']
        assert all(c.manifest for c in daily_copies) and len(daily_copies) == 3
        assert sorted(o for c in daily_copies for o in c.objects) == lake_data(daily)
        inserts = [s for s in emulator.statements if s.startswith('INSERT INTO "gold"."daily__v1"')]
        assert inserts == [
            'INSERT INTO "gold"."daily__v1" ("revenue", "day", "region") SELECT "revenue", '
            f"CAST('2024-02-29' AS DATE), CAST({value} AS VARCHAR(65535)) FROM \"daily__v1__part\""
            for value in ("NULL", "'north'")] + [
            'INSERT INTO "gold"."daily__v1" ("revenue", "day", "region") SELECT "revenue", '
            "CAST('2024-03-01' AS DATE), CAST('south/east' AS VARCHAR(65535)) FROM \"daily__v1__part\""]
    else:
        # a local lake is uploaded: the staged objects are exactly the data files, COPY reads the prefix
        assert staged == ["redshift-staging/gold/daily/v000001/day=2024-02-29/region=__HIVE_DEFAULT_PARTITION__/"
                          "part-0.parquet", "redshift-staging/gold/daily/v000001/day=2024-02-29/region=north/"
                          "part-0.parquet", "redshift-staging/gold/daily/v000001/day=2024-03-01/"
                          "region=south%2Feast/part-0.parquet",
                          "redshift-staging/silver/sales/v000001/part-00000.snappy.parquet",
                          "redshift-staging/silver/sales/v000001/part-00001.snappy.parquet"]
        (sales_copy,) = by_target['"silver"."sales__v1"']
        assert not sales_copy.manifest and sales_copy.uri == f"s3://{STAGING}/redshift-staging/silver/sales/v000001/"
        assert sales_copy.objects == [f"s3://{STAGING}/{k}" for k in staged[-2:]]
    assert all(s.endswith("FORMAT AS PARQUET" + (" MANIFEST" if lakes.kind == "s3" else ""))
               for s in emulator.statements if s.startswith("COPY"))
    assert all(kw["password"] == "pw" and kw["ssl"] is True for kw in emulator.connect_kwargs)


def test_duckdb_refuses_an_s3_lake(tmp_path):
    with pytest.raises(UsageError, match=r"reads a local lake only .*use warehouse kind redshift or postgres"):
        open_warehouse(DuckDbConfig(kind="duckdb", path="w.duckdb"),
                       WarehouseSetup(root=tmp_path, secrets=None, lake_is_s3=True))
