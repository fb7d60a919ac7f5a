"""``medallion validate`` for dashboard blocks: the models, then every cross-reference.

Why here and not in the engine: the engine treats ``dashboard:`` as an opaque mapping and stays
generic; this module registers itself as a check (:mod:`engine.spec.extensions`) when the
dashboards plugin loads. Every error is ``file:line: message (did you mean ...?)``: unknown keys,
unknown chart types, columns the spec does not document (also inside SQL expressions),
``part_of`` targets that are no page, and vocabulary terms that are not defined.
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.errors import SpecError, SpecErrors
from engine.spec.suggest import did_you_mean

from dashboards.chart_models import is_column
from dashboards.schema import Dashboard
from dashboards.vocabulary import Vocabulary, load_vocabulary


class _Within:
    """A YAML document seen from one of its keys (errors keep the file's line numbers)."""

    def __init__(self, doc: Any, prefix: tuple[Any, ...]):
        self.doc, self.prefix = doc, prefix

    def error(self, loc: tuple[Any, ...], message: str) -> SpecError:
        return self.doc.error((*self.prefix, *loc), message)


def parse_block(raw: Any, doc: Any) -> Dashboard:
    """The validated block of one spec; raises SpecError/SpecErrors located in the spec file."""
    from engine.spec.validate_errors import validate_model

    try:
        return validate_model(Dashboard, raw, _Within(doc, ("dashboard",)), prefix=("dashboard",))
    except SpecError as exc:
        found = [_reworded(e) for e in (exc.errors if isinstance(exc, SpecErrors) else [exc])]
        raise (found[0] if len(found) == 1 else SpecErrors(found)) from None


def _reworded(err: SpecError) -> SpecError:
    """The engine's messages speak of steps; in a dashboard block a tag is a chart or block type."""
    from dashboards.chart_models import CHART_MODELS

    charts = {m.model_fields["type"].annotation.__args__[0] for m in CHART_MODELS}
    message = err.message
    if message.startswith("unknown step type"):
        known = message.rsplit("known: ", 1)[-1] if "known: " in message else ""
        noun = "chart type" if any(c in message for c in charts) or not known else "block type"
        message = message.replace("step type", noun, 1)
    return SpecError(message, path=err.path, line=err.line)


def expression_columns(expr: str) -> list[str]:
    """The column names a SQL expression reads (``sum(CASE WHEN s = 'a' THEN v END)`` -> s, v)."""
    import sqlglot
    from sqlglot import exp

    if is_column(expr):
        return [expr.strip()]
    text = expr.strip()
    inner = text[len("avg_daily("):-1] if text.startswith("avg_daily(") and text.endswith(")") else text
    try:
        tree = sqlglot.parse_one(inner, read="duckdb")
    except sqlglot.errors.ParseError:
        return []  # not parseable here: the warehouse reports it on the page
    return sorted({c.name for c in tree.find_all(exp.Column) if not c.table})


def references(board: Dashboard) -> Iterator[tuple[tuple[Any, ...], str, bool]]:
    """(location in the block, text, is an expression) for everything that names columns."""
    for i, kpi in enumerate(board.kpis):
        for key in ("value", "delta", "only_if"):
            value = getattr(kpi, key)
            if value and value != "previous_period":
                yield ("kpis", i, key), value, True
    for i, chart in enumerate(board.charts):
        for key in ("x", "color", "size", "label"):
            value = chart.opt(key)
            if value:
                yield ("charts", i, key), value, not is_column(value)
        y = chart.opt("y")
        for j, value in enumerate(chart.ys if chart.type != "heatmap" else [chart.y]):
            where = ("charts", i, "y", j) if isinstance(y, list) else ("charts", i, "y")
            yield where, value, not is_column(value)
        for key in ("where", "value", "only_if"):
            if chart.opt(key):
                yield ("charts", i, key), chart.opt(key), True
        n = chart.opt("n")
        if n is not None:
            yield ("charts", i, "n", "count"), n.count, True
    for i, block in enumerate(board.blocks):
        for key in ("value", "condition"):
            if getattr(block, key, None):
                yield ("blocks", i, key), getattr(block, key), True
        for side in ("rule", "model"):
            measure = getattr(block, side, None)
            if measure is not None and measure.table is None:
                yield ("blocks", i, side, "value"), measure.value, True
    for i, f in enumerate(board.filter_list):
        yield ("filters", i), f.column, False
    if board.table:
        for i, col in enumerate(board.table.columns or []):
            yield ("table", "columns", i), col, False
        for col, _ in board.table.sort_keys:
            yield ("table", "sort"), col, False
        if board.table.first:
            yield ("table", "first"), board.table.first, True
    if board.time:
        yield ("time",), board.time, False


def check_board(board: Dashboard, columns: list[str], doc: Any, pages: list[str],
                vocabulary: Vocabulary) -> list[SpecError]:
    """Cross-references of one validated block; empty when all resolve."""
    where = _Within(doc, ("dashboard",))
    errors: list[SpecError] = []
    known = set(columns)
    for loc, text, is_expr in references(board) if columns else []:
        for column in (expression_columns(text) if is_expr else [text]):
            if column not in known:
                hint = did_you_mean(column, columns)
                errors.append(where.error(loc, f"dashboard.{'.'.join(map(str, loc))}: unknown column "
                                               f"'{column}'{hint}"))
    if board.part_of and board.part_of not in pages:
        errors.append(where.error(("part_of",), f"dashboard.part_of: no page for '{board.part_of}'"
                                                f"{did_you_mean(board.part_of, pages)}"))
    for i, block in enumerate(board.blocks):  # a model report read from another page's run record
        source = getattr(block, "spec", None)
        if source and source not in pages:
            errors.append(where.error(("blocks", i, "spec"), f"dashboard.blocks.{i}.spec: no page for '{source}'"
                                                              f"{did_you_mean(source, pages)}"))
    terms = [(("kpis", i, "term"), k.term) for i, k in enumerate(board.kpis) if k.term]
    terms += [(("blocks", i, side, "term"), getattr(b, side).term) for i, b in enumerate(board.blocks)
              for side in ("rule", "model") if getattr(b, side, None) is not None and getattr(b, side).term]
    for loc, ref in terms:
        name, _, value = ref.partition(".")
        term = vocabulary.terms.get(name)
        if term is None:
            errors.append(where.error(loc, f"dashboard.{'.'.join(map(str, loc))}: unknown term '{name}'"
                                           f"{did_you_mean(name, vocabulary.terms)} (defined in vocabulary.yaml)"))
        elif value and value not in term.values:
            errors.append(where.error(loc, f"dashboard.{'.'.join(map(str, loc))}: '{name}' has no value "
                                           f"'{value}'{did_you_mean(value, term.values)}"))
    return errors


def blocks_of(graph: Any) -> Iterator[tuple[str, Any]]:
    """(spec name, loaded spec) for every spec with a dashboard block."""
    for name, loaded in graph.specs.items():
        if loaded.spec.dashboard is not None:
            yield name, loaded


def check_project(graph: Any, project: Any) -> list[SpecError]:
    """Every dashboard block of the graph (and the vocabulary), as located errors."""
    errors: list[SpecError] = []
    try:
        vocabulary = load_vocabulary(project.root, project.variables)
    except SpecError as exc:
        errors.extend(exc.errors if isinstance(exc, SpecErrors) else [exc])
        vocabulary = Vocabulary()
    boards = {}
    for name, loaded in blocks_of(graph):
        try:
            boards[name] = parse_block(loaded.spec.dashboard, loaded.doc)
        except SpecError as exc:
            errors.extend(exc.errors if isinstance(exc, SpecErrors) else [exc])
    pages = [graph.specs[n].spec.output.table for n, b in boards.items() if not b.part_of]
    for name, board in boards.items():
        loaded = graph.specs[name]
        errors.extend(check_board(board, list(loaded.spec.columns), loaded.doc, pages, vocabulary))
    return errors


def register() -> None:
    """Make ``medallion validate`` run :func:`check_project`."""
    from engine.spec.extensions import register_check

    register_check("dashboard", check_project)
