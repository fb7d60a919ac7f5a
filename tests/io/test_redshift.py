"""Redshift publishing: every generated statement, the one-transaction swap, S3 staging on moto.

redshift-connector cannot talk to PostgreSQL, so the SQL is checked statement by statement
against a recording fake connection, and the S3 side runs against moto in-process.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redshift_connector
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError
from moto import mock_aws

from engine.errors import QueryFailed, TerminalError, TransientError
from engine.io.lake import TableVersion
from engine.io.redshift import CopySource, RedshiftWarehouse, classify, copy_sql, create_table_sql
from engine.spec.models import WarehouseHints
from engine.spec.project import RedshiftWarehouse as RedshiftConfig
from engine.spec.secrets import EnvSecretProvider

PASSWORD = "hunter2-s3cr3t"
BUCKET = "medallion-staging"
ROLE = "arn:aws:iam::123456789012:role/medallion-redshift"
COLUMNS = [{"name": "name", "type": "string"}, {"name": "qty", "type": "int"},
           {"name": "order_id", "type": "bigint"}, {"name": "ratio", "type": "double"},
           {"name": "amount", "type": "decimal(12,2)"}, {"name": "order_date", "type": "date"},
           {"name": "ordered_at", "type": "timestamp"}, {"name": "is_paid", "type": "boolean"}]
COLS_SQL = ('"name" VARCHAR(65535), "qty" INTEGER, "order_id" BIGINT, "ratio" DOUBLE PRECISION, '
            '"amount" DECIMAL(12,2), "order_date" DATE, "ordered_at" TIMESTAMP, "is_paid" BOOLEAN')
HINTS = WarehouseHints(diststyle="key", distkey="order_id", sortkey=["order_date", "ordered_at"],
                       encode={"name": "zstd", "order_id": "az64"})
META_SETUP = [
    'CREATE SCHEMA IF NOT EXISTS "medallion"',
    'CREATE TABLE IF NOT EXISTS "medallion"."published" (table_name VARCHAR(256) NOT NULL, version BIGINT NOT NULL, '
    'rows BIGINT NOT NULL, published_at TIMESTAMP NOT NULL, PRIMARY KEY (table_name))',
    "COMMIT",
    'SELECT table_name, version FROM "medallion"."published"',
    "COMMIT",
]


def config(**overrides) -> RedshiftConfig:
    values = dict(kind="redshift", host="cluster.example.internal", database="analytics", user="medallion",
                  password="${secret:redshift_password}", iam_role=ROLE, staging_bucket=BUCKET)
    return RedshiftConfig(**{**values, **overrides})


SECRETS = EnvSecretProvider(env={"MEDALLION_SECRET_REDSHIFT_PASSWORD": PASSWORD})


class FakeCursor:
    def __init__(self, conn: FakeConnection):
        self.conn, self.rows, self.description = conn, [], None

    def execute(self, sql, args=None):
        assert args is None, "statements carry no bind parameters"
        self.conn.log.append(sql)
        if self.conn.fail_on and sql.startswith(self.conn.fail_on):
            raise self.conn.error
        self.rows, self.description = [], None
        if sql.startswith("SELECT table_name, version FROM"):
            self.rows = [list(r) for r in self.conn.published]
            self.description = [("table_name", 1043, None, None, None, None, None), ("version", 20, None, None, None, None, None)]
        elif sql.startswith("SELECT COUNT(*)"):
            self.rows = [[self.conn.count]]
            self.description = [("count", 20, None, None, None, None, None)]
        elif sql.startswith("SELECT"):
            self.rows = self.conn.result_rows
            self.description = [(c, 1043, None, None, None, None, None) for c in self.conn.result_columns]
        return self

    def fetchall(self):
        return tuple(self.rows)

    def fetchone(self):
        return self.rows[0] if self.rows else None


class FakeConnection:
    """The DB-API subset the adapter uses; commit/rollback/close are logged as statements."""

    def __init__(self, published=(), count=0, fail_on=None, error=None, result_columns=(), result_rows=()):
        self.log: list[str] = []
        self.published, self.count, self.fail_on, self.error = list(published), count, fail_on, error
        self.result_columns, self.result_rows = list(result_columns), [list(r) for r in result_rows]
        self.connect_kwargs: dict = {}

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        self.log.append("COMMIT")

    def rollback(self):
        self.log.append("ROLLBACK")

    def close(self):
        self.log.append("CLOSE")

    def connect(self, **kwargs):
        self.connect_kwargs = kwargs
        return self


def write_version(root, rows=2, nested=True):
    """A version folder as Spark leaves it: part files (one nested), plus files COPY must not see."""
    root.mkdir(parents=True)
    data = pa.table({
        "name": pa.array(["Crème brûlée", None][:rows], pa.string()),
        "qty": pa.array([3, 1][:rows], pa.int32()),
        "order_id": pa.array([9_000_000_001, 9_000_000_002][:rows], pa.int64()),
        "ratio": pa.array([0.1, 2.5][:rows], pa.float64()),
        "amount": pa.array([Decimal("1234567890.12"), Decimal("-0.01")][:rows], pa.decimal128(12, 2)),
        "order_date": pa.array([dt.date(2024, 2, 29), dt.date(1999, 12, 31)][:rows], pa.date32()),
        "ordered_at": pa.array([dt.datetime(2024, 2, 29, 23, 59, 59, 123456), None][:rows], pa.timestamp("us")),
        "is_paid": pa.array([True, False][:rows], pa.bool_()),
    })
    pq.write_table(data.slice(0, 1), root / "part-00000-abc.snappy.parquet")
    if nested:
        (root / "sub").mkdir()
        pq.write_table(data.slice(1), root / "sub" / "part-00001-abc.snappy.parquet")
    (root / "_temporary" / "0").mkdir(parents=True)  # a failed attempt's leftovers: not data
    pq.write_table(data, root / "_temporary" / "0" / "part-00009.parquet")
    (root / "_SUCCESS").write_text("")
    (root / ".part-00000-abc.snappy.parquet.crc").write_text("crc")
    (root / "_manifest.json").write_text("{}")
    return data


def version(tmp_path, table="silver.sales", v=3, rows=2, **kw) -> TableVersion:
    path = tmp_path / "lake" / table.replace(".", "/") / f"v{v:06d}"
    write_version(path, rows=rows, **kw)
    return TableVersion(table=table, version=v, path=str(path), rows=rows, columns=COLUMNS)


@pytest.fixture()
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def staged(s3, prefix=""):
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["Size"] for o in listing}


# --- statements ---------------------------------------------------------------------------

def test_create_table_without_hints():
    assert create_table_sql("gold", "sales", COLUMNS, None) == f'CREATE TABLE "gold"."sales" ({COLS_SQL})'
    assert create_table_sql("gold", "sales", COLUMNS, WarehouseHints()) == f'CREATE TABLE "gold"."sales" ({COLS_SQL})'


def test_create_table_with_distkey_sortkey_and_encodings():
    assert create_table_sql("gold", "sales", COLUMNS, HINTS) == (
        'CREATE TABLE "gold"."sales" ("name" VARCHAR(65535) ENCODE ZSTD, "qty" INTEGER, '
        '"order_id" BIGINT ENCODE AZ64, "ratio" DOUBLE PRECISION, "amount" DECIMAL(12,2), "order_date" DATE, '
        '"ordered_at" TIMESTAMP, "is_paid" BOOLEAN) DISTSTYLE KEY DISTKEY ("order_id") '
        'SORTKEY ("order_date", "ordered_at")')
    assert create_table_sql("gold", "d", COLUMNS[:1], WarehouseHints(diststyle="all")) == \
        'CREATE TABLE "gold"."d" ("name" VARCHAR(65535)) DISTSTYLE ALL'
    assert create_table_sql("gold", "d", COLUMNS[:1], WarehouseHints(diststyle="even")) == \
        'CREATE TABLE "gold"."d" ("name" VARCHAR(65535)) DISTSTYLE EVEN'
    # diststyle auto with a distkey (allowed by the spec model) means KEY distribution
    assert create_table_sql("gold", "d", COLUMNS[:1], WarehouseHints(distkey="name")).endswith(
        'DISTSTYLE KEY DISTKEY ("name")')


def test_hints_naming_unknown_columns_or_encodings_are_refused():
    with pytest.raises(TerminalError, match="warehouse.sortkey 'day' is not a column"):
        create_table_sql("gold", "sales", COLUMNS, WarehouseHints(sortkey=["day"]))
    with pytest.raises(TerminalError, match="unknown encoding 'zstd; DROP TABLE x'"):
        create_table_sql("gold", "sales", COLUMNS, WarehouseHints(encode={"name": "zstd; DROP TABLE x"}))


def test_copy_statement():
    assert copy_sql('"silver"."sales__v3"', "s3://b/p/silver/sales/v000003/", "arn:aws:iam::1:role/it's") == (
        "COPY \"silver\".\"sales__v3\" FROM 's3://b/p/silver/sales/v000003/' "
        "IAM_ROLE 'arn:aws:iam::1:role/it''s' FORMAT AS PARQUET")


def test_publish_runs_the_whole_swap_in_one_transaction(tmp_path, s3):
    conn = FakeConnection(published=[("gold.kept", 7)], count=2)
    wh = RedshiftWarehouse(config(), SECRETS, connect=conn.connect, s3_client=lambda: s3)
    kept = TableVersion(table="gold.kept", version=7, path=str(tmp_path / "none"), rows=5, columns=COLUMNS)
    bronze = TableVersion(table="bronze.raw", version=1, path=str(tmp_path / "none"), rows=5, columns=COLUMNS)
    done = wh.refresh([bronze, version(tmp_path), kept], hints={"silver.sales": HINTS})
    assert done == ["silver.sales"]
    assert conn.log == [*META_SETUP,
        'CREATE SCHEMA IF NOT EXISTS "silver"',
        'DROP TABLE IF EXISTS "silver"."sales__v3"',
        'CREATE TABLE "silver"."sales__v3" ("name" VARCHAR(65535) ENCODE ZSTD, "qty" INTEGER, '
        '"order_id" BIGINT ENCODE AZ64, "ratio" DOUBLE PRECISION, "amount" DECIMAL(12,2), "order_date" DATE, '
        '"ordered_at" TIMESTAMP, "is_paid" BOOLEAN) DISTSTYLE KEY DISTKEY ("order_id") '
        'SORTKEY ("order_date", "ordered_at")',
        "COPY \"silver\".\"sales__v3\" FROM 's3://medallion-staging/redshift-staging/silver/sales/v000003/' "
        "IAM_ROLE 'arn:aws:iam::123456789012:role/medallion-redshift' FORMAT AS PARQUET",
        'SELECT COUNT(*) FROM "silver"."sales__v3"',
        'DROP TABLE IF EXISTS "silver"."sales"',
        'ALTER TABLE "silver"."sales__v3" RENAME TO "sales"',
        "DELETE FROM \"medallion\".\"published\" WHERE table_name = 'silver.sales'",
        "INSERT INTO \"medallion\".\"published\" (table_name, version, rows, published_at) "
        "VALUES ('silver.sales', 3, 2, GETDATE())",
        "COMMIT",
        "CLOSE"]
    assert conn.connect_kwargs == {
        "host": "cluster.example.internal", "port": 5439, "database": "analytics", "user": "medallion",
        "password": PASSWORD, "ssl": True, "sslmode": "verify-full", "application_name": "medallion"}
    assert sorted(staged(s3)) == ["redshift-staging/silver/sales/v000003/part-00000-abc.snappy.parquet",
                                  "redshift-staging/silver/sales/v000003/sub/part-00001-abc.snappy.parquet"]

    again = FakeConnection(published=[("silver.sales", 3), ("gold.kept", 7)])
    wh = RedshiftWarehouse(config(), SECRETS, connect=again.connect, s3_client=lambda: s3)
    assert wh.refresh([version(tmp_path / "again"), kept]) == []
    assert again.log == [*META_SETUP, "CLOSE"]  # nothing new: one metadata read, no publish


def test_empty_version_has_no_copy_and_nothing_staged(tmp_path, s3):
    conn = FakeConnection(count=0)
    wh = RedshiftWarehouse(config(), SECRETS, connect=conn.connect, s3_client=lambda: s3)
    empty = TableVersion(table="quarantine.sales", version=1, path=str(tmp_path / "nothing"), rows=0, columns=COLUMNS[:1])
    assert wh.refresh([empty]) == ["quarantine.sales"]
    assert conn.log[len(META_SETUP):len(META_SETUP) + 4] == [
        'CREATE SCHEMA IF NOT EXISTS "quarantine"', 'DROP TABLE IF EXISTS "quarantine"."sales__v1"',
        'CREATE TABLE "quarantine"."sales__v1" ("name" VARCHAR(65535))',
        'SELECT COUNT(*) FROM "quarantine"."sales__v1"']
    assert not any(s.startswith("COPY") for s in conn.log) and staged(s3) == {}


def test_nothing_to_publish_never_connects(tmp_path):
    wh = RedshiftWarehouse(config(), SECRETS, connect=lambda **kw: pytest.fail("connected"),
                           s3_client=lambda: pytest.fail("s3 used"))
    bronze = TableVersion(table="bronze.raw", version=1, path=str(tmp_path), rows=5, columns=COLUMNS)
    assert wh.refresh([bronze]) == [] and wh.refresh([]) == []


def test_failed_copy_rolls_back_and_keeps_the_previous_table(tmp_path, s3):
    error = redshift_connector.ProgrammingError({
        "S": "ERROR", "C": "XX000", "M": "Load into table 'sales__v3' failed. Check 'sys_load_error_detail' "
        "system table for details.\nDETAIL: more"})
    conn = FakeConnection(fail_on="COPY", error=error)
    wh = RedshiftWarehouse(config(), SECRETS, connect=conn.connect, s3_client=lambda: s3)
    with pytest.raises(TerminalError) as err:
        wh.refresh([version(tmp_path)])
    after = conn.log[conn.log.index(next(s for s in conn.log if s.startswith("COPY"))) + 1:]
    assert after == ["ROLLBACK", "CLOSE"]
    assert 'DROP TABLE IF EXISTS "silver"."sales"' not in conn.log
    assert not any("RENAME" in s or s.startswith(("INSERT", "DELETE")) for s in conn.log)
    assert str(err.value) == ("Redshift: publishing silver.sales v3 failed: Load into table 'sales__v3' failed. "
                              "Check 'sys_load_error_detail' system table for details. (SQLSTATE XX000)")
    assert PASSWORD not in str(err.value) and PASSWORD not in repr(err.value.args)
    assert not any(PASSWORD in s for s in conn.log)


def test_row_count_mismatch_rolls_back(tmp_path, s3):
    conn = FakeConnection(count=1)
    wh = RedshiftWarehouse(config(), SECRETS, connect=conn.connect, s3_client=lambda: s3)
    with pytest.raises(TerminalError, match="staging table has 1 rows, the lake version has 2; previous table kept"):
        wh.refresh([version(tmp_path)])
    assert conn.log[-3:] == ['SELECT COUNT(*) FROM "silver"."sales__v3"', "ROLLBACK", "CLOSE"]
    assert 'DROP TABLE IF EXISTS "silver"."sales"' not in conn.log


def test_connect_failures_are_transient_and_never_show_the_password():
    def refuse(**kwargs):
        raise redshift_connector.InterfaceError(f"communication error password={kwargs['password']}",
                                                ConnectionRefusedError(111, "refused"))

    wh = RedshiftWarehouse(config(), SECRETS, connect=refuse)
    with pytest.raises(TransientError) as err:
        wh.query("select 1")
    assert str(err.value) == ("Redshift: connecting to cluster.example.internal:5439/analytics failed: "
                              "communication error password=****")
    assert err.value.__cause__ is None

    def reject(**kwargs):
        raise redshift_connector.InterfaceError({"S": "FATAL", "C": "28000", "M": "password authentication failed"})

    with pytest.raises(TerminalError, match="password authentication failed .SQLSTATE 28000.$"):
        RedshiftWarehouse(config(), SECRETS, connect=reject).query("select 1")


def test_tls_is_always_on():
    conn = FakeConnection(result_columns=["n"], result_rows=[(1,)])
    RedshiftWarehouse(config(sslmode="require"), SECRETS, connect=conn.connect).query("select 1 as n")
    assert conn.connect_kwargs["ssl"] is True and conn.connect_kwargs["sslmode"] == "verify-ca"


def test_error_classification():
    conflict = redshift_connector.ProgrammingError(
        {"C": "XX000", "M": "1023 DETAIL: Serializable isolation violation on table - 1234"})
    assert isinstance(classify(conflict, "publishing"), TransientError)
    assert isinstance(classify(redshift_connector.OperationalError("connection time out"), "x"), TransientError)
    assert isinstance(classify(redshift_connector.ProgrammingError({"C": "57P01", "M": "shutdown"}), "x"),
                      TransientError)
    missing = redshift_connector.ProgrammingError({"C": "42P01", "M": 'relation "x" does not exist'})
    assert str(classify(missing, "query")) == 'Redshift: query failed: relation "x" does not exist (SQLSTATE 42P01)'
    assert isinstance(classify(missing, "query"), TerminalError)
    slow = ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"},
                        "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")
    assert isinstance(classify(slow, "staging"), TransientError)
    assert isinstance(classify(denied, "staging"), TerminalError)
    assert isinstance(classify(TimeoutError("timed out"), "staging"), TransientError)
    throttled = S3UploadFailedError("Failed to upload a to b/k: An error occurred (SlowDown) when calling the "
                                    "PutObject operation: Please reduce your request rate.")
    assert isinstance(classify(throttled, "staging"), TransientError)
    assert isinstance(classify(ValueError("HTTP 500 in a value"), "staging"), TerminalError)


def test_query_returns_columns_and_rows_and_never_commits():
    conn = FakeConnection(result_columns=["layer", "n"], result_rows=[("gold", 7), ("silver", 5)])
    wh = RedshiftWarehouse(config(), SECRETS, connect=conn.connect)
    assert wh.query("SELECT layer, n FROM t") == (["layer", "n"], [("gold", 7), ("silver", 5)])
    assert conn.log == ["SELECT layer, n FROM t", "ROLLBACK", "CLOSE"]
    bad = FakeConnection(fail_on="SELECT", error=redshift_connector.ProgrammingError(
        {"C": "42P01", "M": 'relation "gold.nope" does not exist'}))
    with pytest.raises(QueryFailed) as err:
        RedshiftWarehouse(config(), SECRETS, connect=bad.connect).query("SELECT * FROM gold.nope")
    assert str(err.value) == 'query failed: relation "gold.nope" does not exist (SQLSTATE 42P01)'
    assert bad.log[-2:] == ["ROLLBACK", "CLOSE"]


# --- S3 staging (moto) --------------------------------------------------------------------

class CountingS3:
    """Passes through to the moto client and counts uploads."""

    def __init__(self, client):
        self.client, self.uploads = client, []

    def upload_file(self, filename, bucket, key, ExtraArgs=None):
        self.uploads.append(key)
        return self.client.upload_file(filename, bucket, key, ExtraArgs=ExtraArgs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_stage_uploads_parquet_files_encrypted_and_is_idempotent(tmp_path, s3):
    table = version(tmp_path, table="gold.sales", v=12)
    counting = CountingS3(s3)
    wh = RedshiftWarehouse(config(staging_prefix="/stage/rs/"), SECRETS, s3_client=lambda: counting)
    (source,) = wh.stage(table)
    prefix = "stage/rs/gold/sales/v000012/"
    assert source == CopySource(f"s3://{BUCKET}/{prefix}")
    local = {"part-00000-abc.snappy.parquet", "sub/part-00001-abc.snappy.parquet"}
    assert staged(s3) == {prefix + rel: (tmp_path / "lake/gold/sales/v000012" / rel).stat().st_size for rel in local}
    for key in staged(s3):
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body == (tmp_path / "lake/gold/sales/v000012" / key[len(prefix):]).read_bytes()  # byte for byte

    counting.uploads.clear()
    s3.put_object(Bucket=BUCKET, Key=prefix + "stray.parquet", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="stage/rs/gold/sales/v000120/keep.parquet", Body=b"x")
    assert wh.stage(table) == [source]
    assert counting.uploads == []  # already there: nothing uploaded again
    assert set(staged(s3, prefix)) == {prefix + rel for rel in local}  # the stray object is gone
    assert "stage/rs/gold/sales/v000120/keep.parquet" in staged(s3)  # v12's prefix never matches v120


def test_stage_with_a_kms_key_and_the_default_client(tmp_path, s3):
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    wh = RedshiftWarehouse(config(), SECRETS, kms_key=key_id)  # default boto3 client for config.region
    wh.stage(version(tmp_path, nested=False))
    (key,) = staged(s3)
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(key_id)


def test_partitioned_versions_are_staged_with_their_partition_columns(tmp_path, s3):
    root = tmp_path / "lake/gold/daily/v000001"
    data = write_version(tmp_path / "src")
    # Spark's layout: partition columns only in folder names (values URI-escaped), nulls as the hive default
    for i, folder in enumerate(["order_date=2024-02-29/is_paid=true",
                                "order_date=1999-12-31/is_paid=__HIVE_DEFAULT_PARTITION__"]):
        (root / folder).mkdir(parents=True)
        pq.write_table(data.slice(i, 1).drop_columns(["order_date", "is_paid"]), root / folder / "part-0.parquet")
    table = TableVersion(table="gold.daily", version=1, path=str(root), rows=2, columns=COLUMNS,
                         partition_by=["order_date", "is_paid"])
    wh = RedshiftWarehouse(config(), SECRETS, s3_client=lambda: s3)
    (source,) = wh.stage(table)
    keys = sorted(staged(s3))
    assert keys == [f"redshift-staging/gold/daily/v000001/{f}/part-0.parquet" for f in
                    ["order_date=1999-12-31/is_paid=__HIVE_DEFAULT_PARTITION__", "order_date=2024-02-29/is_paid=true"]]
    assert source == CopySource(f"s3://{BUCKET}/redshift-staging/gold/daily/v000001/")
    back = [pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())) for k in keys]
    assert [t.column_names for t in back] == [[c["name"] for c in COLUMNS]] * 2  # COPY maps by position
    assert back[1].to_pylist() == data.slice(0, 1).to_pylist()
    assert back[0].to_pylist()[0] == {**data.slice(1, 1).to_pylist()[0], "is_paid": None}
    assert back[1].schema.field("amount").type == pa.decimal128(12, 2)
    assert back[1].schema.field("ordered_at").type == pa.timestamp("us")
    assert wh.stage(table) == [source] and sorted(staged(s3)) == keys  # idempotent here too


def test_staging_errors_are_classified(tmp_path, s3):
    wh = RedshiftWarehouse(config(staging_bucket="no-such-bucket"), SECRETS, s3_client=lambda: s3)
    with pytest.raises(TerminalError, match=r"^Redshift: staging silver.sales to s3://no-such-bucket/.*NoSuchBucket"):
        wh.stage(version(tmp_path))
