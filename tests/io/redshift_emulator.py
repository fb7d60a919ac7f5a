"""Redshift played by a real PostgreSQL database, for the real Redshift adapter.

redshift-connector cannot talk to PostgreSQL, so :class:`EmulatedRedshift.connect` stands in for
``redshift_connector.connect``: every statement goes to PostgreSQL except the Redshift-only
ones, which are captured and checked the way Redshift would:

- ``COPY t FROM 's3://…' IAM_ROLE '…' FORMAT AS PARQUET [MANIFEST]``: the role must be the
  configured one; without MANIFEST every object under the prefix is loaded (as Redshift does, so
  a stray non-Parquet object fails the load); with MANIFEST the listed objects, each of which
  must exist with exactly its ``content_length``. Columns map by position, and the file's column
  count and names must match the target table. The rows are read from S3 (moto) with pyarrow
  and inserted inside the caller's transaction, so a later failure rolls them back.
- ``ENCODE``/``DISTSTYLE``/``DISTKEY``/``SORTKEY`` are dropped after capture; ``GETDATE()`` and
  ``VARBYTE`` are provided in the database.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field

import psycopg
import pyarrow.parquet as pq

COPY = re.compile(r"COPY (?P<target>.+?) FROM '(?P<uri>[^']+)' IAM_ROLE '(?P<role>[^']+)' "
                  r"FORMAT AS PARQUET(?P<manifest> MANIFEST)?")
PHYSICAL = re.compile(r" (ENCODE \w+|DISTSTYLE \w+|DISTKEY \([^)]*\)|SORTKEY \([^)]*\))")


def split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class Copy:
    """One captured COPY: its target, what it named, and the S3 objects it loaded."""

    target: str
    uri: str
    manifest: bool
    objects: list[str] = field(default_factory=list)
    rows: int = 0


class EmulatedRedshift:
    def __init__(self, conninfo: dict, s3, iam_role: str):
        self.conninfo, self.s3, self.iam_role = conninfo, s3, iam_role
        self.statements: list[str] = []
        self.copies: list[Copy] = []
        self.connect_kwargs: list[dict] = []
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute("CREATE OR REPLACE FUNCTION getdate() RETURNS timestamp LANGUAGE sql "
                         "AS $$ SELECT (now() AT TIME ZONE 'UTC')::timestamp $$")
            if not conn.execute("SELECT 1 FROM pg_type WHERE typname = 'varbyte'").fetchall():
                conn.execute("CREATE DOMAIN varbyte AS bytea")

    def connect(self, **kwargs):
        """``redshift_connector.connect``'s keywords; TLS must have been asked for."""
        assert kwargs.get("ssl") is True and kwargs.get("sslmode") in ("verify-ca", "verify-full")
        self.connect_kwargs.append(kwargs)
        conn = psycopg.connect(**self.conninfo)
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        return _Connection(self, conn)

    def _objects(self, uri: str, manifest: bool) -> list[str]:
        bucket, key = split(uri)
        if not manifest:
            listing = self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            return [f"s3://{bucket}/{o['Key']}" for o in listing]
        body = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        found = []
        for entry in body["entries"]:
            b, k = split(entry["url"])
            size = self.s3.head_object(Bucket=b, Key=k)["ContentLength"]
            if size != entry["meta"]["content_length"]:
                raise RuntimeError(f"manifest {uri}: {entry['url']} is {size} bytes, the manifest says "
                                   f"{entry['meta']['content_length']}")
            found.append(entry["url"])
        return found

    def copy(self, cursor, match: re.Match) -> None:
        if match["role"] != self.iam_role:
            raise RuntimeError(f"COPY with IAM_ROLE {match['role']}, expected {self.iam_role}")
        target = match["target"]
        captured = Copy(target, match["uri"], bool(match["manifest"]))
        columns = [d.name for d in cursor.execute(f"SELECT * FROM {target} LIMIT 0").description]
        names = ", ".join('"' + c + '"' for c in columns)
        for uri in self._objects(match["uri"], captured.manifest):
            bucket, key = split(uri)
            data = pq.read_table(io.BytesIO(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()),
                                 coerce_int96_timestamp_unit="us")
            if data.column_names != columns:
                raise RuntimeError(f"{uri}: columns {data.column_names} do not match {target} {columns}")
            with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as pipe:
                for row in zip(*(data.column(i).to_pylist() for i in range(data.num_columns))):
                    pipe.write_row(row)
            captured.objects.append(uri)
            captured.rows += data.num_rows
        self.copies.append(captured)


class _Connection:
    def __init__(self, emulator: EmulatedRedshift, conn):
        self.emulator, self.conn = emulator, conn

    def cursor(self):
        return _Cursor(self.emulator, self.conn.cursor())

    def commit(self):
        self.conn.commit()

    def rollback(self):
        self.conn.rollback()

    def close(self):
        self.conn.close()


class _Cursor:
    def __init__(self, emulator: EmulatedRedshift, cursor):
        self.emulator, self.cursor, self.copied = emulator, cursor, False

    @property
    def description(self):
        return None if self.copied else self.cursor.description

    def execute(self, sql, args=None):
        self.emulator.statements.append(sql)
        self.copied = False
        match = COPY.fullmatch(sql)
        if match:
            self.emulator.copy(self.cursor, match)
            self.copied = True
            return self
        self.cursor.execute(PHYSICAL.sub("", sql), args)
        return self

    def fetchall(self):
        return self.cursor.fetchall()

    def fetchone(self):
        return self.cursor.fetchone()
