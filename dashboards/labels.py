"""What a reader sees instead of column names: labels, value labels, colours and formats.

Why one place: a chart axis, a legend, a KPI and a table header must call ``churn_status``
the same thing ("Customer status (rule + model)") and ``at_risk`` the same value ("At risk"). A
column the vocabulary defines takes its label and colours from there; any other column reads
as words with its units spelled out (``growth_90d_pct`` -> "Growth 90 days (%)").
"""

from __future__ import annotations

import re
from typing import Any

from dashboards.formatting import expr_format, humanize

UNITS = [(r"\bpct\b", "(%)"), (r"\b(\d+)d\b", r"\1 days"), (r"\bavg\b", "average"), (r"\baov\b", "AOV"),
         (r"\bclv\b", "CLV"), (r"\bid\b", "ID"), (r"\brfm\b", "RFM"), (r"\bprev\b", "previous")]


def words(name: str) -> str:
    """``growth_90d_pct`` -> ``Growth 90 days (%)``; aggregates as :func:`humanize` reads them."""
    text = humanize(name)
    for pattern, repl in UNITS:
        text = re.sub(pattern, repl, text, flags=re.I)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:1].upper() + text[1:]


class Labels:
    """Labels of one page's columns under the project vocabulary."""

    def __init__(self, columns: dict[str, Any], vocabulary: Any):
        self.columns, self.vocabulary = columns, vocabulary

    def axis(self, expr: str | None) -> str:
        """The label of a column or aggregate (a defined column uses its term's label)."""
        if not expr:
            return ""
        term = self.vocabulary.for_column(expr.strip())
        if term:
            return term.label
        match = re.match(r"^\s*(sum|avg|min|max)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", expr, re.I)
        if match and self.vocabulary.for_column(match.group(2)):
            inner = self.vocabulary.for_column(match.group(2)).label
            return inner if match.group(1).lower() == "sum" else f"{match.group(1).capitalize()} {inner}"
        return words(expr)

    def help(self, column: str) -> str | None:
        """The column's description (or its term's definition)."""
        term = self.vocabulary.for_column(column)
        doc = self.columns.get(column)
        return (term.means if term else None) or getattr(doc, "description", None)

    def value(self, column: str | None, value: Any) -> Any:
        """A readable value: defined labels, Yes/No for booleans, '(none)' for nulls."""
        if value is None or value is pd_na() or (isinstance(value, float) and value != value):
            return "(none)"
        if value is True or value is False:
            return "Yes" if value else "No"
        return self.vocabulary.value_label(column, value)

    def colors(self, column: str | None, given: dict[str, str] | None) -> dict[str, str]:
        """Label -> colour: the block's own colours (by raw value) or the vocabulary's."""
        if given:
            return {str(self.value(column, k)): v for k, v in given.items()}
        return self.vocabulary.colors(column)

    def format(self, expr: str, default: str | None = None) -> str | None:
        """The column format behind an expression."""
        return expr_format(expr, self.columns, default)


def pd_na() -> Any:
    import pandas as pd

    return pd.NA
