"""Spark SQL expressions checked without Spark: parsed by sqlglot's Spark dialect.

Why sqlglot: it parses Spark SQL, knows which functions are aggregates and can resolve the
columns of a whole query (joins, CTEs, subqueries, ``*``), so a misspelt column or an unknown
function is reported by ``medallion validate`` at its line in well under a second, instead of
by Spark's analyser 50 seconds later. Function names sqlglot does not model are checked against
the function list of the Spark release we run on (``spark_functions.txt``, kept in step with
Spark by a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.errors import ParseError

from engine.spec.suggest import did_you_mean



class SparkSql(Spark):
    """sqlglot's Spark dialect with the result types Spark really gives where sqlglot differs.

    ``trunc(date, 'MM')`` is a DATE in Spark (sqlglot types it as a timestamp), which matters for
    the typed rows of spec tests and for lineage output.
    """

    ANNOTATORS = {**Spark.ANNOTATORS,
                  exp.DateTrunc: lambda self, e: self._annotate_with_type(e, exp.DataType.Type.DATE)}


DIALECT = SparkSql()
_FUNCTIONS_FILE = Path(__file__).with_name("spark_functions.txt")


@lru_cache(maxsize=1)
def spark_functions() -> frozenset[str]:
    """Built-in function names of Spark (lower case), from ``SHOW FUNCTIONS`` of the release."""
    return frozenset(line.strip().lower() for line in _FUNCTIONS_FILE.read_text().splitlines() if line.strip())


class ExpressionError(ValueError):
    """An expression that cannot run; the message is ready for a ``file:line:`` prefix."""


@dataclass
class Parsed:
    """One parsed expression and the problems found in it that do not depend on columns."""

    tree: exp.Expression
    problems: list[str] = field(default_factory=list)


@lru_cache(maxsize=4096)
def _parse(text: str, kind: str) -> exp.Expression:
    if kind == "query":
        return sqlglot.parse_one(text, read=DIALECT)
    return sqlglot.parse_one(f"SELECT {text}", read=DIALECT).selects[0]


def parse(text: str, kind: str = "expression") -> Parsed:
    """Parse an expression (``kind='expression'``), an ORDER BY item (``'order'``) or a query."""
    try:
        if kind == "order":
            tree = sqlglot.parse_one(f"SELECT 1 ORDER BY {text}", read=DIALECT).args["order"].expressions[0]
        else:
            tree = _parse(text, kind).copy()
    except ParseError as exc:
        detail = exc.errors[0]["description"] if exc.errors else str(exc)
        raise ExpressionError(f"cannot parse {text!r}: {detail}") from None
    return Parsed(tree, unknown_functions(tree))


def unknown_functions(tree: exp.Expression) -> list[str]:
    """``unknown function 'x' (did you mean …?)`` for every call Spark does not have."""
    known = spark_functions()
    out = []
    for node in tree.find_all(exp.Anonymous):
        name = str(node.name).lower()
        if name not in known:
            out.append(f"unknown function '{node.name}'{did_you_mean(name, known)}")
    return out


def aggregates(tree: exp.Expression) -> list[exp.AggFunc]:
    """Aggregate calls that are not inside a window (``sum(x) OVER (...)`` is not an aggregate)."""
    return [node for node in tree.find_all(exp.AggFunc) if not isinstance(node.parent, exp.Window)]


def column_refs(tree: exp.Expression) -> list[exp.Column]:
    """Unqualified column references, minus lambda parameters (``x`` in ``x -> x + 1``)."""
    params = {str(p.name).lower() for lam in tree.find_all(exp.Lambda) for p in lam.expressions}
    return [c for c in tree.find_all(exp.Column)
            if not c.table and str(c.name).lower() not in params and not isinstance(c.this, exp.Star)]


def output_name(tree: exp.Expression) -> str:
    """The column name Spark gives a select item (its alias, or the column it names)."""
    return tree.alias_or_name


_T = exp.DataType.Type
_SIMPLE = {_T.BOOLEAN: "boolean", _T.TINYINT: "tinyint", _T.SMALLINT: "smallint", _T.INT: "int",
           _T.BIGINT: "bigint", _T.FLOAT: "float", _T.DOUBLE: "double", _T.VARCHAR: "string", _T.TEXT: "string",
           _T.DATE: "date", _T.TIMESTAMP: "timestamp", _T.BINARY: "binary"}


def spark_type(node: exp.Expression) -> str | None:
    """The annotated type as Spark type text (``decimal(20,2)``), or None when unknown."""
    kind = getattr(node, "type", None)
    if kind is None or kind.this == exp.DataType.Type.UNKNOWN:
        return None
    if not kind.expressions and kind.this in _SIMPLE:  # no SQL generation for the common types
        return _SIMPLE[kind.this]
    text = kind.sql(DIALECT).lower().replace(", ", ",")
    if text == "decimal":  # sqlglot lost the precision (decimal arithmetic): unknown beats a wrong scale
        return None
    return {"varchar": "string", "text": "string"}.get(text, text)


def sql_type(kind: str | None) -> str:
    """A Spark type for sqlglot's schema (``unknown`` when we do not know it)."""
    return kind or "unknown"
