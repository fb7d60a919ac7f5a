"""Can a silver/gold spec be recomputed by part? Which steps force a full pass, and why.

A spec with ``incremental: {by: C}`` or ``{affected_keys: K}`` is recomputed on a subset S of
its grain values (dates from a start on, or a set of entities): the inputs that carry the grain
columns (the *driving* inputs) are read only for S, every other input (a *lookup*) is read
whole, and the output rows for S replace the committed rows for S. That is exact only when no
output row of S depends on input rows outside S. Walking the steps without Spark (the column
rules of :mod:`engine.plan.columns` give each step's input columns), every step on a frame
derived from a driving input must keep the grain columns as they are and must not look across
grain values:

- row-wise steps (filter, derive, select, parse, ...) may not rewrite, rename or drop a grain column;
  a change of case is no rename, and with ``affected_keys`` a ``trim`` of a key is followed: the
  input rows of an output key are then chosen by their trimmed value (``Locality.key_steps``);
- ``aggregate`` must group by, ``window`` partition by, ``dedupe`` and ``unique`` key on every grain
  column (a ``percent_rank()`` over all customers looks at every customer);
- a ``join`` of two driving frames must join on the grain; a driving frame joined to a lookup
  must be the side whose rows are kept (inner/left/semi/anti with it on the left);
- ``sql`` steps and custom steps (``calendar``, ``clv_model``) over a driving frame are not
  analysed, so they cost a full pass.

The first step that breaks a rule is named in the result: the runner recomputes the spec fully
and writes the reason to the run record ("full pass: step 7 (window) percent_rank() over all
rows, not partitioned by user_id").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.plan.columns import Frame, find

ROW_WISE = {"filter", "derive", "select", "rename", "cast", "trim", "map_values", "parse", "hmac"}
_FUNC = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


@dataclass
class Locality:
    """The analysis: which inputs are read by part, or why the spec needs a full pass."""

    grain: list[str]
    driving: set[str] = field(default_factory=set)
    full_pass: str | None = None
    # affected_keys: for a driving input, the trims its grain values go through before they are
    # the output's (input alias -> grain column -> trim functions in order; absent: unchanged)
    key_steps: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)


def analyse(loaded: Any, inputs: dict[str, Frame | None]) -> Locality:
    """Decide how ``loaded`` (a spec with a silver/gold ``incremental:``) can be recomputed."""
    from engine.plan.check import SpecScope  # a cycle at import time otherwise
    from engine.spec.registry import STEP_TYPES

    spec = loaded.spec
    grain = spec.incremental.grain
    result = Locality(grain)
    unknown = sorted(a for a, f in inputs.items() if f is None)
    if unknown:
        result.full_pass = f"the columns of input {', '.join(unknown)} are not known"
        return result
    result.driving = {a for a, f in inputs.items() if all(find(f, g) for g in grain)}  # type: ignore[arg-type]
    if not result.driving:
        result.full_pass = f"no input has column(s) {', '.join(grain)}"
        return result
    if spec.conservation and spec.conservation not in result.driving:
        result.full_pass = f"conservation input '{spec.conservation}' has no column {', '.join(grain)}"
        return result
    scope = SpecScope(loaded, frames=dict(inputs))
    kinds: dict[str, bool] = {a: a in result.driving for a in inputs}  # frame name -> derived from a driving input
    keyed = spec.incremental.affected_keys is not None
    trims: dict[str, KeySteps] = {a: {a: {}} for a in result.driving}  # frame name -> its inputs' key trims
    previous: Frame | None = inputs[next(iter(spec.inputs))] if len(spec.inputs) == 1 else None
    prev_kind = kinds[next(iter(spec.inputs))] if len(spec.inputs) == 1 else False
    prev_trims: KeySteps = trims.get(next(iter(spec.inputs)), {}) if len(spec.inputs) == 1 else {}
    for i, step in enumerate(spec.steps):
        scope.index = i
        source = scope.frames.get(step.input) if step.input else previous
        source_kind = kinds.get(step.input, False) if step.input else prev_kind
        source_trims = trims.get(step.input, {}) if step.input else prev_trims
        reason, out_kind = _check(step, source, source_kind, kinds, scope, grain, keyed)
        out_trims = _trims_after(step, source, source_trims, trims, grain)
        rule = STEP_TYPES[step.type].infer
        out = rule(step, source, scope) if rule else None
        if reason is None and out_kind and (out is None or not all(find(out, g) for g in grain)):
            reason = ("leaves columns that are not known before a run" if out is None
                      else f"drops {', '.join(g for g in grain if not find(out, g))}")
        if reason is not None:
            result.full_pass = f"step {i + 1} ({step.type}) {reason}"
            return result
        previous, prev_kind, prev_trims = out, out_kind, out_trims
        if step.as_:
            scope.frames[step.as_], kinds[step.as_], trims[step.as_] = out, out_kind, out_trims
    if not prev_kind:
        result.full_pass = f"the output is not derived from an input with column(s) {', '.join(grain)}"
    result.key_steps = {a: {g: tuple(t) for g, t in by_grain.items() if t} for a, by_grain in prev_trims.items()}
    result.key_steps = {a: steps for a, steps in result.key_steps.items() if steps}
    return result


KeySteps = dict[str, dict[str, list[str]]]  # input alias -> grain column -> trims so far


def _trims_after(step: Any, source: Frame | None, source_trims: KeySteps, trims: dict[str, KeySteps],
                 grain: list[str]) -> KeySteps:
    """Which trims the grain values of each driving input have gone through after ``step``.

    A trim maps two raw keys (' L1', 'L1') to one output key, so the input rows of an output key
    are chosen by the trimmed value; steps before the trim group by the raw value, a finer
    partition, so every group still lies inside one part (docs/design.md)."""
    if step.type == "join":
        left = trims.get(step.left, {}) if step.left else source_trims
        return _merged(left, trims.get(step.right, {}))
    if step.type == "union":
        out: KeySteps = {}
        for name in step.inputs:
            out = _merged(out, trims.get(name, {}))
        return out
    if step.type != "trim" or not source_trims:
        return source_trims
    names = step.columns if step.columns is not None else [
        c for c, col in (source or {}).items() if (col.type or "string") == "string"]
    hit = [g for g in grain if g.lower() in _lower(names)]
    func = "blank_as_null" if step.blank_as_null else "trim"
    return {a: {g: list(by_grain.get(g, [])) + ([func] if g in hit else []) for g in grain}
            for a, by_grain in source_trims.items()}


def _merged(a: KeySteps, b: KeySteps) -> KeySteps:
    return {**a, **b}


def _lower(names: Any) -> set[str]:
    return {str(n).lower() for n in names or []}


def _covers(columns: Any, grain: list[str]) -> bool:
    return _lower(grain) <= _lower(columns)


def _across(grain: list[str]) -> str:
    return "all rows" if len(grain) > 1 else f"all {grain[0]} values"


def _check(step: Any, source: Frame | None, driving: bool, kinds: dict[str, bool], scope: Any,
           grain: list[str], keyed: bool = False) -> tuple[str | None, bool]:
    """(why this step breaks the recomputation by part, or None; is its output driving)."""
    g = ", ".join(grain)

    def without(columns: Any) -> str:
        return ", ".join(c for c in grain if c.lower() not in _lower(columns))

    if step.type == "join":
        left = kinds.get(step.left, False) if step.left else driving
        right = kinds.get(step.right, False)
        if left and right and not _covers(step.on, grain):
            return f"joins two frames read by {g} on ({', '.join(step.on)}) without {without(step.on)}", True
        if left != right and not ((left and step.how in ("inner", "left", "semi", "anti"))
                                  or (right and step.how in ("inner", "right"))):
            return (f"a {step.how} join keeps rows of the frame read whole that no recomputed row "
                    "matches", True)
        return None, left or right
    if step.type == "union":
        return None, any(kinds.get(n, False) for n in step.inputs)
    if step.type == "sql":
        used = [n for n, k in kinds.items() if k and re.search(rf"\b{re.escape(n)}\b", step.query)]
        if used:
            return f"is a sql query over {', '.join(used)}: sql is not analysed", True
        return None, False
    if step.type == "quality":
        return _check_quality(step, driving, kinds, grain), driving
    if step.type == "parse" and not driving:
        return f"quarantines rows of a frame read whole (not by {g})", False
    read_by_part = [ref for _, ref in step.frame_refs() if kinds.get(ref, False)]
    if not driving and not read_by_part:
        return None, False
    if not driving:
        return f"reads {', '.join(read_by_part)} (read by {g}): type {step.type} is not analysed", True
    lowered = _lower(grain)
    if step.type in ROW_WISE:
        return _row_wise(step, source, lowered, g, keyed), True
    if step.type == "dedupe":
        if step.keys is not None and not _covers(step.keys, grain):
            return f"keeps one row per ({', '.join(step.keys)}) across {_across(grain)}", True
        return None, True
    if step.type == "aggregate":
        if not _covers(step.group_by, grain):
            by = (f"groups by ({', '.join(step.group_by)}) without {without(step.group_by)}" if step.group_by
                  else "aggregates over all rows")
            return by, True
        return None, True
    if step.type == "window":
        if not _covers(step.partition_by, grain):
            funcs = sorted({m.lower() + "()" for e in step.columns.values() for m in _FUNC.findall(e)})
            over = (f"over all rows, not partitioned by {g}" if not step.partition_by else
                    f"partitioned by ({', '.join(step.partition_by)}) without {without(step.partition_by)}")
            return f"{', '.join(funcs) or 'a window'} {over}", True
        return None, True
    return f"is not analysed for recomputation by {g}", True


def _row_wise(step: Any, source: Frame | None, grain: set[str], g: str, keyed: bool = False) -> str | None:
    touched: set[str] = set()
    if step.type == "rename":  # a change of case only keeps the column (Spark resolves names either way)
        touched = {n for old, new in step.columns.items() for n in (old.lower(), new.lower()) if old.lower() != new.lower()}
    elif step.type in ("derive", "cast", "parse"):
        touched = _lower(step.columns)
    elif step.type == "map_values":
        touched = _lower([step.target or step.column])
    elif step.type == "hmac":
        touched = _lower([step.column, step.token_column, step.last_digits_column])
    elif step.type == "trim" and not keyed:  # affected_keys: the part is chosen by the trimmed key
        names = step.columns if step.columns is not None else [
            c for c, col in (source or {}).items() if (col.type or "string") == "string"]
        touched = _lower(names)
    elif step.type == "select":
        for item in step.columns:
            alias = re.search(r"\bAS\s+`?([A-Za-z_][A-Za-z0-9_]*)`?\s*$", item, re.IGNORECASE)
            if alias and alias[1].lower() in grain and item.strip().lower().split()[0] != alias[1].lower():
                touched.add(alias[1].lower())
    hit = sorted(touched & grain)
    if hit:
        verb = {"rename": "renames", "trim": "trims"}.get(step.type, "rewrites")
        return f"{verb} {', '.join(hit)}, the column the recomputed part is chosen by ({g})"
    return None


def _check_quality(step: Any, driving: bool, kinds: dict[str, bool], grain: list[str]) -> str | None:
    g = ", ".join(grain)
    if not driving:
        if any(r.rule == "exists_in" and kinds.get(r.frame, False) for r in step.rules):
            return f"checks a frame read whole against a frame read by {g}"
        quarantines = any(r.action == "quarantine" for r in step.rules)
        return f"quarantines rows of a frame read whole (not by {g})" if quarantines else None
    for rule in step.rules:
        if rule.rule == "unique" and not _covers(rule.columns, grain):
            return f"rule unique({', '.join(rule.columns)}) compares rows across {_across(grain)}"
        if rule.rule == "exists_in" and kinds.get(rule.frame, False):
            if not _covers(rule.columns, grain) or rule.frame_columns is not None:
                return f"rule exists_in looks up frame '{rule.frame}', read by {g}, without {g}"
    return None
