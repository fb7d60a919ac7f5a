"""The one reporter all run output flows through.

On a terminal it shows a live spinner and coloured lines; elsewhere (CI, Glue, pipes) it prints
plain, greppable lines. Either way the facts come from the run record, which is also saved.
Specs running at the same time report from their own threads: every method holds one lock, so
a spec's finish line and its detail lines stay together and the counters stay exact.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.run.progress import LiveProgress, spark_stage_progress

from engine.run.record import RunRecord, SpecRecord

_COLOUR = {"ok": "green", "failed": "red", "skipped": "yellow", "running": "cyan", "pending": "dim"}


def _fmt_rows(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def spark_fields(counts: dict[str, int] | None) -> str:
    """A spec's Spark work as ``jobs=7 stages=7 tasks=12`` (``failed_tasks=`` when any), or ''."""
    if not counts:
        return ""
    text = f"jobs={counts.get('jobs', 0)} stages={counts.get('stages', 0)} tasks={counts.get('tasks', 0)}"
    return text + (f" failed_tasks={counts['failed_tasks']}" if counts.get("failed_tasks") else "")


def spark_totals(record: RunRecord) -> dict[str, int] | None:
    """The Spark work of a whole run: the sum over its specs that recorded any (None if none did)."""
    counted = [s.spark for s in record.specs if s.spark]
    if not counted:
        return None
    return {key: sum(c.get(key, 0) for c in counted) for key in ("jobs", "stages", "tasks", "failed_tasks")}


def spark_phrase(counts: dict[str, int] | None) -> str:
    """``143 Spark jobs (143 stages, 200 tasks)`` for summaries, or '' when nothing was recorded."""
    if not counts:
        return ""
    failed = f", {counts['failed_tasks']:,} failed" if counts.get("failed_tasks") else ""
    return (f"{counts.get('jobs', 0):,} Spark jobs ({counts.get('stages', 0):,} stages, "
            f"{counts.get('tasks', 0):,} tasks{failed})")


def detail_lines(record: SpecRecord) -> list[str]:
    """Conservation and rule outcomes of one spec, one line each (for every output channel)."""
    lines = []
    acc = record.accounting
    if acc:
        mark = "balanced" if acc.get("balanced") else "NOT BALANCED"
        lines.append(f"    conservation ({acc['source']}): in {acc['rows_in']:,} = out {acc['rows_out']:,} + "
                     f"quarantined {acc['quarantined']:,} + filtered {acc['filtered']:,} + "
                     f"deduplicated {acc['deduplicated']:,} + "
                     + (f"superseded {acc['superseded']:,} + " if acc.get("superseded") else "")
                     + f"dropped {acc['dropped']:,} — {mark}")
    for rule in record.rules:
        lines.append(f"    rule {rule['rule']} [{rule['kind']}, {rule['action']}]: "
                     f"{rule['failed']:,} of {rule['checked']:,} rows failed")
    if record.quarantined:
        lines.append(f"    quarantined rows: {record.quarantined:,}")
    inc = record.incremental
    if inc:
        counts = (f" (rows recomputed {inc['rows_recomputed']:,}, kept {inc['rows_kept']:,})"
                  if "rows_kept" in inc else "")
        lines.append(f"    incremental {inc['mode']}: {inc['note']}{counts}")
    for artefact in record.artefacts:
        if artefact.get("summary"):
            lines.append(f"    {artefact['summary']}")
    return lines


