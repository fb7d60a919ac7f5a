"""Step executors, registered by step type (one line each).

Executors take the validated step model, the input frame (None for steps that name their own
inputs) and the spec's :class:`~engine.steps.context.StepContext`; they return a frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.steps.combine import run_aggregate, run_join, run_sql, run_union, run_window
from engine.steps.calendar import run_calendar
from engine.steps.clv import run_clv_model
from engine.steps.jdbc import run_jdbc
from engine.steps.parse import run_hmac, run_parse
from engine.steps.quality import run_quality
from engine.steps.read import run_read
from engine.steps.transform import (run_cast, run_dedupe, run_derive, run_filter, run_map_values, run_rename,
                                    run_select, run_trim)

Executor = Callable[[Any, Any, Any], Any]

EXECUTORS: dict[str, Executor] = {
    "read": run_read,
    "jdbc": run_jdbc,
    "select": run_select,
    "rename": run_rename,
    "cast": run_cast,
    "derive": run_derive,
    "trim": run_trim,
    "map_values": run_map_values,
    "filter": run_filter,
    "dedupe": run_dedupe,
    "join": run_join,
    "aggregate": run_aggregate,
    "window": run_window,
    "union": run_union,
    "sql": run_sql,
    "parse": run_parse,
    "quality": run_quality,
    "hmac": run_hmac,
    "calendar": run_calendar,
    "clv_model": run_clv_model,
}
