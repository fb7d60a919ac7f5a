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

import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.errors import MedallionError, QueryFailed, TerminalError, TransientError
from engine.io.lake import TableVersion
from engine.io.redshift_sql import (META_SCHEMA, META_TABLE, CopySource, copy_sql, create_table_sql,  # noqa: F401
                                    manifest_body, metadata_sql, publish_sql)
from engine.io.sqltypes import published_layers
from engine.io.versionfiles import DataFile, data_files, is_s3, read_file
from engine.spec.models import WarehouseHints
from engine.spec.project import RedshiftWarehouse as RedshiftConfig
from engine.spec.secrets import SecretProvider, resolve_secrets

_TRANSIENT_SQLSTATE = ("08", "53", "57P", "40001", "40P01", "55P03")
_TRANSIENT_AWS = ("SlowDown", "Throttl", "RequestTimeout", "InternalError", "ServiceUnavailable",
                  "RequestLimitExceeded", "503", "500")


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
            if self.config.reader is not None:
                self.grant_reader(conn, bool(done))
        finally:
            _close(conn)
        return done

    def grant_reader(self, conn: Any, published: bool) -> None:
        """Create the dashboards' read-only user when missing; grant it gold and the health table."""
        from engine.io.readonly import exists_sql, reader_statements

        reader, cursor = self.config.reader, conn.cursor()
        try:
            cursor.execute(exists_sql("redshift"), (reader.user,))
            exists = bool(cursor.fetchall())
            for sql in reader_statements(reader, exists, published, self.secrets, "redshift"):
                cursor.execute(sql)
            conn.commit()
        except MedallionError:
            _rollback(conn)
            raise
        except Exception as exc:  # noqa: BLE001
            _rollback(conn)
            raise classify(exc, f"granting the dashboards' user {reader.user}") from None

    def reader(self) -> "RedshiftWarehouse":
        """The same warehouse as the dashboards' read-only user (the ETL user without one)."""
        if self.config.reader is None:
            return self
        from engine.io.readonly import as_reader

        return RedshiftWarehouse(as_reader(self.config), self.secrets, self._connect_factory, self._s3_factory,
                                 self.kms_key)

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
