"""The local warehouse: a DuckDB file whose views expose each committed lake table.

Views point at the committed version folder, so the warehouse shows exactly what the lake
committed and refreshing it is cheap. Names are the lake's: ``<layer>.<name>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from engine.errors import UsageError
from engine.io.lake import TableVersion


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDbWarehouse:
    """A DuckDB database file with one schema per layer and one view per table."""

    def __init__(self, path: Path):
        self.path = path

    def refresh(self, tables: list[TableVersion], hints: dict | None = None) -> None:
        """Point every view at its table's committed version (idempotent)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(self.path)) as con:
            for table in tables:
                layer, name = table.table.split(".", 1)
                glob = str(Path(table.path) / "**" / "*.parquet")
                hive = "true" if table.partition_by else "false"
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(layer)}")
                con.execute(
                    f"CREATE OR REPLACE VIEW {_quote(layer)}.{_quote(name)} AS "
                    f"SELECT * FROM read_parquet({_literal(glob)}, hive_partitioning = {hive})")

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one SQL statement read-only; returns column names and rows."""
        if not self.path.is_file():
            raise UsageError(f"no warehouse at {self.path} yet: run `medallion run` first")
        try:
            with duckdb.connect(str(self.path), read_only=True) as con:
                cursor = con.execute(sql)
                columns = [d[0] for d in cursor.description or []]
                return columns, cursor.fetchall()
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            raise UsageError(f"query failed: {message}") from None
