"""Ctrl-C and SIGTERM that stop a run the way a user means it.

PySpark installs its own SIGINT handler when the SparkContext starts: each press cancels the
running jobs and fails only the spec that was running, so the run moved on to the next spec
("7 ok, 2 failed" after two presses). A run needs the opposite: the first SIGINT or SIGTERM
(what Glue and container runtimes send) cancels the running Spark jobs, lets the runner mark
the run ``interrupted`` with its resume command and release the lock; a second signal exits at
once. The guard is installed after the Spark session exists, so it replaces PySpark's handler,
and it restores whatever was there before when the run ends.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, Callable

from engine.errors import RunError

EXIT_INTERRUPTED = 130


class RunInterrupted(RunError):
    """The run was stopped by SIGINT/SIGTERM; never retried, exit code 130."""

    exit_code = EXIT_INTERRUPTED


class InterruptGuard:
    """Turns the first SIGINT/SIGTERM into a request to stop; the second exits immediately.

    ``cancel`` is called from the handler (PySpark's own handler does the same call): it cancels
    the Spark jobs that are running so the blocked call returns within seconds.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, cancel: Callable[[], None] | None = None,
                 on_request: Callable[[str], None] | None = None,
                 hard_exit: Callable[[int], Any] = os._exit):
        self.cancel = cancel
        self.on_request = on_request
        self.hard_exit = hard_exit
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self.signal_name is not None

    def check(self) -> None:
        """Raise :class:`RunInterrupted` if a stop was asked for (between units of work)."""
        if self.requested:
            raise RunInterrupted(f"interrupted by {self.signal_name}")

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            sys.stderr.write(f"\n{name} again: exiting now\n")
            sys.stderr.flush()
            self.hard_exit(EXIT_INTERRUPTED)
            return
        self.signal_name = name
        if self.on_request is not None:
            self.on_request(name)
        if self.cancel is not None:
            try:
                self.cancel()
            except Exception:  # noqa: BLE001 - a stop must never fail because cancelling did
                pass

    def __enter__(self) -> "InterruptGuard":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def spark_canceller(spark: Any) -> Callable[[], None]:
    """Cancel every running job of the session (the one used by the runner's guard)."""
    return lambda: spark.sparkContext.cancelAllJobs()
