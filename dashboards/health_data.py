"""The tables behind the health page, from the run record and the warehouse (no Streamlit here).

Why separate: each is a plain function of a record (or of pages), testable on its own, and the
page module stays about layout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from dashboards import context
from dashboards.catalog import PageSpec
from dashboards.source import QueryFailed
from dashboards.sql import Sql, ident, param

SAMPLE_ROWS = 5


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def runs_frame(records: list[Any]) -> pd.DataFrame:
    """One row per run, newest first."""
    rows = []
    for rec in reversed(records):
        counts = {s: sum(x.status == s for x in rec.specs) for s in ("ok", "failed", "skipped")}
        seconds = _seconds(rec.started_at, rec.finished_at)
        rows.append({"run_id": rec.run_id, "status": rec.status, "profile": rec.profile,
                     "started_at": rec.started_at, "finished_at": rec.finished_at,
                     "minutes": None if seconds is None else round(seconds / 60, 1),
                     "specs_ok": counts["ok"], "failed": counts["failed"], "skipped": counts["skipped"],
                     "rows_out": sum(x.rows_out or 0 for x in rec.specs),
                     "quarantined": sum(x.quarantined or 0 for x in rec.specs),
                     "resumed_by": rec.resolved_by})
    return pd.DataFrame(rows)


def specs_frame(record: Any) -> pd.DataFrame:
    """One row per spec of a run."""
    return pd.DataFrame([{"spec": s.spec, "layer": s.layer, "status": s.status, "attempts": s.attempts,
                          "seconds": s.seconds, "rows_in": s.rows_in, "rows_out": s.rows_out,
                          "quarantined": s.quarantined or 0, "version": s.version, "error": s.error}
                         for s in record.specs])


def rules_frame(record: Any) -> pd.DataFrame:
    """Quality rules of a run with the rows each failed (what the run set aside, warned or dropped)."""
    rows = [{"spec": s.spec, "rule": r.get("rule"), "kind": r.get("kind"), "action": r.get("action"),
             "checked": r.get("checked"), "failed": r.get("failed")} for s in record.specs for r in s.rules]
    return pd.DataFrame(rows, columns=["spec", "rule", "kind", "action", "checked", "failed"])


def conservation_frame(record: Any) -> pd.DataFrame:
    """The conservation table of every spec that declares one (as the CLI prints it)."""
    rows = []
    for s in record.specs:
        acc = s.accounting
        if not acc:
            continue
        rows.append({"spec": s.spec, "input": acc.get("source"), "rows in": acc.get("rows_in"),
                     "rows out": acc.get("rows_out"), "quarantined": acc.get("quarantined"),
                     "filtered": acc.get("filtered"), "deduplicated": acc.get("deduplicated"),
                     "dropped": acc.get("dropped"), "balanced": "yes" if acc.get("balanced") else "NO"})
    return pd.DataFrame(rows)


def quarantine_samples(record: Any) -> dict[tuple[str, str], pd.DataFrame]:
    """(spec, rule) -> a few of this run's quarantined rows, from the warehouse's quarantine tables
    (``quarantine.<layer>_<name>``, each row carrying ``_spec``, ``_rule``, ``_reason``, ``_record``)."""
    out: dict[tuple[str, str], pd.DataFrame] = {}
    found = context.query(Sql("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ")
                          + param("quarantine"))
    tables = set(found["t"])
    for spec in record.specs:
        name = spec.spec.replace(".", "_")
        if not spec.quarantined or name not in tables:
            continue
        table = ident(f"quarantine.{name}")
        try:
            rules = context.query(Sql(f'SELECT DISTINCT "_rule" AS r FROM {table} WHERE "_run_id" = ')
                                  + param(record.run_id))
        except QueryFailed:
            continue
        for rule in rules["r"]:
            out[(spec.spec, rule)] = context.query(
                Sql(f'SELECT "_reason" AS reason, "_record" AS "record" FROM {table} WHERE "_run_id" = ')
                + param(record.run_id) + ' AND "_rule" = ' + param(rule) + f" LIMIT {SAMPLE_ROWS}")
    return out


def freshness_frame(pages: list[PageSpec]) -> pd.DataFrame:
    """Per page with a time column: the latest date in the data and the as-of date."""
    rows = []
    for page in [p for top in pages for p in [top, *top.sections]]:
        if not page.board or not page.board.time:
            continue
        exprs = f"max({ident(page.board.time)}) AS latest" + (", max(\"as_of\") AS as_of" if "as_of" in page.columns
                                                               else ", NULL AS as_of")
        try:
            got = context.query(Sql(f"SELECT {exprs}, count(*) AS n FROM {ident(page.table)}")).iloc[0]
        except QueryFailed as exc:
            rows.append({"table": page.table, "time column": page.board.time, "note": str(exc)})
            continue
        latest, as_of = _date(got["latest"]), _date(got["as_of"])
        rows.append({"table": page.table, "time column": page.board.time, "latest in data": latest,
                     "as_of": as_of, "days behind as_of": (as_of - latest).days if latest and as_of else None,
                     "rows": int(got["n"])})
    return pd.DataFrame(rows)


def lake_frame(workspace: Any) -> pd.DataFrame:
    """Every committed table of the lake: version, rows, when and by which run (newest first)."""
    rows = [{"table": t.table, "version": t.version, "rows": t.rows, "committed_at": t.committed_at,
             "run_id": t.run_id} for t in workspace.lake.tables()]
    frame = pd.DataFrame(rows, columns=["table", "version", "rows", "committed_at", "run_id"])
    return frame.sort_values(["committed_at", "table"], ascending=[False, True])


def _date(value: Any) -> Any:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()
