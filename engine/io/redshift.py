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
- **A lake on S3 is never downloaded**: COPY reads the committed version's own objects through
  a manifest (``MANIFEST``, with each object's ``content_length`` as Parquet needs) written to
  the staging prefix, so the rows go from the lake to Redshift without passing through the
  job's machine and nothing is copied. Hive-partitioned files lack their partition columns:
  each partition is COPYed into a temporary table of the file's columns and inserted into the
  staging table with the partition values as typed literals, all in the one transaction.
- **A local lake** (a laptop publishing to Redshift) is uploaded to the staging prefix:
  unpartitioned files byte for byte (Spark's encodings reach COPY unchanged), partitioned
  files rewritten with their partition columns in table order (timestamps as microseconds).
- **Secrets**: the password is resolved only inside :meth:`RedshiftWarehouse._connect` and
  scrubbed from any error message; TLS is always on (``require`` is served as ``verify-ca``,
  since redshift-connector ignores modes it does not know and would send plaintext).
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import MedallionError, QueryFailed, TerminalError, TransientError
from engine.io.lake import TableVersion
from engine.io.sqltypes import published_layers, quote, sql_type
from engine.io.versionfiles import DataFile, data_files, is_s3, read_file
from engine.spec.models import WarehouseHints
from engine.spec.project import RedshiftWarehouse as RedshiftConfig
from engine.spec.secrets import SecretProvider, resolve_secrets

META_SCHEMA = "medallion"
META_TABLE = f"{quote(META_SCHEMA)}.{quote('published')}"
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


@dataclass(frozen=True)
class CopySource:
    """What one COPY reads: every object under a prefix, or the objects a manifest lists.

    ``partition`` (hive partition values) is set when the files lack those columns.
    """

    uri: str
    manifest: bool = False
    partition: dict[str, str | None] | None = field(default=None, hash=False)


def copy_sql(staging_table: str, s3_uri: str, iam_role: str, manifest: bool = False) -> str:
    """``COPY`` of every Parquet object under ``s3_uri`` (or listed in the manifest at ``s3_uri``)
    into ``staging_table`` (already quoted).

    No REGION clause: Redshift rejects it for Parquet (the staging bucket must be in the
    cluster's region).
    """
    return (f"COPY {staging_table} FROM {literal(s3_uri)} IAM_ROLE {literal(iam_role)} FORMAT AS PARQUET"
            + (" MANIFEST" if manifest else ""))


def manifest_body(files: list[DataFile]) -> bytes:
    """A COPY manifest naming exactly these objects (Parquet needs each one's content_length)."""
    return json.dumps({"entries": [{"url": f.uri, "mandatory": True, "meta": {"content_length": f.size}}
                                   for f in files]}, indent=1).encode("utf-8")


def metadata_sql() -> list[str]:
    """Statements that create the published-versions table when missing."""
    return [f"CREATE SCHEMA IF NOT EXISTS {quote(META_SCHEMA)}",
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (table_name VARCHAR(256) NOT NULL, version BIGINT NOT NULL, "
            "rows BIGINT NOT NULL, published_at TIMESTAMP NOT NULL, PRIMARY KEY (table_name))"]


def _partition_loads(table: TableVersion, staged: str, sources: list[CopySource], iam_role: str) -> list[str]:
    """Per partition: COPY into a temporary table of the file's columns, then INSERT with the
    partition values as typed literals (Parquet files of a hive partition lack those columns)."""
    part = quote(f"{table.table.split('.', 1)[1]}__v{table.version}__part")
    file_cols = [c for c in table.columns if c["name"] not in table.partition_by]
    out = [f"CREATE TEMP TABLE {part} ("
           + ", ".join(f"{quote(c['name'])} {sql_type(c['type'], 'redshift')}" for c in file_cols) + ")"]
    names = ", ".join(quote(c["name"]) for c in table.columns)
    for source in sources:
        values = source.partition or {}
        exprs = []
        for c in table.columns:
            if c["name"] in table.partition_by:
                raw = values.get(c["name"])
                exprs.append(f"CAST({'NULL' if raw is None else literal(raw)} AS {sql_type(c['type'], 'redshift')})")
            else:
                exprs.append(quote(c["name"]))
        out += [copy_sql(part, source.uri, iam_role, source.manifest),
                f"INSERT INTO {staged} ({names}) SELECT {', '.join(exprs)} FROM {part}",
                f"DELETE FROM {part}"]
    return [*out, f"DROP TABLE {part}"]


def publish_sql(table: TableVersion, sources: str | list[CopySource], iam_role: str,
                hints: WarehouseHints | None = None) -> tuple[list[str], list[str]]:
    """The statements of one publish, split around the row-count check.

    Returns ``(load, swap)``: ``load`` ends with ``SELECT COUNT(*)`` of the staging table, whose
    result must equal ``table.rows`` before ``swap`` runs; both run in one transaction. An
    empty version has no COPY (an empty prefix would make COPY fail).
    """
    if isinstance(sources, str):
        sources = [CopySource(sources)] if sources else []
    layer, name = table.table.split(".", 1)
    staging = f"{name}__v{table.version}"
    staged, target = f"{quote(layer)}.{quote(staging)}", f"{quote(layer)}.{quote(name)}"
    load = [f"CREATE SCHEMA IF NOT EXISTS {quote(layer)}",
            f"DROP TABLE IF EXISTS {staged}",
            create_table_sql(layer, staging, table.columns, hints)]
    if table.rows and any(s.partition is not None for s in sources):
        load += _partition_loads(table, staged, sources, iam_role)
    elif table.rows:
        load += [copy_sql(staged, s.uri, iam_role, s.manifest) for s in sources]
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


class RedshiftWarehouse:
    """Silver, gold and quarantine tables as Redshift tables named ``<layer>.<name>``."""

    def __init__(self, config: RedshiftConfig, secrets: SecretProvider,
                 connect: Callable[..., Any] | None = None, s3_client: Callable[[], Any] | None = None,
                 kms_key: str | None = None, lake_s3: Any = None):
        self.config = config
        self.secrets = secrets
        self._connect_factory = connect
        self._s3_factory = s3_client
        self._s3: Any = None
        self.kms_key = kms_key

    dialect = "redshift"

    @classmethod
    def from_config(cls, config: RedshiftConfig, setup: Any) -> "RedshiftWarehouse":
        return cls(config, setup.secrets, kms_key=setup.lake_kms_key)

    def describe(self) -> str:
        return f"Redshift {self.config.host}:{self.config.port}/{self.config.database}"

    def open(self) -> Any:
        """A DB-API connection (the dashboards' bound-parameter queries use it)."""
        return self.connect()

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

    def stage(self, table: TableVersion) -> list[CopySource]:
        """What COPY reads for ``table``'s committed version (see the module doc).

        A version on S3 gets manifests naming its own objects; a local version is uploaded.
        Either way the staging prefix ends up holding exactly what this version needs (objects
        left there by an earlier attempt are removed: COPY of a prefix loads everything in it).
        """
        files = data_files(table, self.s3 if is_s3(table.path) else None)
        if not files:
            return []
        bucket, prefix = self.config.staging_bucket, self.stage_prefix(table)
        try:
            existing = {obj["Key"]: obj["Size"]
                        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                        for obj in page.get("Contents", [])}
            if is_s3(table.path):
                sources = self._stage_manifests(table, files, bucket, prefix, existing)
            else:
                sources = self._upload(table, files, bucket, prefix, existing)
            stale = sorted(existing)
            for start in range(0, len(stale), 1000):
                self.s3.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": k} for k in stale[start:start + 1000]], "Quiet": True})
        except MedallionError:
            raise
        except Exception as exc:  # noqa: BLE001 - boto3 and s3transfer raise many types
            raise classify(exc, f"staging {table.table} to s3://{bucket}/{prefix}") from None
        return sources

    def _extra(self) -> dict[str, str]:
        return {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": self.kms_key} if self.kms_key else {})}

    def _stage_manifests(self, table: TableVersion, files: list[DataFile], bucket: str, prefix: str,
                         existing: dict[str, int]) -> list[CopySource]:
        """One manifest (unpartitioned) or one per partition, naming the lake's own objects."""
        groups: dict[tuple, list[DataFile]] = {}
        for f in files:
            groups.setdefault(tuple(f.partition.get(c) for c in table.partition_by), []).append(f)
        sources = []
        for i, (values, members) in enumerate(groups.items()):  # in path order
            key = f"{prefix}{'all' if not table.partition_by else f'partition-{i:05d}'}.manifest"
            existing.pop(key, None)
            self.s3.put_object(Bucket=bucket, Key=key, Body=manifest_body(members), **self._extra())
            partition = dict(zip(table.partition_by, values)) if table.partition_by else None
            sources.append(CopySource(f"s3://{bucket}/{key}", manifest=True, partition=partition))
        return sources

    def _upload(self, table: TableVersion, files: list[DataFile], bucket: str, prefix: str,
                existing: dict[str, int]) -> list[CopySource]:
        """Upload a local version's data files (partition columns materialised); idempotent by size."""
        import pyarrow.parquet as pq

        with tempfile.TemporaryDirectory(prefix="medallion-stage-") as tmp:
            for f in files:
                key = prefix + f.relative
                source = Path(f.uri)
                if table.partition_by:
                    source = Path(tmp) / f"{uuid.uuid4().hex}.parquet"
                    pq.write_table(read_file(f, table), source, coerce_timestamps="us")
                if existing.pop(key, None) != source.stat().st_size:
                    self.s3.upload_file(str(source), bucket, key, ExtraArgs=self._extra())
        return [CopySource(f"s3://{bucket}/{prefix}")]

    def published(self) -> dict[str, int]:
        """The version each published table shows now."""
        conn = self.connect()
        try:
            return self._published(conn)
        except Exception as exc:  # noqa: BLE001
            raise classify(exc, f"reading {META_SCHEMA}.published") from None
        finally:
            _rollback(conn)
            _close(conn)

    def _published(self, conn: Any) -> dict[str, int]:
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
                current = self._published(conn)
            except Exception as exc:  # noqa: BLE001
                _rollback(conn)
                raise classify(exc, f"reading {META_SCHEMA}.published") from None
            for table in todo:
                if current.get(table.table) != table.version:
                    sources = self.stage(table) if table.rows else []
                    self.publish(conn, table, sources, (hints or {}).get(table.table))
                    done.append(table.table)
        finally:
            _close(conn)
        return done

    def publish(self, conn: Any, table: TableVersion, sources: str | list[CopySource],
                hints: WarehouseHints | None = None) -> None:
        """Load ``table`` from its staged sources and swap it in, all in one transaction (see module doc)."""
        load, swap = publish_sql(table, sources, self.config.iam_role, hints)
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

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement (``%s`` placeholders bound to ``params``); always rolled back."""
        conn = self.connect()
        try:
            cursor = conn.cursor()
            if params is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, tuple(params))
            columns = [d[0] for d in cursor.description or []]
            return columns, [tuple(r) for r in cursor.fetchall()] if cursor.description else []
        except Exception as exc:  # noqa: BLE001
            error = classify(exc, "query")
            if error.transient:
                raise error from None
            raise QueryFailed(f"query failed: {error.message.split(': ', 2)[-1]}") from None
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
