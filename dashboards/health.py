"""The "Pipeline health" page, for whoever is on call: pick a run (newest first), see whether it
failed (red, with every failed spec's full error and the command that resumes it), its
per-spec conservation table (rows in = out + quarantined + filtered + deduplicated + dropped),
quarantined rows by rule with sample rows, data freshness, and the trend of durations over runs.

Why from the run store: the CLI (`medallion runs`), Glue logs and this page read one record,
so they agree. Everything is about the run picked, so a one-spec run reads as what it did.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.catalog import PageSpec
from dashboards.health_data import (conservation_frame, freshness_frame, lake_frame, quarantine_samples,
                                    rules_frame, runs_frame, specs_frame)
from dashboards.session import as_of_line
from dashboards.source import QueryFailed, WarehouseUnavailable

STATUS_COLORS = {"ok": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e", "pending": "#9e9e9e",
                 "running": "#1976d2"}
LOCALIZED = st.column_config.NumberColumn(format="localized")


def _ago(seconds: float) -> str:
    """How long ago, in the largest unit that reads naturally."""
    if seconds < 3600:
        return f"{seconds / 60:,.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.0f} days"


def _run_label(record: Any) -> str:
    return f"{record.run_id} · {record.status.upper()} · {len(record.specs)} spec(s)"


def render_health(pages: list[PageSpec]) -> None:
    """Draw the page."""
    st.title("Pipeline health")
    records = context.workspace().store.list()
    run_id, finished = context.last_publish()
    st.caption(as_of_line(finished, run_id))
    if not records:
        st.info("No runs recorded yet: `medallion run` writes a record of every run here.")
        return
    newest_first = list(reversed(records))
    record = st.selectbox("Run", newest_first, index=0, format_func=_run_label, key="health:run",
                          help="Every recorded run, newest first")
    runs = runs_frame(records)
    row = runs[runs["run_id"] == record.run_id].iloc[0]
    _headline(record, row)
    _failures(record)
    specs = specs_frame(record)
    left, right = st.columns(2)
    with left, st.container(border=True):
        st.markdown("**Duration per spec (seconds), coloured by status**")
        st.altair_chart(alt.Chart(specs.fillna({"seconds": 0})).mark_bar().encode(
            y=alt.Y("spec:N", sort="-x", title=None, axis=alt.Axis(labelLimit=240, labelOverlap=False)),
            x=alt.X("seconds:Q", title="Seconds"),
            color=alt.Color("status:N", title="Status", scale=alt.Scale(domain=list(STATUS_COLORS),
                                                                        range=list(STATUS_COLORS.values()))),
            tooltip=["spec", "status", "seconds", alt.Tooltip("rows_out:Q", format=",")]).properties(
                height=max(260, 22 * len(specs))), width="stretch")
    with right, st.container(border=True):
        _trend(runs)
    st.subheader("Conservation per spec")
    st.caption("Every input row is accounted for: rows in = rows out + quarantined + filtered + deduplicated + dropped.")
    conservation = conservation_frame(record)
    if conservation.empty:
        st.caption("No spec of this run declares `conservation:`.")
    else:
        st.dataframe(conservation, hide_index=True, width="stretch",
                     column_config={c: LOCALIZED for c in ("rows in", "rows out", "quarantined", "filtered",
                                                           "deduplicated", "dropped")})
    _quarantine(record)
    st.subheader("Data freshness")
    try:
        fresh = freshness_frame(pages)
        if fresh.empty:
            st.caption("No page declares a `time:` column.")
        else:
            st.dataframe(fresh, hide_index=True, width="stretch", column_config={"rows": LOCALIZED})
            st.caption("A monthly table's latest date is the first day of its latest month.")
    except WarehouseUnavailable as exc:
        st.warning(f"Freshness needs the warehouse: {exc}")
    st.subheader("Specs of the run")
    st.dataframe(specs, hide_index=True, width="stretch",
                 column_config={c: LOCALIZED for c in ("rows_in", "rows_out", "quarantined")})
    st.subheader("Runs")
    st.dataframe(runs.head(50), hide_index=True, width="stretch",
                 column_config={"rows_out": LOCALIZED, "quarantined": LOCALIZED})
    with st.expander("Tables in the lake (committed versions)"):
        try:
            st.dataframe(lake_frame(context.workspace()), hide_index=True, width="stretch",
                         column_config={"rows": LOCALIZED})
        except Exception as exc:  # noqa: BLE001 - the lake may be remote or not there yet
            st.caption(f"The lake cannot be listed: {exc}")


def _headline(record: Any, row: Any) -> None:
    end = record.finished_at or record.started_at
    age = datetime.now(timezone.utc) - datetime.fromisoformat(end)
    cols = st.columns(6)
    cols[0].metric("Run status", record.status.upper(), help=record.run_id, border=True)
    cols[1].metric("Finished (ago)", _ago(age.total_seconds()) if record.finished_at else "running",
                   help=f"{end} (UTC)", border=True)
    cols[2].metric("Specs ok", f"{row['specs_ok']} / {len(record.specs)}", border=True)
    cols[3].metric("Rows written", f"{row['rows_out']:,}", border=True)
    cols[4].metric("Rows quarantined", f"{row['quarantined']:,}", border=True)
    cols[5].metric("Duration", "—" if pd.isna(row["minutes"]) else f"{row['minutes']:,.1f} min", border=True)
    if record.selection:
        st.caption("Selection: " + ", ".join(f"`{s}`" for s in record.selection))
    if record.status == "ok":
        st.success(f"Run `{record.run_id}` finished cleanly.")


def _failures(record: Any) -> None:
    """A failed run in red: which spec, the full error, and the exact command that resumes it."""
    failed = [s for s in record.specs if s.status == "failed"]
    if record.status != "failed" and not failed:
        return
    lines = [f"**Run `{record.run_id}` failed**" + (f" at {', '.join(f'`{s.spec}`' for s in failed)}" if failed
                                                      else "") + "."]
    if record.resolved_by:
        lines.append(f"Resumed and finished by run `{record.resolved_by}`.")
    elif record.resume_command:
        lines.append(f"To resume: `{record.resume_command}`")
    st.error("\n\n".join(lines))
    for spec in failed:
        st.markdown(f"**{spec.spec}** — {spec.error_class or 'error'} after {spec.attempts} attempt(s)")
        st.code(spec.error or "(no error text recorded)", language=None, wrap_lines=True)
    skipped = [s.spec for s in record.specs if s.status == "skipped"]
    if skipped:
        st.caption("Skipped because an input failed: " + ", ".join(f"`{s}`" for s in skipped))


def _trend(runs: pd.DataFrame) -> None:
    st.markdown("**Run duration over time (minutes)**")
    data = runs.dropna(subset=["minutes"]).assign(started=lambda f: pd.to_datetime(f["started_at"]))
    if len(data) < 2:
        st.caption(f"{len(data)} finished run recorded: the trend needs two.")
        return
    st.altair_chart(alt.Chart(data).mark_line(point=True, color="#607d8b").encode(
        x=alt.X("started:T", title="Started"), y=alt.Y("minutes:Q", title="Minutes"),
        tooltip=["run_id", "status", "minutes", alt.Tooltip("specs_ok:Q", title="specs ok")]).properties(height=260)
        + alt.Chart(data).mark_point(filled=True, size=70).encode(
            x="started:T", y="minutes:Q",
            color=alt.Color("status:N", title="Status", scale=alt.Scale(domain=list(STATUS_COLORS),
                                                                        range=list(STATUS_COLORS.values())))),
        width="stretch")


def _quarantine(record: Any) -> None:
    st.subheader("Quarantine by rule")
    rules = rules_frame(record)
    failing = rules[rules["failed"].fillna(0) > 0]
    if failing.empty:
        st.success("No row failed a quality rule in this run.")
        return
    st.dataframe(failing, hide_index=True, width="stretch", column_config={"checked": LOCALIZED, "failed": LOCALIZED})
    try:
        samples = quarantine_samples(record)
    except (QueryFailed, WarehouseUnavailable) as exc:
        st.caption(f"Sample rows need the warehouse's quarantine tables: {exc}")
        return
    for (spec, rule), frame in samples.items():
        with st.expander(f"Sample quarantined rows: {spec} · {rule} ({len(frame)} shown)"):
            st.dataframe(frame, hide_index=True, width="stretch")
    if not samples:
        st.caption("No quarantined rows of this run are in the warehouse (warn and drop rules keep none).")