class Reporter:
    """Prints run progress; ``plain`` forces line output (automatic when not a terminal)."""

    def __init__(self, stream: TextIO | None = None, plain: bool | None = None):
        stream = stream or sys.stdout
        self.stream = stream
        self.plain = (not stream.isatty()) if plain is None else plain
        self.console = Console(file=stream, highlight=False, soft_wrap=True,
                               force_terminal=False if self.plain else None, no_color=self.plain)
        self._live: LiveProgress | None = None
        self._spark: Any = None
        self._started = time.monotonic()
        self._done = 0
        self._total = 0
        self._running: set[str] = set()
        self._run_id = ""
        self._lock = threading.RLock()

    def attach_spark(self, spark: Any) -> None:
        """Show the running spec's Spark stage progress in the live view (terminals only)."""
        self._spark = spark
        if self._live is not None:
            self._live.stages = spark_stage_progress(spark)

    def run_started(self, record: RunRecord, threads: int = 1) -> None:
        """Announce the run and what it will do; on a terminal, start the live view."""
        self._started, self._done, self._total = time.monotonic(), 0, len(record.specs)
        self._run_id = record.run_id
        at_once = f" · {threads} at a time" if threads > 1 and len(record.specs) > 1 else ""
        self.console.print(f"run {record.run_id} · profile {record.profile} · "
                           f"{len(record.specs)} spec(s){at_once}")
        if not self.plain:
            self._live = LiveProgress(self.console, len(record.specs))
            if self._spark is not None:
                self._live.stages = spark_stage_progress(self._spark)
            self._live.start()

    def spec_started(self, record: SpecRecord) -> None:
        """A spec begins: a counted line off a terminal, a line in the live view on one.

        The count is the spec's place among those begun (finished, skipped or running), so with
        several specs at once it still counts 1, 2, ... N."""
        with self._lock:
            place = self._done + len(self._running) + 1
            self._running.add(record.spec)
            if self._live is not None:
                from engine.run.sparkjobs import job_group  # imports PySpark: only once a run shows live

                self._live.spec_started(record.spec, job_group(self._run_id, record.spec))
            else:
                self.console.print(f"  start {record.spec} ({place} of {self._total})")

    def spec_finished(self, record: SpecRecord) -> None:
        """A spec ends: one line with status, rows and time (and its details, kept together)."""
        with self._lock:
            self._running.discard(record.spec)
            self._finished(record)

    def _finished(self, record: SpecRecord) -> None:
        self._done += 1
        if self._live is not None:
            self._live.spec_finished(record.spec, record.rows_out)
        seconds = "" if record.seconds is None else f"{record.seconds:.1f}s"
        attempts = f" attempts={record.attempts}" if record.attempts > 1 else ""
        spark = f" {spark_fields(record.spark)}" if record.spark else ""
        line = (f"  {record.status:<7} {record.spec:<40} rows_in={_fmt_rows(record.rows_in)} "
                f"rows_out={_fmt_rows(record.rows_out)} {seconds}{attempts}{spark}")
        if self.plain:
            self.console.print(line)
        else:
            self.console.print(f"[{_COLOUR[record.status]}]{line}[/]")
        for line in detail_lines(record):
            self.console.print(line, markup=False, highlight=False)
        if record.error:
            self.error(record.error)

    def retrying(self, record: SpecRecord, wait: float) -> None:
        """A transient failure will be retried."""
        with self._lock:
            self.console.print(f"  retry   {record.spec} after a transient error "
                               f"(attempt {record.attempts}, waiting {wait:.1f}s): {record.error}")

    def run_finished(self, record: RunRecord) -> None:
        """Summary: counts, total time, rows written and quarantined, Spark jobs, conservation; the resume command."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        ok = sum(s.status == "ok" for s in record.specs)
        failed = sum(s.status == "failed" for s in record.specs)
        skipped = sum(s.status == "skipped" for s in record.specs)
        written = sum(s.rows_out or 0 for s in record.specs if s.status == "ok")
        quarantined = sum(s.quarantined or 0 for s in record.specs if s.status == "ok")
        checked = [s.accounting for s in record.specs if s.accounting]
        unbalanced = sum(not a.get("balanced") for a in checked)
        balance = (f"conservation balanced in {len(checked)} of {len(checked)} spec(s)" if not unbalanced
                   else f"conservation NOT balanced in {unbalanced} of {len(checked)} spec(s)")
        self.console.print(f"run {record.run_id} {record.status}: {ok} ok, {failed} failed, "
                           f"{skipped} skipped")
        spark = spark_phrase(spark_totals(record))
        self.console.print(f"  {time.monotonic() - self._started:.1f}s · {written:,} rows written · "
                           f"{quarantined:,} quarantined" + (f" · {spark}" if spark else "")
                           + (f" · {balance}" if checked else ""))
        if record.resume_command:
            self.console.print(f"to resume: {record.resume_command}")

    def error(self, message: str) -> None:
        """One error, one (or a few) lines, never a traceback."""
        with self._lock:
            self._error(message)

    def _error(self, message: str) -> None:
        for line in message.splitlines():
            if self.plain:
                self.console.print(f"    error: {line}", markup=False)
            else:
                self.console.print(f"    [red]error:[/] {escape(line)}")

    def table(self, title: str, columns: list[str], rows: list[list[str]], keep: list[int] | None = None) -> None:
        """A table (rich) or tab-separated lines (plain).

        Columns in ``keep`` (spec names, run ids) are never shrunk or cut: the other columns
        wrap instead, so a name is always shown whole at any terminal width.
        """
        if self.plain:
            for row in [columns, *rows]:
                self.stream.write("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row) + "\n")
            self.stream.flush()
            return
        table = Table(title=title)
        for i, col in enumerate(columns):
            if i in (keep or []):
                width = max([len(col), *(len(r[i]) for r in rows)])
                table.add_column(col, min_width=width, no_wrap=True)
            else:
                table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*row)
        self.console.print(table)

    def line(self, text: str) -> None:
        """Any other message."""
        with self._lock:
            self.console.print(text, markup=False)
