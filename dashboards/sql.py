"""Parameterised SQL for the dashboards, portable over DuckDB, PostgreSQL and Redshift.

Why a tiny builder instead of f-strings: every value a user picks (a date, a category) travels
as a bound parameter, never as SQL text. Spec text (columns, aggregate expressions) is trusted
configuration from the repository; column names are still quoted. A parameter is a marker
character in the text until :func:`render` turns it into the driver's placeholder (``?`` for
DuckDB, ``%s`` for psycopg and redshift-connector, where a literal ``%`` is doubled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

MARK = "\x1f"
Dialect = str  # "duckdb" | "postgres" | "redshift"


@dataclass(frozen=True)
class Sql:
    """SQL text with parameter markers and the parameter values, in order."""

    text: str
    params: tuple[Any, ...] = field(default_factory=tuple)

    def __add__(self, other: "Sql | str") -> "Sql":
        other = other if isinstance(other, Sql) else Sql(other)
        return Sql(self.text + other.text, self.params + other.params)

    def __radd__(self, other: str) -> "Sql":
        return Sql(other) + self


def param(value: Any) -> Sql:
    """One bound value."""
    return Sql(MARK, (value,))


def join(parts: Iterable[Sql | str], sep: str) -> Sql:
    """Concatenate with a separator, keeping parameters in order."""
    out = Sql("")
    for i, part in enumerate(parts):
        out = out + (sep if i else "") + part
    return out


def ident(name: str) -> str:
    """A quoted identifier; ``layer.table`` becomes ``"layer"."table"``."""
    return ".".join('"' + p.replace('"', '""') + '"' for p in name.split("."))


def in_list(column: str, values: list[Any]) -> Sql:
    """``column IN (?, ?, ...)``; an empty list matches nothing."""
    if not values:
        return Sql("1 = 0")
    return ident(column) + " IN (" + join([param(v) for v in values], ", ") + ")"


def render(sql: Sql, dialect: Dialect) -> tuple[str, tuple[Any, ...]]:
    """The driver's text and parameters."""
    if sql.text.count(MARK) != len(sql.params):
        raise ValueError("parameter markers and values differ")
    if dialect == "duckdb":
        return sql.text.replace(MARK, "?"), sql.params
    return sql.text.replace("%", "%%").replace(MARK, "%s"), sql.params


def portable(expr: str, dialect: Dialect) -> str:
    """Rewrite the few spec functions PostgreSQL/Redshift lack: ``count_if(c)`` -> ``count(CASE ...)``."""
    if dialect == "duckdb":
        return expr
    out, i, lower = [], 0, expr.lower()
    while True:
        j = _find_call(lower, "count_if(", i)
        if j < 0:
            out.append(expr[i:])
            return "".join(out)
        end = _closing(expr, j + len("count_if("))
        inner = portable(expr[j + len("count_if("):end], dialect)
        out.append(expr[i:j] + f"count(CASE WHEN {inner} THEN 1 END)")
        i = end + 1


def _find_call(lower: str, name: str, start: int) -> int:
    j = lower.find(name, start)
    while j > 0 and (lower[j - 1].isalnum() or lower[j - 1] == "_"):
        j = lower.find(name, j + 1)
    return j


def _closing(text: str, start: int) -> int:
    """Index of the parenthesis closing the one opened just before ``start`` (quotes respected)."""
    depth, quote = 1, None
    for k in range(start, len(text)):
        ch = text[k]
        if quote:
            quote = None if ch == quote else quote
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError(f"unbalanced parentheses in: {text}")


def trunc(grain: str, column: str) -> str:
    """The start of the ``grain`` (day/week/month/quarter/year) holding ``column``, as a date."""
    return f"CAST(date_trunc('{grain}', {ident(column)}) AS DATE)"
