"""Numbers as people read them, one rule per column format (money, percent, integer, ...).

Why here: the KPI cards, chart axes, tooltips and the table must agree on one rule per format;
``percent`` always means a 0-1 fraction shown ×100 (docs/design.md).
"""

from __future__ import annotations

import math
import re
from typing import Any

import streamlit as st

from engine.run.summary import format_value

AGG = re.compile(r"^\s*(sum|avg|min|max|median)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.I)
AXIS = {"money": "$,.0f", "percent": ".0%", "integer": ",d", "number": ",.2~f"}
TOOLTIP = {"money": "$,.2f", "percent": ".1%", "integer": ",d", "number": ",.2f"}


def show(value: Any, fmt: str | None) -> str:
    """One value for a KPI card or a sentence (booleans read Yes/No, nulls an em dash)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, bool) or fmt == "boolean":
        return "Yes" if bool(value) else "No"
    if fmt in ("date", "datetime") and hasattr(value, "isoformat"):
        return value.isoformat()[:10] if fmt == "date" else str(value)[:19]
    if fmt == "money" and isinstance(value, (int, float)) and abs(value) >= 1_000_000:
        return f"${value / 1_000_000:,.2f}M"
    if fmt == "money" and isinstance(value, (int, float)) and abs(value) >= 10_000:
        return f"${value:,.0f}"
    return format_value(value, fmt)


def show_delta(delta: float, value: Any, fmt: str | None) -> str:
    """A delta at the precision of the value it sits under: ``+$1,234`` under ``$56,789``, not
    ``+$1,234.56``; a signed number either way."""
    sign = "-" if delta < 0 else "+"
    if fmt == "money" and isinstance(value, (int, float)) and abs(value) >= 10_000 and abs(delta) < 1_000_000:
        return f"{sign}${abs(delta):,.0f}"
    return sign + show(abs(delta), fmt)


def humanize(name: str) -> str:
    """``unit_count`` -> ``Unit count``; ``sum(amount)`` -> ``Amount``; ``count(*)`` -> ``Count``."""
    daily = re.match(r"^avg_daily\((.+)\)$", name.strip())
    if daily:
        return "Average daily " + humanize(daily.group(1)).lower()
    match = AGG.match(name)
    if match:
        name = match.group(2) if match.group(1).lower() == "sum" else f"{match.group(1)} {match.group(2)}"
    if name.strip().lower() in ("count(*)", "count(1)"):
        return "Count"
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def expr_format(expr: str, columns: dict[str, Any], default: str | None = None) -> str | None:
    """The format of a column or of a simple aggregate of one (``sum(amount)`` -> amount's)."""
    if expr in columns:
        return getattr(columns[expr], "format", None)
    daily = re.match(r"^avg_daily\((.+)\)$", expr.strip())
    if daily:
        return expr_format(daily.group(1), columns, default)
    match = AGG.match(expr)
    if match and match.group(2) in columns:
        return getattr(columns[match.group(2)], "format", None)
    if expr.strip().lower().startswith(("count(", "count_if(")):
        return "integer"
    return default


def column_config(name: str, doc: Any, vocabulary: Any = None) -> Any:
    """A Streamlit column config: label, help text (the column's description) and number format;
    a column the vocabulary defines takes its label and definition from there."""
    from dashboards.labels import words

    term = vocabulary.for_column(name) if vocabulary is not None else None
    label, fmt = (term.label if term else words(name)), getattr(doc, "format", None)
    help_text = (term.means if term else None) or getattr(doc, "description", None)
    if fmt == "money":
        return st.column_config.NumberColumn(label, help=help_text, format="dollar")
    if fmt == "percent":
        return st.column_config.NumberColumn(label, help=help_text, format="percent")
    if fmt == "integer":
        return st.column_config.NumberColumn(label, help=help_text, format="localized")
    if fmt == "number":
        return st.column_config.NumberColumn(label, help=help_text, format="%.2f")
    if fmt == "boolean":
        return st.column_config.CheckboxColumn(label, help=help_text)
    if fmt == "date":
        return st.column_config.DateColumn(label, help=help_text, format="YYYY-MM-DD")
    if fmt == "datetime":
        return st.column_config.DatetimeColumn(label, help=help_text, format="YYYY-MM-DD HH:mm")
    return st.column_config.TextColumn(label, help=help_text)
