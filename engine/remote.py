"""Remote executors: a profile may run its specs somewhere else (e.g. AWS), through a plugin.

The engine stays free of any cloud tooling: a plugin package registers an executor under a
name (from its ``medallion.commands`` entry point, which the CLI loads at start), and a profile
that declares ``executor: <name>`` has ``run``, ``run --resume``, ``runs`` and ``validate``
dispatched to it. An operator's machine then needs no Spark: the executor starts the work
where the data is and reads the run store there.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from engine.errors import UsageError
from engine.spec.suggest import did_you_mean


class RemoteExecutor(Protocol):
    """What a remote executor does for the CLI (``ws`` is the opened Workspace)."""

    def validate(self, ws: Any, say: Callable[[str], None]) -> None:
        """Check what the remote side needs of the specs; raise SpecError(s) at file:line."""

    def run(self, ws: Any, select: list[str] | None, resume: str | None, say: Callable[[str], None]) -> int:
        """Start a run (or the reload of a failed one) remotely; returns the exit code."""

    def runs(self, ws: Any, run_id: str | None, say: Callable[[str], None]) -> None:
        """Show the remote runs, or one run's per-spec state."""


_EXECUTORS: dict[str, Callable[[], RemoteExecutor]] = {}


def register_executor(name: str, factory: Callable[[], RemoteExecutor]) -> None:
    """Make ``executor: name`` in a profile mean ``factory()`` (called by plugins when loaded)."""
    _EXECUTORS[name] = factory


def executor_for(project: Any) -> RemoteExecutor | None:
    """The executor the project's profile declares, or None for an in-process (local Spark) run."""
    name = getattr(project.profile, "executor", None)
    if name is None:
        return None
    if name not in _EXECUTORS:
        raise UsageError(f"profile '{project.profile_name}' runs on executor '{name}', which no installed "
                         f"plugin provides{did_you_mean(name, _EXECUTORS)}")
    return _EXECUTORS[name]()
