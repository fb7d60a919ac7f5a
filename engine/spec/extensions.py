"""Checks that packages outside the engine add to ``medallion validate``.

Why a registry: a spec may carry a block the engine does not interpret (``dashboard:`` is a
free-form mapping to the engine), yet a mistake in it must still be a ``file:line: message``
from ``medallion validate``. A plugin (loaded through the ``medallion.commands`` entry point)
registers a check; ``validate`` runs every registered check over the loaded graph. The engine
never imports the plugin, so it stays generic.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.errors import SpecError

Check = Callable[[Any, Any], list[SpecError]]  # (graph, project) -> located errors
_CHECKS: dict[str, Check] = {}


def register_check(name: str, check: Check) -> None:
    """Add (or replace) the check called ``name``."""
    _CHECKS[name] = check


def extension_errors(graph: Any, project: Any) -> list[SpecError]:
    """Every registered check's errors, in registration order."""
    errors: list[SpecError] = []
    for check in _CHECKS.values():
        errors.extend(check(graph, project))
    return errors
