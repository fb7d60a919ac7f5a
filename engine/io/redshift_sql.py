"""The SQL of a Redshift publish: CREATE TABLE with physical hints, COPY, the one-transaction swap.

Pure functions of a table version and its copy sources, so every statement is checked by
tests without a cluster (tests/io/test_redshift.py) and run against the emulator over
PostgreSQL (tests/io/test_warehouse_contract.py). Statements carry no bind parameters: values
are literals escaped by :func:`literal`, identifiers are quoted, hints are checked first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from engine.errors import TerminalError
from engine.io.lake import TableVersion
from engine.io.sqltypes import quote, sql_type
from engine.io.versionfiles import DataFile
from engine.spec.models import WarehouseHints

META_SCHEMA = "medallion"
META_TABLE = f"{quote(META_SCHEMA)}.{quote('published')}"
ENCODINGS = {"raw", "az64", "bytedict", "delta", "delta32k", "lzo", "mostly8", "mostly16", "mostly32",
             "runlength", "text255", "text32k", "zstd"}
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
