"""Spark jobs, stages and tasks per spec of an engine run, read from its run record.

The engine records them per spec (``spark: {jobs, stages, tasks, failed_tasks}``, counted by the
spec's job group, engine/run/sparkjobs.py); the benchmark prints them next to its timings,
because at small scales a spec's time is mostly fixed cost per Spark job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KEYS = ("jobs", "stages", "tasks")


def latest_record(lake: Path) -> dict[str, Any] | None:
    """The newest run record in an engine lake (run ids sort by start time), or None."""
    records = sorted((lake / "_runs").glob("*.json"))
    return json.loads(records[-1].read_text()) if records else None


def per_spec(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per spec: its name, seconds and Spark counts (None where the record has none)."""
    rows = []
    for item in (record or {}).get("specs", []):
        work = item.get("spark") or {}
        rows.append({"spec": item["spec"], "seconds": item.get("seconds"),
                     **{k: work.get(k) for k in KEYS}})
    return rows


def total(rows: list[dict[str, Any]], key: str) -> int | None:
    """The sum of one count over the specs, or None when no spec recorded it (an older engine)."""
    found = [r[key] for r in rows if r.get(key) is not None]
    return sum(found) if found else None


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def markdown(rows: list[dict[str, Any]], title: str) -> list[str]:
    """A table of the counts per spec with a total line; empty when no spec recorded any."""
    if total(rows, "jobs") is None:
        return []
    lines = [title, "", "| spec | jobs | stages | tasks | seconds |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['spec']} | " + " | ".join(_cell(r.get(k)) for k in (*KEYS, "seconds")) + " |")
    seconds = sum(r["seconds"] or 0.0 for r in rows)
    lines.append("| **whole run** | " + " | ".join(_cell(total(rows, k)) for k in KEYS) + f" | {seconds:.1f} |")
    return lines


def summary_line(rows: list[dict[str, Any]]) -> str:
    """``143 jobs, 143 stages, 190 tasks`` for the console, or '' without counts."""
    if total(rows, "jobs") is None:
        return ""
    return ", ".join(f"{total(rows, k)} {k}" for k in KEYS)
