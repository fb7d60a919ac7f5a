"""Static checks of a whole project before Spark: columns, expressions and deploy rules.

Column schemas flow through the graph in run order: bronze specs declare theirs (``columns:``
of a read), every step derives its output by its registered column rule, and each spec's
output feeds the specs that read it. Problems come back as located SpecErrors, all of them at
once, so ``medallion validate`` reports every mistake of a project in one pass and starts no
JVM. The same propagation records where each column comes from (column-level lineage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SpecError
from engine.plan.columns import Col, Frame, find
from engine.plan.graph import Graph
from engine.spec.loader import LoadedSpec
from engine.spec.registry import STEP_TYPES
from engine.spec.suggest import did_you_mean


@dataclass
class SpecScope:
    """What a column rule sees while one spec is checked: its frames and where to report."""

    loaded: LoadedSpec
    frames: dict[str, Frame | None] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)
    index: int = 0
    current_name: str | None = None

    def _loc(self, where: tuple) -> tuple:
        return ("steps", self.index, *where)

    def line(self, where: tuple) -> int | None:
        """The YAML line of ``where`` inside the current step."""
        return self.loaded.doc.line_of(self._loc(where))

    def error(self, where: tuple, message: str, needle: str | None = None) -> None:
        """Report ``message`` at ``where``; ``needle`` finds the exact line inside a SQL block."""
        line = self.line(where)
        value = _value_at(self.loaded.doc.data, self._loc(where))
        if needle and isinstance(value, str) and "\n" in value.rstrip() and line is not None:
            pattern = re.compile(rf"\b{re.escape(needle)}\b", re.IGNORECASE)
            hit = next((i for i, text in enumerate(value.splitlines()) if pattern.search(text)), None)
            if hit is not None:
                line += 1 + hit  # a block scalar starts on the line after its key
        self.errors.append(SpecError(message, path=self.loaded.path, line=line))

    def unknown_column(self, name: str, frame: Frame, where: tuple, frame_name: str | None = None) -> None:
        """``unknown column 'x' in frame 'y' (did you mean 'z'?)``."""
        label = frame_name or self.current_name or "input"
        hint = did_you_mean(name, frame) or (f" (columns: {', '.join(frame)})" if len(frame) <= 12 else "")
        self.error(where, f"unknown column '{name}' in frame '{label}'{hint}")


def _value_at(data: Any, loc: tuple) -> Any:
    for key in loc:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


@dataclass
class ProjectSchemas:
    """Every spec's output columns (None: unknown before a run) and the problems found."""

    outputs: dict[str, Frame | None]
    errors: list[SpecError]


def input_frame(table: str, frame: Frame | None) -> Frame | None:
    """A spec output as another spec's input: each column's origin is that table's column."""
    if frame is None:
        return None
    return {c: Col(v.type, frozenset({(table, c)})) for c, v in frame.items()}


def check_spec(loaded: LoadedSpec, inputs: dict[str, Frame | None]) -> tuple[Frame | None, list[SpecError]]:
    """Propagate columns through one spec's steps; its output frame and its problems."""
    spec = loaded.spec
    scope = SpecScope(loaded, frames=dict(inputs))
    previous: Frame | None = inputs[next(iter(spec.inputs))] if len(spec.inputs) == 1 else None
    previous_name = next(iter(spec.inputs)) if len(spec.inputs) == 1 else None
    for i, step in enumerate(spec.steps):
        scope.index = i
        scope.current_name = step.input or previous_name
        source = scope.frames.get(step.input) if step.input else previous
        rule = STEP_TYPES[step.type].infer
        previous = rule(step, source, scope) if rule else None
        previous_name = step.as_ or f"step {i + 1} ({step.type})"
        if step.as_:
            scope.frames[step.as_] = previous
    _check_output(loaded, previous, scope)
    _check_incremental_inputs(loaded, inputs, scope)
    _check_tests(loaded, inputs, previous, scope)
    return previous, scope.errors


def _check_tests(loaded: LoadedSpec, inputs: dict[str, Frame | None], output: Frame | None,
                 scope: SpecScope) -> None:
    """Given rows name input columns and expected rows name output columns (typos found here)."""
    doc = loaded.doc
    for t, test in enumerate(loaded.spec.tests):
        for alias, rows in test.given.items():
            frame = inputs.get(alias)
            if frame is None:
                continue
            for r, row in enumerate(rows):
                for key in row:
                    if find(frame, str(key)) is None:
                        scope.errors.append(doc.error(("tests", t, "given", alias, r, str(key)), (
                            f"unknown column '{key}' in given '{alias}' ({loaded.spec.inputs[alias]})"
                            f"{did_you_mean(str(key), frame)}")))
        if output is None:
            continue
        for r, row in enumerate(test.expect.rows):
            for key in row:
                if find(output, str(key)) is None:
                    scope.errors.append(doc.error(("tests", t, "expect", "rows", r, str(key)), (
                        f"unknown column '{key}' in the output of {loaded.spec.name}"
                        f"{did_you_mean(str(key), output)}")))


