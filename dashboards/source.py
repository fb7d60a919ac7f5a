"""Where the dashboards read from: the profile's warehouse, with bound parameters.

Why not ``Workspace.warehouse.query``: it takes SQL text only, and user input must travel as
parameters. This module opens the same warehouse the profile names (DuckDB file, PostgreSQL or
Redshift, with the engine's own connection helpers and secrets) and runs :class:`dashboards.sql.Sql`.
Every failure becomes a :class:`WarehouseUnavailable` or :class:`QueryFailed` with one readable
sentence, so a page shows a message, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from dashboards.sql import Sql, render


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached or does not exist yet (the whole app is affected)."""


class QueryFailed(RuntimeError):
    """One query failed (e.g. a table that has not been built yet)."""


@dataclass
class Source:
    """A warehouse the dashboards query: a dialect and a way to run parameterised SQL."""

    dialect: str
    describe: str
    workspace: Any = None
    path: Path | None = None

    def query(self, sql: Sql) -> pd.DataFrame:
        """Rows of one parameterised statement as a DataFrame (decimals as floats)."""
        text, params = render(sql, self.dialect)
        if self.dialect == "duckdb":
            frame = self._duckdb(text, params)
        elif self.dialect == "postgres":
            frame = self._postgres(text, params)
        else:
            frame = self._redshift(text, params)
        return _plain(frame)

    def _duckdb(self, text: str, params: tuple) -> pd.DataFrame:
        import duckdb

        if self.path is None or not self.path.is_file():
            raise WarehouseUnavailable(f"no warehouse at {self.path} yet: run `medallion run` first")
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise WarehouseUnavailable(f"cannot open the warehouse {self.path}: {_first_line(exc)} "
                                       "(a run may be refreshing it; reload in a moment)") from None
        try:
            return con.execute(text, list(params)).df()
        except duckdb.Error as exc:
            raise QueryFailed(_first_line(exc)) from None
        finally:
            con.close()

    def _postgres(self, text: str, params: tuple) -> pd.DataFrame:
        import psycopg

        from engine.errors import MedallionError
        from engine.io.postgres import open_connection

        try:
            conn = open_connection(self.workspace.project.profile.warehouse, self.workspace.secrets)
        except MedallionError as exc:
            raise WarehouseUnavailable(str(exc)) from None
        try:
            with conn:
                cursor = conn.execute(text, params)
                columns = [d.name for d in cursor.description or []]
                return pd.DataFrame(cursor.fetchall(), columns=columns)
        except psycopg.OperationalError as exc:
            raise WarehouseUnavailable(f"PostgreSQL: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise QueryFailed(_first_line(exc)) from None

    def _redshift(self, text: str, params: tuple) -> pd.DataFrame:
        from engine.errors import MedallionError

        warehouse = self.workspace.warehouse
        try:
            conn = warehouse.connect()  # the engine's TLS + secret handling
        except MedallionError as exc:
            raise WarehouseUnavailable(str(exc)) from None
        try:
            cursor = conn.cursor()
            cursor.execute(text, params)
            columns = [d[0] for d in cursor.description or []]
            return pd.DataFrame([tuple(r) for r in cursor.fetchall()], columns=columns)
        except Exception as exc:  # noqa: BLE001 - driver errors become one message
            raise QueryFailed(_first_line(exc)) from None
        finally:
            try:
                conn.rollback()
                conn.close()
            except Exception:  # noqa: BLE001
                pass


def open_source(workspace: Any) -> Source:
    """The profile's warehouse as a :class:`Source` (nothing is connected yet)."""
    from engine.spec.project import DuckDbWarehouse as DuckDbConfig

    cfg = workspace.project.profile.warehouse
    if isinstance(cfg, DuckDbConfig):
        path = workspace.project.path(cfg.path)
        return Source("duckdb", f"DuckDB {path}", workspace, path)
    where = f"{cfg.host}:{cfg.port}/{cfg.database}"
    if cfg.kind == "postgres":
        return Source("postgres", f"PostgreSQL {where}", workspace)
    return Source("redshift", f"Redshift {where}", workspace)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Decimal columns (PostgreSQL numeric) as floats, so charts and formats treat them as numbers."""
    for col in frame.columns:
        if frame[col].dtype == object:
            sample = frame[col].dropna()
            if len(sample) and all(isinstance(v, Decimal) for v in sample.head(50)):
                frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame
