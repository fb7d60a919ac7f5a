"""Redshift as the warehouse: committed lake versions staged on S3 and loaded with COPY.

Why this shape:

- **COPY from Parquet with an IAM role** is the only fast, bulk way into Redshift; rows never
  travel through this process, and no AWS key is ever written into SQL.
- **One transaction per table** (staging table, COPY, row-count check, drop the old table,
  rename, record the version, COMMIT). Redshift DDL is transactional, so until COMMIT readers
  keep the previous table, and any failure ROLLBACKs to it. A full swap rather than MERGE: a
  lake version is the whole table, so replacing it needs no keys, handles deleted rows and
  costs the same COPY. ``DROP`` is not CASCADE: a plain view on a table blocks its publish
  (and says so) instead of being dropped silently; use late-binding views on published tables.
- **Published versions** are recorded in ``medallion.published`` (the same shape as the
  PostgreSQL adapter's), so re-running a publish with nothing new costs one query.
- **COPY maps Parquet columns by position** and reads every object under the prefix, so only
  ``*.parquet`` data files are staged (no ``_SUCCESS``, ``.crc`` or manifest files).
- **Partitioned tables**: hive-partitioned files lack their partition columns, so each such
  file is rewritten on staging with the partition values added as typed columns, in the
  table's column order (timestamps as microseconds). Unpartitioned files are uploaded
  byte for byte, so Spark's own encodings of decimals, dates, timestamps and booleans reach
  COPY unchanged.
- **Secrets**: the password is resolved only inside :meth:`RedshiftWarehouse._connect` and
  scrubbed from any error message; TLS is always on (``require`` is served as ``verify-ca``,
  since redshift-connector ignores modes it does not know and would send plaintext).
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from engine.errors import MedallionError, TerminalError, TransientError, UsageError
from engine.io.lake import TableVersion
from engine.io.sqltypes import published_layers, quote, sql_type
from engine.spec.models import WarehouseHints
from engine.spec.project import RedshiftWarehouse as RedshiftConfig
from engine.spec.secrets import SecretProvider, resolve_secrets

META_SCHEMA = "medallion"
META_TABLE = f"{quote(META_SCHEMA)}.{quote('published')}"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
ENCODINGS = {"raw", "az64", "bytedict", "delta", "delta32k", "lzo", "mostly8", "mostly16", "mostly32",
             "runlength", "text255", "text32k", "zstd"}
_TRANSIENT_SQLSTATE = ("08", "53", "57P", "40001", "40P01", "55P03")
_TRANSIENT_AWS = ("SlowDown", "Throttl", "RequestTimeout", "InternalError", "ServiceUnavailable",
                  "RequestLimitExceeded", "503", "500")


def literal(text: str) -> str:
    """A single-quoted SQL string literal (statements carry no bind parameters: see module doc)."""
    return "'" + text.replace("'", "''") + "'"


def create_table_sql(schema: str, name: str, columns: list[dict[str, str]],
                     hints: WarehouseHints | None = None) -> str:
    """``CREATE TABLE`` with Redshift types, per-column ENCODE and DISTSTYLE/DISTKEY/SORTKEY.

    Hints name columns and encodings that go into SQL unquoted, so both are checked here:
    a typo fails the publish with a clear message instead of a Redshift syntax error.
    """
    hints = hints or WarehouseHints()
    names = [c["name"] for c in columns]
    for role, col in [("distkey", hints.distkey), *(("sortkey", c) for c in hints.sortkey),
                      *(("encode", c) for c in hints.encode)]:
        if col is not None and col not in names:
            raise TerminalError(f"{schema}.{name}: warehouse.{role} '{col}' is not a column "
                                f"(columns: {', '.join(names)})")
    for col, encoding in hints.encode.items():
        if encoding.lower() not in ENCODINGS:
            raise TerminalError(f"{schema}.{name}: warehouse.encode {col}: unknown encoding '{encoding}' "
                                f"(known: {', '.join(sorted(ENCODINGS))})")
    parts = []
    for c in columns:
        encoding = hints.encode.get(c["name"])
        parts.append(f"{quote(c['name'])} {sql_type(c['type'], 'redshift')}"
                     + (f" ENCODE {encoding.upper()}" if encoding else ""))
    sql = f"CREATE TABLE {quote(schema)}.{quote(name)} ({', '.join(parts)})"
    if hints.distkey:
        sql += f" DISTSTYLE KEY DISTKEY ({quote(hints.distkey)})"
    elif hints.diststyle != "auto":
        sql += f" DISTSTYLE {hints.diststyle.upper()}"
    if hints.sortkey:
        sql += f" SORTKEY ({', '.join(quote(c) for c in hints.sortkey)})"
    return sql


def copy_sql(staging_table: str, s3_uri: str, iam_role: str) -> str:
    """``COPY`` of every Parquet object under ``s3_uri`` into ``staging_table`` (already quoted).

    No REGION clause: Redshift rejects it for Parquet (the staging bucket must be in the
    cluster's region).
    """
    return f"COPY {staging_table} FROM {literal(s3_uri)} IAM_ROLE {literal(iam_role)} FORMAT AS PARQUET"


def metadata_sql() -> list[str]:
    """Statements that create the published-versions table when missing."""
    return [f"CREATE SCHEMA IF NOT EXISTS {quote(META_SCHEMA)}",
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (table_name VARCHAR(256) NOT NULL, version BIGINT NOT NULL, "
            "rows BIGINT NOT NULL, published_at TIMESTAMP NOT NULL, PRIMARY KEY (table_name))"]


def publish_sql(table: TableVersion, s3_uri: str, iam_role: str,
                hints: WarehouseHints | None = None) -> tuple[list[str], list[str]]:
    """The statements of one publish, split around the row-count check.

    Returns ``(load, swap)``: ``load`` ends with ``SELECT COUNT(*)`` of the staging table, whose
    result must equal ``table.rows`` before ``swap`` runs; both run in one transaction. An
    empty version has no COPY (an empty prefix would make COPY fail).
    """
    layer, name = table.table.split(".", 1)
    staging = f"{name}__v{table.version}"
    staged, target = f"{quote(layer)}.{quote(staging)}", f"{quote(layer)}.{quote(name)}"
    load = [f"CREATE SCHEMA IF NOT EXISTS {quote(layer)}",
            f"DROP TABLE IF EXISTS {staged}",
            create_table_sql(layer, staging, table.columns, hints)]
    if table.rows:
        load.append(copy_sql(staged, s3_uri, iam_role))
    load.append(f"SELECT COUNT(*) FROM {staged}")
    swap = [f"DROP TABLE IF EXISTS {target}",
            f"ALTER TABLE {staged} RENAME TO {quote(name)}",
            f"DELETE FROM {META_TABLE} WHERE table_name = {literal(table.table)}",
            f"INSERT INTO {META_TABLE} (table_name, version, rows, published_at) "
            f"VALUES ({literal(table.table)}, {int(table.version)}, {int(table.rows)}, GETDATE())"]
    return load, swap


def classify(exc: BaseException, doing: str, secret: str | None = None) -> MedallionError:
    """One-line engine error for a driver or AWS failure: transient when retrying may help.

    Transient: lost or refused connections, timeouts, serialization conflicts, throttling and
    5xx answers. Terminal: SQL errors, failed loads, authentication, access denied.
    """
    if isinstance(exc, MedallionError):
        return exc
    import redshift_connector

    first = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(first, dict):  # a server ErrorResponse: {'C': sqlstate, 'M': message, ...}
        sqlstate, text = first.get("C", ""), first.get("M", "")
    else:
        sqlstate, text = "", str(first)
    if isinstance(exc, (redshift_connector.InterfaceError, redshift_connector.OperationalError)) and not sqlstate:
        transient = True  # socket-level: communication error, connection closed or timed out
    elif isinstance(exc, redshift_connector.Error):
        transient = sqlstate.startswith(_TRANSIENT_SQLSTATE) or "Serializable isolation violation" in text
    elif isinstance(exc, (OSError, TimeoutError)):
        transient = True
    else:  # botocore / boto3 errors (S3UploadFailedError only carries the S3 error code as text)
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            transient = status >= 500 or code.startswith(_TRANSIENT_AWS)
        else:
            transient = isinstance(exc, (BotoConnectionError, HTTPClientError)) or (
                isinstance(exc, S3UploadFailedError) and any(f"({m}" in text for m in _TRANSIENT_AWS))
        text = str(exc)
    text = (text.strip().splitlines() or [type(exc).__name__])[0]
    if secret:
        text = text.replace(secret, "****")
    message = f"Redshift: {doing} failed: {text}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")
    return TransientError(message) if transient else TerminalError(message)


def _arrow_type(spark_type: str) -> Any:
    import pyarrow as pa

    decimal = re.match(r"^decimal\((\d+),\s*(\d+)\)$", spark_type)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    return {"boolean": pa.bool_(), "tinyint": pa.int8(), "smallint": pa.int16(), "int": pa.int32(),
            "bigint": pa.int64(), "float": pa.float32(), "double": pa.float64(), "date": pa.date32(),
            "timestamp": pa.timestamp("us"), "timestamp_ntz": pa.timestamp("us")}.get(spark_type, pa.string())


def flatten_partition_file(path: Path, root: Path, table: TableVersion, out: Path) -> Path:
    """Rewrite one hive-partitioned part file with its partition columns, in table order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = dict(seg.split("=", 1) for seg in path.relative_to(root).parent.parts if "=" in seg)
    data = pq.ParquetFile(path).read()
    arrays = []
    for col in table.columns:
        if col["name"] in table.partition_by:
            if col["name"] not in values:
                raise TerminalError(f"{table.table}: {path} is not under a '{col['name']}=' folder")
            raw = values[col["name"]]
            value = None if raw == HIVE_NULL else unquote(raw)
            try:
                arrays.append(pa.array([value] * data.num_rows, pa.string()).cast(_arrow_type(col["type"])))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise TerminalError(f"{table.table}: partition value {col['name']}={raw!r} is not a "
                                    f"{col['type']}: {exc}") from None
        else:
            arrays.append(data.column(col["name"]))
    target = out / f"{uuid.uuid4().hex}.parquet"
    pq.write_table(pa.table(arrays, names=[c["name"] for c in table.columns]), target, coerce_timestamps="us")
    return target


class RedshiftWarehouse:
    """Silver, gold and quarantine tables as Redshift tables named ``<layer>.<name>``."""

    def __init__(self, config: RedshiftConfig, secrets: SecretProvider,
                 connect: Callable[..., Any] | None = None, s3_client: Callable[[], Any] | None = None,
                 kms_key: str | None = None):
        self.config = config
        self.secrets = secrets
        self._connect_factory = connect
        self._s3_factory = s3_client
        self._s3: Any = None
        self.kms_key = kms_key

    @property
    def s3(self) -> Any:
        """The S3 client, made on first use (a default one for the configured region)."""
        if self._s3 is None:
            if self._s3_factory is None:
                import boto3

                self._s3 = boto3.client("s3", region_name=self.config.region)
            else:
                self._s3 = self._s3_factory()
        return self._s3

    def connect(self) -> Any:
        """An open connection over TLS (also for the dashboards' parameterised queries); the password
        exists only for the duration of this call."""
        if self._connect_factory is None:
            import redshift_connector

            factory: Callable[..., Any] = redshift_connector.connect
        else:
            factory = self._connect_factory
        password = resolve_secrets(self.config.password, self.secrets)
        sslmode = "verify-ca" if self.config.sslmode == "require" else self.config.sslmode
        try:
            return factory(host=self.config.host, port=self.config.port, database=self.config.database,
                           user=self.config.user, password=str(password), ssl=True, sslmode=sslmode,
                           application_name="medallion")
        except Exception as exc:  # noqa: BLE001 - every driver failure becomes one engine error
            where = f"{self.config.host}:{self.config.port}/{self.config.database}"
            raise classify(exc, f"connecting to {where}", str(password)) from None

    def stage_prefix(self, table: TableVersion) -> str:
        """``<staging_prefix>/<layer>/<name>/v<version:06d>/`` (trailing slash: v1 never matches v10)."""
        layer, name = table.table.split(".", 1)
        base = self.config.staging_prefix.strip("/")
        return f"{base}/{layer}/{name}/v{table.version:06d}/".lstrip("/")

    def stage(self, table: TableVersion) -> str:
        """Upload the version's Parquet data files under its staging prefix; return the S3 URI.

        Idempotent: a version folder is immutable, so an object already there with the same
        size is that file and is skipped; objects that are not part of the version are
        deleted, because COPY loads everything under the prefix. Objects are KMS-encrypted.
        """
        bucket, prefix, root = self.config.staging_bucket, self.stage_prefix(table), Path(table.path)
        files = sorted(p for p in root.rglob("*.parquet") if p.is_file() and not any(
            part.startswith(".") or (part.startswith("_") and "=" not in part)  # Spark's hidden paths
            for part in p.relative_to(root).parts))
        if table.rows and not files:
            raise TerminalError(f"{table.table} v{table.version}: {root} holds no Parquet data files to stage")
        extra = {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": self.kms_key} if self.kms_key else {})}
        try:
            existing = {obj["Key"]: obj["Size"]
                        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                        for obj in page.get("Contents", [])}
            with tempfile.TemporaryDirectory(prefix="medallion-stage-") as tmp:
                for path in files:
                    key = prefix + path.relative_to(root).as_posix()
                    source = flatten_partition_file(path, root, table, Path(tmp)) if table.partition_by else path
                    if existing.pop(key, None) != source.stat().st_size:
                        self.s3.upload_file(str(source), bucket, key, ExtraArgs=extra)
            stale = sorted(existing)
            for start in range(0, len(stale), 1000):
                self.s3.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": k} for k in stale[start:start + 1000]], "Quiet": True})
        except Exception as exc:  # noqa: BLE001 - boto3 and s3transfer raise many types
            raise classify(exc, f"staging {table.table} to s3://{bucket}/{prefix}") from None
        return f"s3://{bucket}/{prefix}"

    def published(self, conn: Any) -> dict[str, int]:
        """Published version per table (creating the metadata table first when missing)."""
        cursor = conn.cursor()
        for sql in metadata_sql():
            cursor.execute(sql)
        conn.commit()
        cursor.execute(f"SELECT table_name, version FROM {META_TABLE}")
        found = {str(row[0]): int(row[1]) for row in cursor.fetchall()}
        conn.commit()  # end the read transaction, so each publish is a transaction of its own
        return found

    def refresh(self, tables: list[TableVersion], hints: dict[str, WarehouseHints] | None = None) -> list[str]:
        """Publish each published-layer table whose version Redshift lacks; returns those tables."""
        todo = [t for t in tables if t.table.split(".", 1)[0] in published_layers()]
        if not todo:
            return []
        done: list[str] = []
        conn = self.connect()
        try:
            try:
                current = self.published(conn)
            except Exception as exc:  # noqa: BLE001
                _rollback(conn)
                raise classify(exc, f"reading {META_SCHEMA}.published") from None
            for table in todo:
                if current.get(table.table) != table.version:
                    uri = self.stage(table) if table.rows else ""
                    self.publish(conn, table, uri, (hints or {}).get(table.table))
                    done.append(table.table)
        finally:
            _close(conn)
        return done

    def publish(self, conn: Any, table: TableVersion, s3_uri: str, hints: WarehouseHints | None = None) -> None:
        """Load ``table`` from ``s3_uri`` and swap it in, all in one transaction (see module doc)."""
        load, swap = publish_sql(table, s3_uri, self.config.iam_role, hints)
        cursor = conn.cursor()
        try:
            for sql in load:
                cursor.execute(sql)
            (count,) = cursor.fetchone()
            if int(count) != table.rows:
                raise TerminalError(f"Redshift: publishing {table.table} v{table.version}: staging table has "
                                    f"{count} rows, the lake version has {table.rows}; previous table kept")
            for sql in swap:
                cursor.execute(sql)
            conn.commit()
        except Exception as exc:  # noqa: BLE001
            _rollback(conn)
            raise classify(exc, f"publishing {table.table} v{table.version}") from None

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement; returns column names and rows. Always rolled back: read-only use."""
        conn = self.connect()
        try:
            cursor = conn.cursor()
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            return columns, [tuple(r) for r in cursor.fetchall()] if cursor.description else []
        except Exception as exc:  # noqa: BLE001
            error = classify(exc, "query")
            if error.transient:
                raise error from None
            raise UsageError(f"query failed: {error.message.split(': ', 2)[-1]}") from None
        finally:
            _rollback(conn)
            _close(conn)


def _rollback(conn: Any) -> None:
    """Roll back, ignoring a dead connection (the server rolls back an aborted session itself)."""
    try:
        conn.rollback()
    except Exception:  # noqa: BLE001
        pass


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001
        pass
