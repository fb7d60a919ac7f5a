"""Where the dashboards read from: the profile's warehouse, with bound parameters.

The workspace builds the warehouse adapter from the profile (DuckDB file, PostgreSQL or
Redshift: engine/io/warehouse.py's registry), and every adapter's ``query`` takes bound
parameters in its own dialect, so this module only renders :class:`dashboards.sql.Sql` for that
dialect and turns failures into one readable sentence: :class:`WarehouseUnavailable` (the
warehouse cannot be reached or does not exist yet) or :class:`QueryFailed` (one statement
failed), so a page shows a message, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from dashboards.sql import Sql, render


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached or does not exist yet (the whole app is affected)."""


class QueryFailed(RuntimeError):
    """One query failed (e.g. a table that has not been built yet)."""


@dataclass
class Source:
    """A warehouse the dashboards query: its dialect, a description, and the adapter."""

    dialect: str
    describe: str
    warehouse: Any

    def query(self, sql: Sql) -> pd.DataFrame:
        """Rows of one parameterised statement as a DataFrame (decimals as floats)."""
        from engine.errors import MedallionError, QueryFailed as EngineQueryFailed

        text, params = render(sql, self.dialect)
        try:
            columns, rows = self.warehouse.query(text, params)
        except EngineQueryFailed as exc:
            raise QueryFailed(str(exc).removeprefix("query failed: ")) from None
        except MedallionError as exc:
            raise WarehouseUnavailable(str(exc)) from None
        return _plain(pd.DataFrame([tuple(r) for r in rows], columns=columns))


def open_source(workspace: Any) -> Source:
    """The profile's warehouse as a :class:`Source` (nothing is connected yet)."""
    from engine.errors import MedallionError

    try:
        warehouse = workspace.warehouse.reader()  # the read-only login when the profile has one
    except MedallionError as exc:
        raise WarehouseUnavailable(str(exc)) from None
    return Source(warehouse.dialect, warehouse.describe(), warehouse)


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
