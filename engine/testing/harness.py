"""Run one spec's steps on frames we hand it (test rows, preview samples); nothing is written.

The runner reads committed inputs and commits the output; authoring tools need the same step
loop on frames built in memory, so test and preview share this one.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from engine.run.failures import classify
from engine.spec.loader import LoadedSpec
from engine.steps import EXECUTORS
from engine.steps.context import StepContext


def source_names(loaded: LoadedSpec) -> list[str]:
    """The ``as`` names of the spec's source steps (read, jdbc): a test may give their rows."""
    return [s.as_ for s in loaded.spec.steps if not s.needs_input and s.type in ("read", "jdbc") and s.as_]


def run_steps(loaded: LoadedSpec, ctx: StepContext, inputs: dict[str, DataFrame],
              sources: dict[str, DataFrame] | None = None,
              on_source: Any = None) -> DataFrame:
    """Apply every step to ``inputs``; a source step named in ``sources`` yields those rows.

    ``on_source(step, frame)`` may replace what a source step read (preview samples it).
    Failures become located RunErrors, as in a run.
    """
    spec = loaded.spec
    sources = sources or {}
    ctx.frames.update(inputs)
    frame: DataFrame | None = inputs.get(next(iter(spec.inputs))) if len(spec.inputs) == 1 else None
    for i, step in enumerate(spec.steps):
        ctx.step_label = f"step {i + 1} ({step.type})"
        try:
            if step.as_ in sources and step.type in ("read", "jdbc"):
                frame = sources[step.as_]
            else:
                source = ctx.frame(step.input) if step.input else frame
                frame = EXECUTORS[step.type](step, source, ctx)
                if on_source is not None and step.type in ("read", "jdbc"):
                    frame = on_source(step, frame)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a located RunError
            err = classify(exc, ctx.step_label)
            err.path, err.line = str(loaded.path), loaded.doc.line_of(("steps", i))
            raise err from exc
        if step.as_:
            ctx.frames[step.as_] = frame
    assert frame is not None
    return frame
