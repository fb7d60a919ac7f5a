"""Load the raw CSVs into the source database: the step RDS does with table_import_from_s3.

Each table is replaced in one transaction (staging + COPY + swap), so loading twice leaves the
same rows and a failed load leaves the previous rows. Every column is text, as in the file,
plus ``_row_id`` (an identity) that partitioned JDBC reads split on. Bytes that are not UTF-8
become U+FFFD, exactly as the CSV reader does, so bronze sees the same values either way.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from engine.errors import InputDataError, TerminalError
from engine.io.postgres import open_connection
from engine.io.sqltypes import quote
from engine.spec.secrets import SecretProvider

CHUNK = 1 << 20


def load_table(conn: Any, schema: str, table: str, path: Path) -> int:
    """Replace ``schema.table`` by the CSV's records; returns the row count."""
    import psycopg

    if not path.is_file() or path.stat().st_size == 0:
        raise InputDataError(f"source load: {path} is missing or empty")
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        header = next(csv.reader(fh))
    columns = [h.strip().lstrip("\ufeff") for h in header]
    staging = f"{table}__loading"
    cols = ", ".join(f"{quote(c)} text" for c in columns)
    names = ", ".join(quote(c) for c in columns)
    try:
        with conn.transaction():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            conn.execute(f"DROP TABLE IF EXISTS {quote(schema)}.{quote(staging)}")
            conn.execute(f"CREATE TABLE {quote(schema)}.{quote(staging)} "
                         f"(_row_id bigint GENERATED ALWAYS AS IDENTITY, {cols})")
            sql = f"COPY {quote(schema)}.{quote(staging)} ({names}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            with conn.cursor().copy(sql) as copy, open(path, encoding="utf-8", errors="replace", newline="") as fh:
                while chunk := fh.read(CHUNK):
                    copy.write(chunk.encode("utf-8"))
            conn.execute(f"DROP TABLE IF EXISTS {quote(schema)}.{quote(table)}")
            conn.execute(f"ALTER TABLE {quote(schema)}.{quote(staging)} RENAME TO {quote(table)}")
            (rows,) = conn.execute(f"SELECT count(*) FROM {quote(schema)}.{quote(table)}").fetchone()
    except psycopg.Error as exc:
        raise TerminalError(f"source load of {path}: {str(exc).strip().splitlines()[0]}") from None
    return rows


def load_source(config: Any, secrets: SecretProvider | None, base_dir: Path) -> dict[str, int]:
    """Load every configured table; returns rows per table."""
    out = {}
    with open_connection(config, secrets) as conn:
        for table, file in config.tables.items():
            path = Path(file) if Path(file).is_absolute() else base_dir / file
            out[table] = load_table(conn, config.schema_, table, path)
    return out
