"""The one registry of step types: model, executor and column inference, one line each.

A step type is its pydantic model (pure data, keyed by its ``type`` literal), the function that
runs it on Spark and the function that derives its output columns without Spark (used by
``medallion validate``, lineage and the reference). Executors and inference functions are named
as ``module:function`` and imported on first use, so loading specs never imports Spark.

To add a step type: write its model (``engine/spec/``), its executor (``engine/steps/``), its
column rule (``engine/plan/columns.py``), and add one ``StepType`` line below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib import import_module
from typing import Annotated, Any, Callable, Union

from pydantic import Field

from engine.spec.clv import ClvModelStep
from engine.spec.quality import CalendarStep, HmacStep, ParseStep, QualityStep
from engine.spec.step_base import StepBase
from engine.spec.steps import (AggregateStep, CastStep, DedupeStep, DeriveStep, FilterStep, JdbcStep, JoinStep,
                               MapValuesStep, ReadStep, RenameStep, SelectStep, SqlStep, TrimStep, UnionStep,
                               WindowStep)


def _load(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


@dataclass(frozen=True)
class StepType:
    """One step type: its model, and where its executor and column rule live."""

    model: type[StepBase]
    executor: str
    columns: str | None = None

    @property
    def name(self) -> str:
        """The ``type:`` value that selects this step in a spec."""
        return self.model.model_fields["type"].annotation.__args__[0]

    @cached_property
    def run(self) -> Callable[..., Any]:
        """The executor ``(step, frame, ctx) -> frame`` (imports Spark)."""
        return _load(self.executor)

    @cached_property
    def infer(self) -> Callable[..., Any] | None:
        """The column rule ``(step, frame_columns, checker) -> columns``, or None (unknown output)."""
        return _load(self.columns) if self.columns else None


_S, _C = "engine.steps", "engine.plan.columns"
REGISTRY: tuple[StepType, ...] = (
    StepType(ReadStep, f"{_S}.read:run_read", f"{_C}:read"),
    StepType(JdbcStep, f"{_S}.jdbc:run_jdbc", f"{_C}:jdbc"),
    StepType(SelectStep, f"{_S}.transform:run_select", f"{_C}:select"),
    StepType(RenameStep, f"{_S}.transform:run_rename", f"{_C}:rename"),
    StepType(CastStep, f"{_S}.transform:run_cast", f"{_C}:cast"),
    StepType(DeriveStep, f"{_S}.transform:run_derive", f"{_C}:derive"),
    StepType(TrimStep, f"{_S}.transform:run_trim", f"{_C}:trim"),
    StepType(MapValuesStep, f"{_S}.transform:run_map_values", f"{_C}:map_values"),
    StepType(FilterStep, f"{_S}.transform:run_filter", f"{_C}:filter_"),
    StepType(DedupeStep, f"{_S}.transform:run_dedupe", f"{_C}:dedupe"),
    StepType(JoinStep, f"{_S}.combine:run_join", f"{_C}:join"),
    StepType(AggregateStep, f"{_S}.combine:run_aggregate", f"{_C}:aggregate"),
    StepType(WindowStep, f"{_S}.combine:run_window", f"{_C}:window"),
    StepType(UnionStep, f"{_S}.combine:run_union", f"{_C}:union"),
    StepType(SqlStep, f"{_S}.combine:run_sql", "engine.plan.sql_columns:sql"),
    StepType(ParseStep, f"{_S}.parse:run_parse", f"{_C}:parse_"),
    StepType(QualityStep, f"{_S}.quality:run_quality", f"{_C}:quality"),
    StepType(HmacStep, f"{_S}.parse:run_hmac", f"{_C}:hmac"),
    StepType(CalendarStep, f"{_S}.calendar:run_calendar", f"{_C}:calendar"),
    StepType(ClvModelStep, f"{_S}.clv:run_clv_model", f"{_C}:clv_model"),
)
STEP_TYPES: dict[str, StepType] = {t.name: t for t in REGISTRY}

Step = Annotated[Union[tuple(t.model for t in REGISTRY)], Field(discriminator="type")]  # type: ignore[valid-type]
"""A step of any registered type (the discriminated union specs are validated with)."""