def _check_incremental_inputs(loaded: LoadedSpec, inputs: dict[str, Frame | None], scope: SpecScope) -> None:
    """A silver/gold ``incremental:`` reads some input by part: one must carry the grain columns."""
    inc = loaded.spec.incremental
    if not inc or not inc.derived or any(f is None for f in inputs.values()):
        return
    grain = inc.grain
    if not any(all(find(f, g) for g in grain) for f in inputs.values() if f is not None):
        key = "by" if inc.by else "affected_keys"
        names = ", ".join(f"{a} ({t})" for a, t in loaded.spec.inputs.items())
        scope.errors.append(loaded.doc.error(("incremental", key), (
            f"incremental.{key} {', '.join(grain)}: no input has {'this column' if len(grain) == 1 else 'these columns'}"
            f" (inputs: {names}), so none can be read by part; name a column that comes unchanged from an "
            "input, or drop incremental:")))


def _check_output(loaded: LoadedSpec, frame: Frame | None, scope: SpecScope) -> None:
    """Keys, partitions, hints, incremental settings and documented columns name real columns."""
    if frame is None:
        return
    spec, doc = loaded.spec, loaded.doc
    label = spec.name

    def need(name: str, loc: tuple) -> None:
        if name and find(frame, name) is None:
            scope.errors.append(doc.error(loc, f"unknown column '{name}' in the output of {label}"
                                               f"{did_you_mean(name, frame)}"))

    for j, key in enumerate(spec.output.keys):
        need(key, ("output", "keys", j))
    for j, key in enumerate(spec.output.partition_by):
        need(key, ("output", "partition_by", j))
    hints = spec.output.warehouse
    if hints.distkey:
        need(hints.distkey, ("output", "warehouse", "distkey"))
    for j, key in enumerate(hints.sortkey):
        need(key, ("output", "warehouse", "sortkey", j))
    inc = spec.incremental
    if inc and not inc.derived:
        need(inc.column, ("incremental", "column"))
        for j, key in enumerate(inc.keys):
            need(key, ("incremental", "keys", j))
    if inc and inc.by:
        need(inc.by, ("incremental", "by"))
        found = find(frame, inc.by)
        kind = frame[found].type if found else None
        if kind is not None and not kind.startswith(("date", "timestamp")):
            scope.errors.append(doc.error(("incremental", "by"), (
                f"incremental.by '{inc.by}' is a {kind} column of {label}; by needs a date or timestamp "
                "(the recomputed range is a span of dates)")))
    for j, key in enumerate(inc.affected_keys or [] if inc else []):
        need(key, ("incremental", "affected_keys", j))
    for name in spec.columns:
        need(name, ("columns", name))


def check_deploy_rules(graph: Graph) -> list[SpecError]:
    """A schedule belongs on a root spec: downstream specs start when their inputs commit."""
    errors = []
    for name in graph.order:
        loaded = graph.specs[name]
        if loaded.spec.schedule and graph.upstream[name]:
            roots = sorted(n for n in graph.order if not graph.upstream[n] and graph.specs[n].spec.schedule)
            errors.append(loaded.doc.error(("schedule",), (
                f"schedule on {name}, which reads {', '.join(sorted(graph.upstream[name]))}: only a root spec "
                "(one that reads no other spec) may have a schedule; downstream specs start when their inputs "
                "are committed" + (f" (scheduled roots: {', '.join(roots)})" if roots else ""))))
    return errors


def check_project(graph: Graph) -> ProjectSchemas:
    """Every spec in run order; returns each output's columns and every problem found."""
    outputs: dict[str, Frame | None] = {}
    errors: list[SpecError] = []
    for name in graph.order:
        loaded = graph.specs[name]
        inputs = {alias: input_frame(table, outputs.get(table)) for alias, table in loaded.spec.inputs.items()}
        outputs[loaded.spec.output.table], found = check_spec(loaded, inputs)
        errors.extend(found)
    errors.extend(check_deploy_rules(graph))
    return ProjectSchemas(outputs, errors)
