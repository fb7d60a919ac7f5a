"""Sidebar filters turned into parameterised WHERE conditions.

The widget follows the column's documented format: a date becomes a date range, a boolean a
Yes/No choice, text (and integers with few values) a multiselect of the values in the
warehouse, other numbers a range slider. Every chosen value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.labels import words
from dashboards.schema import Filter
from dashboards.sql import Sql, ident, in_list, join, param

MAX_OPTIONS = 500


@dataclass
class Where:
    """The active conditions by column; a table gets the ones whose column it has."""

    conditions: dict[str, Sql] = field(default_factory=dict)
    date_range: tuple[str, dt.date, dt.date] | None = None  # the time column's window, for deltas

    def sql(self, columns: list[str] | None = None, extra: list[str | Sql] | None = None,
            replace: dict[str, Sql] | None = None) -> Sql:
        """`` WHERE ...`` (or nothing) for a table with ``columns`` (None: all conditions)."""
        conds = dict(self.conditions)
        conds.update(replace or {})
        parts: list[Sql | str] = [c for col, c in conds.items() if columns is None or col in columns]
        parts += [f"({e})" if isinstance(e, str) else e for e in (extra or []) if e]
        return Sql("") if not parts else " WHERE " + join(parts, " AND ")


def _kind(f: Filter, fmt: str | None) -> str:
    if f.kind != "auto":
        return f.kind
    return {"date": "date_range", "datetime": "date_range", "boolean": "boolean",
            "number": "range", "money": "range", "percent": "range"}.get(fmt or "text", "multiselect")


def date_condition(column: str, start: dt.date, end: dt.date) -> Sql:
    """``column`` within [start, end] by calendar day (datetimes included up to the end of the day)."""
    return (f"CAST({ident(column)} AS DATE) >= " + param(start) + f" AND CAST({ident(column)} AS DATE) <= "
            + param(end))


def render_filters(filters: list[Filter], table: str, columns: dict[str, Any], key: str,
                   time: str | None = None) -> Where:
    """Draw the filters in the sidebar and return the conditions they choose."""
    where = Where()
    wanted = list(filters)
    if time and all(f.column != time for f in wanted):
        wanted.insert(0, Filter(column=time, kind="date_range"))
    for f in wanted:
        fmt = getattr(columns.get(f.column), "format", None)
        term = context.vocabulary().for_column(f.column)
        label = f.label or (term.label if term else words(f.column))
        help_text = (term.means if term else None) or getattr(columns.get(f.column), "description", None)
        wkey = f"{key}:filter:{f.column}"
        kind = _kind(f, fmt)
        if kind == "boolean":
            choice = st.sidebar.selectbox(label, ["All", "Yes", "No"], key=wkey, help=help_text)
            if choice != "All":
                where.conditions[f.column] = ident(f.column) + " = " + param(choice == "Yes")
        elif kind == "date_range":
            bounds = context.query(Sql(f"SELECT min(CAST({ident(f.column)} AS DATE)) AS lo, "
                                       f"max(CAST({ident(f.column)} AS DATE)) AS hi FROM {ident(table)}"))
            lo, hi = (_date(bounds.iloc[0, 0]), _date(bounds.iloc[0, 1])) if len(bounds) else (None, None)
            if lo is None or hi is None:
                continue
            picked = st.sidebar.date_input(label, value=(lo, hi), min_value=lo, max_value=hi, key=wkey,
                                           help=help_text)
            if isinstance(picked, (tuple, list)) and len(picked) == 2:
                start, end = picked
                if f.column == time:
                    where.date_range = (f.column, start, end)
                if (start, end) != (lo, hi):
                    where.conditions[f.column] = date_condition(f.column, start, end)
        elif kind == "range":
            bounds = context.query(Sql(f"SELECT min({ident(f.column)}) AS lo, max({ident(f.column)}) AS hi "
                                       f"FROM {ident(table)}"))
            lo, hi = (float(bounds.iloc[0, 0]), float(bounds.iloc[0, 1])) if len(bounds) and \
                bounds.notna().all(axis=None) else (None, None)
            if lo is None or lo == hi:
                continue
            start, end = st.sidebar.slider(label, min_value=lo, max_value=hi, value=(lo, hi), key=wkey,
                                           help=help_text)
            if (start, end) != (lo, hi):
                where.conditions[f.column] = (ident(f.column) + " BETWEEN " + param(start) + " AND "
                                              + param(end))
        else:
            values = context.query(Sql(f"SELECT DISTINCT {ident(f.column)} AS v FROM {ident(table)} "
                                       f"WHERE {ident(f.column)} IS NOT NULL ORDER BY 1 LIMIT {MAX_OPTIONS}"))
            options = [_py(v) for v in values["v"].tolist()]
            picked = st.sidebar.multiselect(label, options, key=wkey, help=help_text, placeholder="All",
                                            format_func=lambda v, c=f.column: str(context.vocabulary().value_label(c, v)))
            if picked:
                where.conditions[f.column] = in_list(f.column, list(picked))
    return where


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).date()


def _py(value: Any) -> Any:
    """numpy scalars as plain Python values (drivers bind those)."""
    return value.item() if hasattr(value, "item") else value
