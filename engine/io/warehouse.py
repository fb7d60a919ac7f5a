"""The warehouse interface every adapter implements, its registry, and the DuckDB adapter.

Why an interface: the runner publishes committed versions, ``medallion query`` and the summary
read, the dashboards query with bound parameters, and none of them should know which server
sits behind the profile. Each adapter is built from its own config model by
:func:`open_warehouse` (the registry maps a config class to the adapter that takes it, as
SQLMesh's ``create_engine_adapter`` does), so adding a warehouse is one class plus one line
here, and no caller switches on ``kind``.

The contract (tests/io/test_warehouse_contract.py runs it over every lake x warehouse pair):

- ``refresh(tables, hints)`` makes the warehouse show exactly the given committed versions;
  it is idempotent (a version already published costs nothing) and returns the tables it
  changed. A failure leaves readers on the previous version of that table.
- ``published()`` is the version each table shows now.
- ``reader()`` is the same warehouse as the dashboards' read-only login (engine/io/readonly.py).
- ``query(sql, params)`` runs one statement; ``params`` (a sequence) binds the placeholders of
  the adapter's ``dialect`` (``?`` for DuckDB, ``%s`` for PostgreSQL and Redshift); ``None``
  means the text has no placeholders at all. One failing statement raises
  :class:`~engine.errors.QueryFailed`; an unreachable warehouse a transient error.

DuckDB (the local warehouse): one view per table over the committed version's Parquet files,
so refreshing is cheap and the warehouse shows exactly what the lake committed. It serves a
local lake only: reading ``s3://`` needs DuckDB's httpfs extension, which is downloaded at run
time and cannot be installed here (see docs/design.md); an S3 lake is refused with the fix.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import duckdb

from engine.errors import QueryFailed, TerminalError, UsageError
from engine.io.lake import TableVersion
from engine.io.versionfiles import data_files, is_s3
from engine.spec.secrets import SecretProvider

Rows = tuple[list[str], list[tuple[Any, ...]]]


class Warehouse(Protocol):
    """What the runner, the CLI and the dashboards need from a warehouse."""

    dialect: str

    def describe(self) -> str: ...

    def refresh(self, tables: list[TableVersion], hints: dict[str, Any] | None = None) -> list[str]: ...

    def published(self) -> dict[str, int]: ...

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Rows: ...

    def reader(self) -> "Warehouse": ...


@dataclass(frozen=True)
class WarehouseSetup:
    """What building an adapter needs besides its own config."""

    root: Path                       # the project folder (relative paths resolve against it)
    secrets: SecretProvider | None
    lake_kms_key: str | None = None  # the lake's KMS key (staged objects are encrypted with it)
    lake_is_s3: bool = False


# config class name (engine.spec.project) -> "module:AdapterClass"; each adapter has from_config
ADAPTERS = {
    "DuckDbWarehouse": "engine.io.warehouse:DuckDbWarehouse",
    "PostgresWarehouse": "engine.io.postgres:PostgresWarehouse",
    "RedshiftWarehouse": "engine.io.redshift:RedshiftWarehouse",
}


def open_warehouse(config: Any, setup: WarehouseSetup) -> Warehouse:
    """The adapter for a warehouse config (nothing is connected yet)."""
    target = ADAPTERS.get(type(config).__name__)
    if target is None:
        raise UsageError(f"no warehouse adapter for {type(config).__name__} (known: {', '.join(ADAPTERS)})")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name).from_config(config, setup)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (drivers add context lines and hints)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class DuckDbWarehouse:
    """A DuckDB database file with one schema per layer and one view per table."""

    dialect = "duckdb"
    MARK = "medallion version "  # each view's comment records the version it shows (no extra table)

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def from_config(cls, config: Any, setup: WarehouseSetup) -> "DuckDbWarehouse":
        if setup.lake_is_s3:
            raise UsageError("the DuckDB warehouse reads a local lake only (reading s3:// needs DuckDB's httpfs "
                             "extension, not installed here); use warehouse kind redshift or postgres with an "
                             "s3 lake, or a local lake with duckdb")
        path = Path(config.path)
        return cls(path if path.is_absolute() else setup.root / path)

    def describe(self) -> str:
        return f"DuckDB {self.path}"

    def refresh(self, tables: list[TableVersion], hints: dict | None = None) -> list[str]:
        """Point every view at its table's committed version; returns the tables that moved."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        done = []
        with duckdb.connect(str(self.path)) as con:
            current = self._versions(con)
            for table in tables:
                if is_s3(table.path):
                    raise UsageError(f"{table.table}: the DuckDB warehouse cannot read {table.path} (local lake only)")
                files = data_files(table)  # a version folder that is gone fails here, by name
                if current.get(table.table) == table.version:
                    continue
                layer, name = table.table.split(".", 1)
                hive = "true" if table.partition_by else "false"
                source = (f"read_parquet({_literal(str(Path(table.path) / '**' / '*.parquet'))}, "
                          f"hive_partitioning = {hive})") if files else _empty_select(table)
                view = f"{_quote(layer)}.{_quote(name)}"
                con.begin()
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(layer)}")
                con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {source}")
                (count,) = con.execute(f"SELECT count(*) FROM {view}").fetchone()
                if count != table.rows:
                    con.rollback()
                    raise TerminalError(f"DuckDB: publishing {table.table} v{table.version}: the view has {count} "
                                        f"rows, the lake version has {table.rows}; previous view kept")
                con.execute(f"COMMENT ON VIEW {view} IS {_literal(f'{self.MARK}{table.version}')}")
                con.commit()
                done.append(table.table)
        return done

    def reader(self) -> "DuckDbWarehouse":
        """The dashboards' connection: the same file (every DuckDB query is opened read-only)."""
        return self

    def published(self) -> dict[str, int]:
        """The version each view shows (empty before the first refresh)."""
        if not self.path.is_file():
            return {}
        with duckdb.connect(str(self.path), read_only=True) as con:
            return self._versions(con)

    def _versions(self, con: Any) -> dict[str, int]:
        rows = con.execute("SELECT schema_name, view_name, comment FROM duckdb_views() "
                           "WHERE comment LIKE ?", [self.MARK + "%"]).fetchall()
        return {f"{schema}.{view}": int(comment.removeprefix(self.MARK)) for schema, view, comment in rows}

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Rows:
        """Run one statement read-only; returns column names and rows."""
        if not self.path.is_file():
            raise UsageError(f"no warehouse at {self.path} yet: run `medallion run` first")
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise UsageError(f"cannot open the warehouse {self.path}: {first_line(exc)} "
                             "(a run may be refreshing it; try again in a moment)") from None
        try:
            cursor = con.execute(sql, list(params)) if params is not None else con.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            return columns, cursor.fetchall()
        except duckdb.Error as exc:
            raise QueryFailed(f"query failed: {first_line(exc)}") from None
        finally:
            con.close()


def _empty_select(table: TableVersion) -> str:
    """A zero-row relation with the table's columns (a committed version with no data files)."""
    from engine.io.sqltypes import sql_type

    cols = ", ".join(f"CAST(NULL AS {sql_type(c['type'], 'postgres')}) AS {_quote(c['name'])}" for c in table.columns)
    return f"(SELECT {cols or 'NULL AS empty'} WHERE false)"
