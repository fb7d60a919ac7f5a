"""Step executors, looked up in the one step registry (``engine/spec/registry.py``).

Executors take the validated step model, the input frame (None for steps that name their own
inputs) and the spec's :class:`~engine.steps.context.StepContext`; they return a frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.spec.registry import STEP_TYPES

Executor = Callable[[Any, Any, Any], Any]

EXECUTORS: dict[str, Executor] = {name: kind.run for name, kind in STEP_TYPES.items()}
