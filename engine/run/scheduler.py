"""Which spec runs when: independent specs of the graph at the same time, a thread each.

The runner gives the specs in their sequential order (topological, layer then name) and the
upstream edges; the scheduler starts every spec whose selected upstreams all committed, in that
order's priority, as long as fewer than ``threads`` specs are running. A failed spec skips its
downstream only ("upstream failed: ..."); the specs that do not depend on it go on. A stop
request (Ctrl-C, SIGTERM) starts nothing new: what has not started is skipped as not started,
and the running specs finish (their Spark jobs are cancelled by the interrupt guard, so they
fail fast).

With ``threads=1`` nothing runs on another thread and the order is exactly the sequential
runner's: each scan starts the first spec in order whose upstreams are done, skipping the ones
a failure blocked on the way — the same spec sequence, the same report lines.

No Spark here: :mod:`engine.run.spec_threads` gives each thread its own session; this module
is a pure function of the graph, tested on a fake one.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

AUTO_MAX_THREADS = 4  # "auto": one spec per core, at most this many (docs/design.md, "Concurrent specs")
POLL_SECONDS = 0.2  # how often the waiting scheduler looks at a stop request


def auto_threads(cores: int | None = None) -> int:
    """``threads: auto``: one spec per core Spark has, at most :data:`AUTO_MAX_THREADS`."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(AUTO_MAX_THREADS, cores))


def resolve_threads(value: int | str | None, cores: int | None = None) -> int:
    """A ``threads`` setting (a number, ``auto`` or None = auto) as a number of specs at once."""
    if value is None or value == "auto":
        return auto_threads(cores)
    return max(1, int(value))


@dataclass
class Outcome:
    """What the scheduler did: the specs that did not commit, and in which order they started."""

    broken: set[str] = field(default_factory=set)
    started: list[str] = field(default_factory=list)


def run_graph(order: list[str], upstream: Mapping[str, set[str]], work: Callable[[str, int], bool], *,
              threads: int = 1, stop: Callable[[], bool] = lambda: False,
              skip: Callable[[str, str, bool], None] = lambda name, reason, shown: None,
              spawn: Callable[[Callable[[], None], str], threading.Thread] | None = None) -> Outcome:
    """Run ``work(name, slot)`` for every spec of ``order``; True from it means committed.

    ``upstream`` may name specs outside ``order`` (committed before this run: not waited for).
    ``skip(name, reason, shown)`` records a spec that will not run (``shown``: report a line, as
    for a failed upstream; a spec not started because of a stop is recorded quietly). ``slot`` is
    the number (0 .. threads-1) of the free place the spec took, for per-thread resources such
    as a Spark scheduler pool. ``spawn`` makes the thread (default: a daemon ``threading.Thread``).
    An exception escaping ``work`` stops new starts, lets the running specs finish and is
    re-raised here.
    """
    return _Scheduler(order, upstream, work, max(1, threads), stop, skip, spawn or _thread).run()


def _thread(target: Callable[[], None], name: str) -> threading.Thread:
    return threading.Thread(target=target, name=name, daemon=True)


class _Scheduler:
    def __init__(self, order: list[str], upstream: Mapping[str, set[str]], work: Callable[[str, int], bool],
                 threads: int, stop: Callable[[], bool], skip: Callable[[str, str, bool], None],
                 spawn: Callable[[Callable[[], None], str], threading.Thread]):
        selected = set(order)
        self.order = order
        self.needs = {name: set(upstream.get(name, set())) & selected for name in order}
        self.work, self.threads, self.stop, self.skip, self.spawn = work, threads, stop, skip, spawn
        self.pending = list(order)
        self.done: set[str] = set()
        self.running: dict[str, int] = {}  # spec -> slot
        self.finished: queue.Queue[tuple[str, bool, BaseException | None]] = queue.Queue()
        self.outcome = Outcome()
        self.error: BaseException | None = None

    def run(self) -> Outcome:
        while self.pending or self.running:
            if self.stop() or self.error is not None:
                self._skip_pending()
            else:
                self._start_ready()
            if self.running:
                self._wait()
            elif self.pending and not self._startable():  # cannot happen for a DAG in topological order
                raise RuntimeError(f"no spec can start: {', '.join(self.pending)}")
        if self.error is not None:
            raise self.error
        return self.outcome

    def _startable(self) -> bool:
        return any(self.needs[n] <= self.done or self.needs[n] & self.outcome.broken for n in self.pending)

    def _skip_pending(self) -> None:
        for name in self.pending:
            if self.error is None:
                self.skip(name, "not started: the run was interrupted", False)
            else:
                self.skip(name, "not started: the run stopped on an internal error", False)
            self.outcome.broken.add(name)
        self.pending.clear()

    def _start_ready(self) -> None:
        """Scan in sequential order: skip what a failure blocks, start what is ready, until full."""
        for name in list(self.pending):
            if len(self.running) >= self.threads:
                return
            blocked = self.needs[name] & self.outcome.broken
            if blocked:
                self.pending.remove(name)
                self.outcome.broken.add(name)
                self.skip(name, f"upstream failed: {', '.join(sorted(blocked))}", True)
            elif self.needs[name] <= self.done:
                self.pending.remove(name)
                self._start(name)

    def _start(self, name: str) -> None:
        slot = min(set(range(self.threads)) - set(self.running.values()))
        self.running[name] = slot
        self.outcome.started.append(name)
        if self.threads == 1:  # sequential: on the calling thread, exactly as before
            self._call(name, slot)
        else:
            self.spawn(lambda: self._call(name, slot), f"medallion-{name}").start()

    def _call(self, name: str, slot: int) -> None:
        try:
            ok, error = bool(self.work(name, slot)), None
        except BaseException as exc:  # noqa: BLE001 - handed to the scheduling thread
            ok, error = False, exc
        self.finished.put((name, ok, error))

    def _wait(self) -> None:
        """Take one finished spec (and any others already finished); wake up for stop requests."""
        try:
            item = self.finished.get(timeout=POLL_SECONDS)
        except queue.Empty:
            return
        while True:
            name, ok, error = item
            del self.running[name]
            (self.done if ok else self.outcome.broken).add(name)
            if error is not None and self.error is None:
                self.error = error
            try:
                item = self.finished.get_nowait()
            except queue.Empty:
                return
