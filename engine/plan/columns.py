"""The columns each step type produces, derived without Spark (one rule per registered step).

A frame is an ordered ``column -> Col`` mapping (type, origins, expression), or None when its
columns cannot be known before a run (a Parquet read without ``columns:``, say); checks that
need columns are skipped downstream of an unknown frame rather than guessed. Every rule reports
problems through the :class:`~engine.plan.check.SpecScope` it is given, at the YAML line of the
field at fault, and returns the step's output frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.schema import MappingSchema

from engine.plan.expressions import DIALECT, ExpressionError, output_name, parse, spark_type, sql_type

if TYPE_CHECKING:
    from engine.plan.check import SpecScope

Origin = tuple[str, str]  # (lake table or "file:<path>", column)


@dataclass(frozen=True)
class Col:
    """One column: Spark type (None: unknown), where its values come from, how it was computed."""

    type: str | None
    sources: frozenset[Origin] = field(default_factory=frozenset)
    expr: str | None = None
    line: int | None = None


Frame = dict[str, Col]


def find(frame: Frame, name: str) -> str | None:
    """The column of ``frame`` called ``name`` (Spark resolves names case-insensitively)."""
    if name in frame:
        return name
    lowered = name.lower()
    return next((c for c in frame if c.lower() == lowered), None)


def _sources(frame: Frame, names: list[str]) -> frozenset[Origin]:
    out: set[Origin] = set()
    for name in names:
        key = find(frame, name)
        if key is not None:
            out |= frame[key].sources
    return frozenset(out)


def check_names(scope: "SpecScope", frame: Frame | None, names: list[str], where: tuple) -> None:
    """Each listed column must exist in the frame."""
    if frame is None:
        return
    for j, name in enumerate(names):
        if find(frame, name) is None:
            loc = (*where, j) if isinstance(names, list) and len(names) > 1 else where
            scope.unknown_column(name, frame, loc)


def expression(scope: "SpecScope", text: str, frame: Frame | None, where: tuple, *,
               aggregate: bool | None = None, kind: str = "expression") -> Col:
    """Check one expression on ``frame``; ``aggregate``: True must aggregate, False must not."""
    try:
        parsed = parse(str(text), kind)
    except ExpressionError as exc:
        scope.error(where, str(exc))
        return Col(None)
    for problem in parsed.problems:
        scope.error(where, problem)
    aggs = [a for a in parsed.tree.find_all(exp.AggFunc) if not isinstance(a.parent, exp.Window)]
    if aggregate is False and aggs:
        scope.error(where, f"aggregate {aggs[0].sql(DIALECT)} is not allowed here (use an aggregate step, "
                           "or a window step for a running value)")
    if aggregate is True and not aggs and not isinstance(parsed.tree, exp.Literal):
        scope.error(where, f"metric {text!r} has no aggregate function (e.g. sum, count, max); "
                           "a grouped column belongs in group_by")
    for agg in aggs:
        if any(inner is not agg for inner in agg.find_all(exp.AggFunc)):
            scope.error(where, f"aggregate inside an aggregate in {agg.sql(DIALECT)}")
    if frame is None:
        return Col(None, frozenset(), str(text))
    params = {str(p.name).lower() for lam in parsed.tree.find_all(exp.Lambda) for p in lam.expressions}
    names = []
    for ref in parsed.tree.find_all(exp.Column):
        if isinstance(ref.this, exp.Star) or str(ref.name).lower() in params:
            continue
        name = str(ref.table or ref.name)  # a.b: a struct column a (single-frame expressions)
        if find(frame, name) is None:
            scope.unknown_column(name, frame, where)
        else:
            names.append(name)
    tree = parsed.tree
    if isinstance(tree, exp.Column) and names:  # a plain column: its type is known, no inference needed
        kind = frame[find(frame, names[0])].type
    else:
        kind = _annotate(tree, frame)
    return Col(kind, _sources(frame, names), str(text), scope.line(where))


@lru_cache(maxsize=256)
def _data_type(kind: str | None) -> exp.DataType:
    try:
        return exp.DataType.build(sql_type(kind), dialect=DIALECT)
    except SqlglotError:
        return exp.DataType.build("unknown")


def sql_schema(tables: dict[str, Frame]) -> MappingSchema:
    """A sqlglot schema without its per-name parsing (names are matched lower-case here)."""
    mapping = {t.lower(): {c.lower(): _data_type(v.type) for c, v in f.items()} for t, f in tables.items()}
    return MappingSchema(mapping, dialect=DIALECT, normalize=False)


def _annotate(tree: exp.Expression, frame: Frame) -> str | None:
    """The expression's type from the frame's column types (None when sqlglot cannot tell)."""
    try:
        tree = tree.copy()
        for ref in tree.find_all(exp.Column):
            if not ref.table and isinstance(ref.this, exp.Identifier):
                ref.set("this", exp.to_identifier(str(ref.name).lower()))
                ref.set("table", exp.to_identifier("__f"))
        select = exp.select(tree).from_("__f")
        used = {str(ref.name) for ref in tree.find_all(exp.Column)}  # a schema of just these: cheap
        needed = {c: v for c, v in frame.items() if c.lower() in used}
        return spark_type(annotate_types(select, schema=sql_schema({"__f": needed}), dialect=DIALECT).selects[0])
    except (SqlglotError, KeyError, ValueError, AttributeError):
        return None


def _passthrough(frame: Frame | None) -> Frame | None:
    return None if frame is None else dict(frame)


# ---- one rule per step type (named in engine/spec/registry.py) ----

METADATA = {"_ingested_at": "timestamp", "_source_file": "string", "_run_id": "string"}


def read(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    if not step.columns:
        return None
    origin = f"file:{step.path}"
    out = {c: Col(t.lower(), frozenset({(origin, c)})) for c, t in step.columns.items()}
    if step.add_metadata:
        out.update({c: Col(t, frozenset()) for c, t in METADATA.items()})
    return out


def jdbc(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    if not step.columns:
        return None
    out = {c: Col(None, frozenset({(f"jdbc:{step.table}", c)})) for c in step.columns}
    if step.add_metadata:
        out.update({c: Col(t, frozenset()) for c, t in METADATA.items()})
    return out


def select(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    out: Frame = {}
    for j, text in enumerate(step.columns):
        if str(text).strip() == "*":
            if frame is None:
                return None
            out.update(frame)
            continue
        col = expression(scope, text, frame, ("columns", j), aggregate=False)
        try:
            name = output_name(parse(str(text)).tree)
        except ExpressionError:
            continue
        source = find(frame, name) if frame is not None else None
        passthrough = source is not None and str(text).strip().strip("`").lower() == name.lower()
        out[source if passthrough else name] = frame[source] if passthrough else col
    return None if frame is None else out


def rename(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    if frame is None:
        return None
    for old in step.columns:
        if find(frame, old) is None:
            scope.unknown_column(old, frame, ("columns", old))
    mapping = {find(frame, o): n for o, n in step.columns.items()}
    return {mapping.get(c, c): v for c, v in frame.items()}


def cast(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    if frame is None:
        return None
    out = dict(frame)
    for name, kind in step.columns.items():
        key = find(frame, name)
        if key is None:
            scope.unknown_column(name, frame, ("columns", name))
        else:
            out[key] = Col(kind.lower(), frame[key].sources, f"CAST({key} AS {kind})", scope.line(("columns", name)))
    return out


def derive(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    out = _passthrough(frame)
    for name, text in step.columns.items():
        col = expression(scope, text, out, ("columns", name), aggregate=False)
        if out is not None:
            out[find(out, name) or name] = col
    return out


def trim(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    check_names(scope, frame, step.columns or [], ("columns",))
    return _passthrough(frame)


def map_values(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    if frame is None:
        return None
    key = find(frame, step.column)
    if key is None:
        scope.unknown_column(step.column, frame, ("column",))
        return dict(frame)
    out = dict(frame)
    out[step.target or key] = Col(frame[key].type, frame[key].sources, f"map_values({key})", scope.line(("mapping",)))
    return out


def filter_(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    expression(scope, step.condition, frame, ("condition",), aggregate=False)
    return _passthrough(frame)


def dedupe(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    check_names(scope, frame, step.keys or [], ("keys",))
    for j, item in enumerate(step.order_by or []):
        expression(scope, item, frame, ("order_by", j), aggregate=False, kind="order")
    return _passthrough(frame)


def join(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    left = scope.frames.get(step.left) if step.left else frame
    right = scope.frames.get(step.right)
    for side, name, other in (("left", step.left or scope.current_name, left), ("right", step.right, right)):
        if other is None:
            continue
        for key in step.on:
            if find(other, key) is None:
                scope.unknown_column(key, other, ("on",), frame_name=name)
    if left is None or right is None:
        return None
    if step.how in ("anti", "semi"):
        return dict(left)
    keys = {k.lower() for k in step.on}
    clash = sorted({c for c in left if c.lower() not in keys} & {c for c in right})
    if clash:
        scope.error(("right",), f"join: both sides have column(s) {', '.join(clash)}; rename or drop them on "
                                "one side first")
    out = dict(left)
    for key in step.on:
        lk, rk = find(left, key), find(right, key)
        if lk and rk:
            out[lk] = Col(left[lk].type, left[lk].sources | right[rk].sources)
    out.update({c: v for c, v in right.items() if c.lower() not in keys})
    return out


def aggregate(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    check_names(scope, frame, step.group_by, ("group_by",))
    out: Frame = {}
    if frame is not None:
        out.update({find(frame, g) or g: frame.get(find(frame, g) or g, Col(None)) for g in step.group_by})
    for name, text in step.metrics.items():
        out[name] = expression(scope, text, frame, ("metrics", name), aggregate=True)
    return None if frame is None else out


def window(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    check_names(scope, frame, step.partition_by, ("partition_by",))
    for j, item in enumerate(step.order_by):
        expression(scope, item, frame, ("order_by", j), aggregate=False, kind="order")
    out = _passthrough(frame)
    for name, text in step.columns.items():
        col = expression(scope, text, frame, ("columns", name))
        if out is not None:
            out[name] = col
    return out


def union(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    frames = [scope.frames.get(n) for n in step.inputs]
    if any(f is None for f in frames):
        return None
    first = frames[0]
    out = dict(first)
    for j, other in enumerate(frames[1:], 1):
        ours, theirs = {c.lower() for c in out}, {c.lower() for c in other}
        if ours != theirs and not step.allow_missing_columns:
            diff = sorted((ours ^ theirs))
            scope.error(("inputs", j), f"union: '{step.inputs[j]}' and '{step.inputs[0]}' differ in column(s) "
                                       f"{', '.join(diff)} (set allow_missing_columns: true to fill with nulls)")
        for c, v in other.items():
            key = find(out, c)
            out[key or c] = Col(out[key].type if key else v.type, (out[key].sources if key else frozenset()) | v.sources)
    return out


def parse_(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    if frame is None:
        return None
    out: Frame = {}
    for name, col in frame.items():
        how = step.columns.get(name)
        out[how.rename or name if how else name] = Col(how.type.lower(), col.sources, f"parse {name} as {how.type}",
                                                       scope.line(("columns", name))) if how else col
    for name in step.columns:
        if find(frame, name) is None:
            scope.unknown_column(name, frame, ("columns", name))
    return out


def quality(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    for j, rule in enumerate(step.rules):
        where = ("rules", j)
        if rule.rule == "expression":
            expression(scope, rule.condition, frame, (*where, "condition"), aggregate=False)
            continue
        names = list(getattr(rule, "columns", None) or [rule.column])
        check_names(scope, frame, names, (*where, "columns" if hasattr(rule, "columns") else "column"))
        if rule.rule == "exists_in":
            other = scope.frames.get(rule.frame)
            check_names(scope, other, rule.frame_columns or names, (*where, "frame_columns"))
    return _passthrough(frame)


def hmac(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    if frame is None:
        return None
    key = find(frame, step.column)
    if key is None:
        scope.unknown_column(step.column, frame, ("column",))
        return dict(frame)
    out = dict(frame)
    out[step.token_column] = Col("string", frame[key].sources, f"hmac_sha256({key})", scope.line(("token_column",)))
    if step.last_digits_column:
        out[step.last_digits_column] = Col("string", frame[key].sources, f"last {step.last_digits} of {key}")
    if not step.keep_source:
        del out[key]
    return out


CALENDAR = {"date": "date", "year": "int", "month": "int", "week": "int", "day_of_week": "string",
            "is_weekend": "boolean", "is_holiday": "boolean", "holiday_name": "string"}


def calendar(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    other = scope.frames.get(step.dates_from)
    check_names(scope, other, [step.date_column], ("date_column",))
    return {c: Col(t, (frame or {}).get(c, Col(None)).sources) for c, t in CALENDAR.items()}


def clv_model(step: Any, frame: Frame | None, scope: "SpecScope") -> Frame | None:
    if frame is None:
        return None
    names = [n for n in (step.columns.frequency, step.columns.recency, step.columns.T, step.columns.monetary) if n]
    check_names(scope, frame, names, ("columns",))
    origin = _sources(frame, names)
    out = dict(frame)
    out.update({name: Col("string" if role == "model" else "double", origin, f"clv_model {role}")
                for role, name in step.output_columns.items()})  # the model's name, then numbers
    return out
