"""The column rule of the ``sql`` step: a whole query resolved by sqlglot against the frames.

sqlglot's qualifier resolves every column of the query (joins, CTEs, subqueries, ``*``) against
the spec's frames, so a misspelt column is reported at its line inside the SQL block; the
query's scopes then give each output column's origins (column-level lineage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from engine.plan.columns import Col, Frame, Origin, find, sql_schema
from engine.plan.expressions import DIALECT, ExpressionError, parse, spark_type
from engine.spec.suggest import did_you_mean

if TYPE_CHECKING:
    from engine.plan.check import SpecScope


def sql(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    views = dict(scope.frames)
    if frame is not None or scope.current_name is not None:
        views["previous"] = frame
    try:
        tree = parse(step.query, "query")
    except ExpressionError as exc:
        scope.error(("query",), str(exc))
        return None
    for problem in tree.problems:
        scope.error(("query",), problem)
    ctes = {str(c.alias).lower() for c in tree.tree.find_all(exp.CTE)}
    tables = {str(t.name) for t in tree.tree.find_all(exp.Table)}
    known = {n.lower(): n for n in views}
    for table in sorted(tables):
        if table.lower() not in ctes and table.lower() not in known:
            scope.error(("query",), f"unknown frame '{table}' in the query{did_you_mean(table, views)}"
                                    f" (frames: {', '.join(views)})", needle=table)
    used = [known[t.lower()] for t in tables if t.lower() in known]
    if any(views[t] is None for t in used) or len(used) < len([t for t in tables if t.lower() not in ctes]):
        return None
    schema = sql_schema({t: views[t] for t in used})
    try:
        qualified = qualify(tree.tree.copy(), schema=schema, dialect=DIALECT, quote_identifiers=False)
        typed = annotate_types(qualified, schema=schema, dialect=DIALECT)
    except OptimizeError as exc:
        name = _column_in(str(exc))
        pool = {c: None for t in used for c in views[t]}
        scope.error(("query",), f"unknown column '{name}' in the query{did_you_mean(name, pool)}"
                    if name else f"query: {exc}", needle=name)
        return None
    except SqlglotError:
        return None
    case = {c.lower(): c for t in used for c in views[t]}
    case.update({str(a.alias).lower(): str(a.alias) for a in tree.tree.find_all(exp.Alias)})
    try:
        root = build_scope(typed)
    except SqlglotError:
        root = None
    lowered = {t.lower(): views[t] for t in used}
    lineage = _sql_lineage(root, lowered)
    out: Frame = {}
    passed = _passed_through(root, lowered)
    for item in typed.selects:
        name = case.get(item.alias_or_name.lower(), item.alias_or_name)
        body = item.this if isinstance(item, exp.Alias) else item
        same = passed.get(item.alias_or_name.lower())
        if same is not None and same.expr:  # a column of an earlier step: keep how that step made it
            out[name] = Col(spark_type(item) or same.type, same.sources, same.expr, same.line)
        else:
            out[name] = Col(spark_type(item), lineage.get(item.alias_or_name.lower(), frozenset()),
                            body.sql(DIALECT), scope.line(("query",)))
    return out


def _passed_through(root: Scope | None, views: dict[str, Frame]) -> dict[str, Col]:
    """Output columns that are a bare column of a view in the top-level FROM (``p.revenue``)."""
    out: dict[str, Col] = {}
    for item in getattr(root.expression, "selects", []) if root else []:
        body = item.this if isinstance(item, exp.Alias) else item
        if isinstance(body, exp.Column):
            source = root.sources.get(body.table)
            frame = views.get(str(source.name).lower()) if isinstance(source, exp.Table) else None
            key = find(frame, str(body.name)) if frame else None
            if key is not None:
                out[item.alias_or_name.lower()] = frame[key]
    return out


def _column_in(message: str) -> str | None:
    for marker in ("Unknown column: ", "Column '"):
        if marker in message:
            return message.split(marker, 1)[1].split("'")[0].strip('"` ')
    return None


def _sql_lineage(root: Scope | None, views: dict[str, Frame]) -> dict[str, frozenset[Origin]]:
    """Output column (lower case) -> origins, following CTEs and subqueries to the views."""
    if root is None:
        return {}

    def trace(scope: Scope, column: str, depth: int = 0) -> set[Origin]:
        if depth > 20:
            return set()
        if scope.union_scopes:
            return set().union(*(trace(s, column, depth + 1) for s in scope.union_scopes))
        found: set[Origin] = set()
        for item in getattr(scope.expression, "selects", []):
            if item.alias_or_name.lower() != column:
                continue
            for ref in item.find_all(exp.Column):
                source = scope.sources.get(ref.table)
                if isinstance(source, exp.Table):
                    frame = views.get(str(source.name).lower()) or {}
                    key = find(frame, str(ref.name))
                    if key is not None:
                        found |= frame[key].sources
                elif isinstance(source, Scope):
                    found |= trace(source, str(ref.name).lower(), depth + 1)
        return found

    return {item.alias_or_name.lower(): frozenset(trace(root, item.alias_or_name.lower()))
            for item in getattr(root.expression, "selects", [])}
