"""The live progress view of a run on a terminal: spec n of N, time per spec, Spark stages.

A spec can run for minutes; a silent terminal reads as a hang. On a terminal the reporter shows
this view (rich ``Live``): the run's counter and elapsed time, each running spec with its time
and the task progress of its active Spark stages, and rows written so far. Specs running at the
same time (``--threads``) each get their line, with the stages of their own job group. Finished
specs print as permanent lines above it. Off a terminal (CI, Glue, pipes, ``--plain``) nothing
here runs and the reporter prints plain lines. The facts shown come from the same run record.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text


@dataclass
class StageProgress:
    """Task progress over the active stages of a Spark session."""

    stages: int = 0
    tasks_done: int = 0
    tasks_total: int = 0

    def describe(self) -> str:
        if not self.stages:
            return ""
        noun = "stage" if self.stages == 1 else "stages"
        return f"{self.stages} {noun}, tasks {self.tasks_done:,}/{self.tasks_total:,}"


def spark_stage_progress(spark: Any) -> Callable[..., StageProgress]:
    """A function reading the active stages from Spark's status tracker: all of them, or those
    of one job group (``read(group)``: one spec's, when several run at once)."""
    tracker = spark.sparkContext.statusTracker()

    def read(group: str | None = None) -> StageProgress:
        out = StageProgress()
        active = tracker.getActiveStageIds()
        if group is not None:
            mine: set[int] = set()
            for job_id in tracker.getJobIdsForGroup(group):
                job = tracker.getJobInfo(job_id)
                mine.update(job.stageIds if job is not None else ())
            active = [s for s in active if s in mine]
        for stage_id in active:
            info = tracker.getStageInfo(stage_id)
            if info is None:
                continue
            out.stages += 1
            out.tasks_done += info.numCompletedTasks
            out.tasks_total += info.numTasks
        return out

    return read


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{seconds:.1f}s"


class LiveProgress:
    """The live area: header (n/N, elapsed, rows so far) and one line per running spec."""

    def __init__(self, console: Console, total: int, refresh_seconds: float = 0.5):
        self.console = console
        self.total = total
        self.done = 0
        self.rows_written = 0
        self.started = time.monotonic()
        self.running: dict[str, tuple[float, str | None]] = {}  # spec -> (since, its job group)
        self.stages: Callable[..., StageProgress] | None = None
        self._lock = threading.Lock()
        self._live = Live(console=console, refresh_per_second=max(1, int(1 / refresh_seconds)),
                          transient=True, get_renderable=self.render)

    def render(self) -> Group:
        """What the live area shows now."""
        with self._lock:
            elapsed = time.monotonic() - self.started
            header = Text(f"{self.done}/{self.total} specs done · {_clock(elapsed)} · "
                          f"{self.rows_written:,} rows written", style="bold")
            lines = [header]
            for name, (since, group) in self.running.items():
                stage = self._stage_text(group if len(self.running) > 1 else None)
                lines.append(Text(f"  ⠿ {name}  {_clock(time.monotonic() - since)}"
                                  + (f"  · {stage}" if stage else ""), style="cyan"))
        return Group(*lines)

    def _stage_text(self, group: str | None) -> str:
        if self.stages is None:
            return ""
        try:
            return (self.stages(group) if group else self.stages()).describe()
        except Exception:  # noqa: BLE001 - the view never breaks the run
            return ""

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()

    def spec_started(self, name: str, group: str | None = None) -> None:
        with self._lock:
            self.running[name] = (time.monotonic(), group)

    def spec_finished(self, name: str, rows_out: int | None) -> None:
        with self._lock:
            self.running.pop(name, None)
            self.done += 1
            self.rows_written += rows_out or 0
