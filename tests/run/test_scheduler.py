"""The scheduler's order on fake graphs (no Spark): priority, concurrency bound, failure, stop."""

from __future__ import annotations

import threading

import pytest

from engine.run.scheduler import AUTO_MAX_THREADS, auto_threads, resolve_threads, run_graph

# a -> c -> e ; b -> d ; (c, d) -> f ; g alone.  Sequential order (topological, then name):
ORDER = ["a", "b", "g", "c", "d", "e", "f"]
UP = {"a": set(), "b": set(), "g": set(), "c": {"a"}, "d": {"b"}, "e": {"c"}, "f": {"c", "d"}}


class Recorder:
    """A work function that logs start/finish events and fails the names it is told to."""

    def __init__(self, fail: set[str] = frozenset(), gate: dict[str, threading.Event] | None = None):
        self.fail, self.gate = fail, gate or {}
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.most = 0
        self.threads: dict[str, str] = {}
        self.slots: dict[str, int] = {}

    def __call__(self, name: str, slot: int) -> bool:
        with self.lock:
            self.events.append(("start", name))
            self.running.add(name)
            self.most = max(self.most, len(self.running))
            self.threads[name] = threading.current_thread().name
            self.slots[name] = slot
        if name in self.gate:
            assert self.gate[name].wait(10), f"{name} was never released"
        with self.lock:
            self.running.discard(name)
            self.events.append(("end", name))
        return name not in self.fail


def test_one_thread_is_the_sequential_order_on_the_calling_thread():
    work, skipped = Recorder(), []
    out = run_graph(ORDER, UP, work, threads=1, skip=lambda n, r, shown: skipped.append(n))
    assert out.started == ORDER and out.broken == set() and skipped == []
    assert [e for e in work.events if e[0] == "start"] == [("start", n) for n in ORDER]
    assert work.most == 1 and set(work.threads.values()) == {threading.current_thread().name}


def test_one_thread_with_a_failure_skips_exactly_what_the_sequential_runner_skipped():
    work, skipped = Recorder(fail={"c"}), []
    out = run_graph(ORDER, UP, work, threads=1, skip=lambda n, r, shown: skipped.append((n, r, shown)))
    # e and f depend on c: skipped, in order, reported; d and g still run
    assert out.started == ["a", "b", "g", "c", "d"]
    assert skipped == [("e", "upstream failed: c", True), ("f", "upstream failed: c", True)]
    assert out.broken == {"c", "e", "f"}


def test_ready_specs_start_in_the_sequential_priority_up_to_the_bound():
    # a is held until b, g and c have had their chance: with 2 threads, a and b start first (the
    # first two of the order), g waits for a free slot, c waits for a
    release = {"a": threading.Event(), "b": threading.Event()}
    work = Recorder(gate=release)
    done = {}
    runner = threading.Thread(target=lambda: done.setdefault("out", run_graph(ORDER, UP, work, threads=2)))
    runner.start()
    _until(lambda: {"a", "b"} <= work.running)
    assert [n for kind, n in work.events if kind == "start"] == ["a", "b"]  # g not yet: no free slot
    release["b"].set()  # b ends: the next by priority is g (d needs b too, but comes later in the order)
    _until(lambda: ("end", "g") in work.events)
    starts = [n for kind, n in work.events if kind == "start"]
    assert starts[:3] == ["a", "b", "g"] and "c" not in starts  # c needs a, which still runs
    release["a"].set()
    runner.join(10)
    out = done["out"]
    assert sorted(out.started) == sorted(ORDER) and out.broken == set()
    assert work.most == 2
    for name, ups in UP.items():  # nothing started before all its upstreams ended
        start = work.events.index(("start", name))
        assert all(work.events.index(("end", u)) < start for u in ups)
    assert set(work.slots.values()) == {0, 1}
    assert all(t.startswith("medallion-") for t in work.threads.values())


def test_a_failed_branch_skips_its_downstream_only_while_the_other_branch_goes_on():
    work, skipped = Recorder(fail={"b"}), []
    out = run_graph(ORDER, UP, work, threads=3, skip=lambda n, r, shown: skipped.append((n, r)))
    assert out.broken == {"b", "d", "f"}
    assert sorted(skipped) == [("d", "upstream failed: b"), ("f", "upstream failed: d")]
    assert set(out.started) == {"a", "b", "g", "c", "e"}  # e (after c, after a) still ran


def test_a_stop_starts_nothing_new_and_lets_the_running_specs_finish():
    release = {"a": threading.Event()}
    stop = threading.Event()
    work, skipped = Recorder(gate=release), []
    done = {}

    def go():
        done["out"] = run_graph(ORDER, UP, work, threads=2, stop=stop.is_set,
                                skip=lambda n, r, shown: skipped.append((n, r, shown)))

    runner = threading.Thread(target=go)
    runner.start()
    # a is held; b, g and d (which need nothing a makes) run and end meanwhile
    _until(lambda: all(("end", n) in work.events for n in "bgd"))
    stop.set()
    _until(lambda: len(skipped) == 3)  # the scheduler notices while a still runs
    assert work.running == {"a"}
    release["a"].set()
    runner.join(10)
    out = done["out"]
    assert skipped == [(n, "not started: the run was interrupted", False) for n in ("c", "e", "f")]
    assert out.started == ["a", "b", "g", "d"] and ("end", "a") in work.events
    assert out.broken == {"c", "e", "f"}


def test_an_internal_error_is_raised_after_the_running_specs_finished():
    release = {"a": threading.Event()}
    work = Recorder(gate=release)

    skipped = []

    def broken(name: str, slot: int) -> bool:
        if name == "b":
            raise KeyError("bug")
        return work(name, slot)

    def skip(name: str, reason: str, shown: bool) -> None:
        skipped.append((name, reason))
        release["a"].set()  # a may end only once the scheduler has seen the error

    with pytest.raises(KeyError, match="bug"):
        run_graph(ORDER, UP, broken, threads=2, skip=skip)
    assert ("end", "a") in work.events and [n for k, n in work.events if k == "start"] == ["a"]
    assert [n for n, _ in skipped] == ["g", "c", "d", "e", "f"]
    assert {r for _, r in skipped} == {"not started: the run stopped on an internal error"}


def test_threads_setting():
    assert auto_threads(2) == 2 and auto_threads(1) == 1 and auto_threads(64) == AUTO_MAX_THREADS == 4
    assert resolve_threads("auto", 3) == 3 and resolve_threads(None, 16) == 4 and resolve_threads(6) == 6
    assert resolve_threads("auto") == auto_threads() >= 1


def _until(condition, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
