"""Fault injection for the failure tests: make a chosen spec fail in a chosen way.

Given on the command line as ``--inject-fault SPEC=KIND[:COUNT]`` (hidden from help), so the
tests drive real processes through real failures: ``transient`` and ``terminal`` raise before
the spec's work, ``kill`` sends SIGKILL to the process after the table's files are written but
before its commit — the worst moment for a crash — and ``commit_error`` raises at that moment;
``kill_mid_commit`` dies after the table's pointer switched but before its side tables' did.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

from engine.errors import TerminalError, TransientError, UsageError

KINDS = ("transient", "terminal", "kill", "commit_error", "kill_mid_commit")


@dataclass
class FaultPlan:
    """Remaining faults per spec: kind and how many more times to inject it."""

    faults: dict[str, list] = field(default_factory=dict)

    @classmethod
    def parse(cls, items: list[str]) -> "FaultPlan":
        """``SPEC=KIND[:COUNT]`` strings into a plan."""
        plan = cls()
        for item in items:
            spec, sep, rest = item.partition("=")
            kind, _, count = rest.partition(":")
            if not sep or kind not in KINDS or (count and not count.isdigit()):
                raise UsageError(f"--inject-fault '{item}' must be SPEC=KIND[:COUNT], KIND one of {', '.join(KINDS)}")
            plan.faults[spec] = [kind, int(count or 1)]
        return plan

    def _take(self, spec: str, kinds: tuple[str, ...]) -> str | None:
        entry = self.faults.get(spec)
        if not entry or entry[0] not in kinds or entry[1] <= 0:
            return None
        entry[1] -= 1
        return entry[0]

    def before_attempt(self, spec: str) -> None:
        """Raise the injected error for this attempt, if any."""
        kind = self._take(spec, ("transient", "terminal"))
        if kind == "transient":
            raise TransientError(f"injected transient fault in {spec}")
        if kind == "terminal":
            raise TerminalError(f"injected terminal fault in {spec}")

    def before_commit(self, spec: str) -> None:
        """Die like a crashed process: files written, pointer not yet switched."""
        kind = self._take(spec, ("kill", "commit_error"))
        if kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "commit_error":
            raise TerminalError(f"injected failure before the commit of {spec}")

    def mid_commit(self, spec: str) -> None:
        """Die between the main table's pointer switch and its side tables' (one commit, torn)."""
        if self._take(spec, ("kill_mid_commit",)):
            os.kill(os.getpid(), signal.SIGKILL)
