"""The "Pipeline health" page: the run store (last runs, per-spec status, duration, rows,
quarantine by rule) and data freshness per page (latest date in the data vs the as-of date).

Why from the run store: the CLI (`medallion runs`), Glue logs and this page read one record,
so they agree. Freshness is generic: for every page with a ``time:`` column, the latest value
of that column next to ``max(as_of)`` when the table has an ``as_of`` column.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.catalog import PageSpec
from dashboards.source import QueryFailed, WarehouseUnavailable
from dashboards.sql import Sql, ident


LAYER_COLORS = {"bronze": "#a0522d", "silver": "#8c9196", "gold": "#d4a017", "quarantine": "#c62828"}


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def runs_frame(records: list[Any]) -> pd.DataFrame:
    """One row per run, newest first."""
    rows = []
    for rec in reversed(records):
        counts = {s: sum(x.status == s for x in rec.specs) for s in ("ok", "failed", "skipped")}
        rows.append({"run_id": rec.run_id, "status": rec.status, "profile": rec.profile,
                     "started_at": rec.started_at, "finished_at": rec.finished_at,
                     "minutes": None if _seconds(rec.started_at, rec.finished_at) is None
                     else round(_seconds(rec.started_at, rec.finished_at) / 60, 1),
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


def _ago(seconds: float) -> str:
    """How long ago, in the largest unit that reads naturally."""
    if seconds < 3600:
        return f"{seconds / 60:,.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h ago"
    return f"{seconds / 86400:,.0f} days ago"


def lake_frame(workspace: Any) -> pd.DataFrame:
    """Every committed table of the lake: version, rows, when and by which run (newest first)."""
    rows = [{"table": t.table, "version": t.version, "rows": t.rows, "committed_at": t.committed_at,
             "run_id": t.run_id} for t in workspace.lake.tables()]
    frame = pd.DataFrame(rows, columns=["table", "version", "rows", "committed_at", "run_id"])
    return frame.sort_values(["committed_at", "table"], ascending=[False, True])


def _date(value: Any) -> Any:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def render_health(pages: list[PageSpec]) -> None:
    """Draw the page."""
    st.title("Pipeline health")
    records = context.workspace().store.list()
    if not records:
        st.info("No runs recorded yet: `medallion run` writes a record of every run here.")
        return
    runs = runs_frame(records)
    last = records[-1]
    age = datetime.now(timezone.utc) - datetime.fromisoformat(last.finished_at or last.started_at)
    cols = st.columns(5)
    cols[0].metric("Last run", last.status.upper(), help=last.run_id, border=True)
    cols[1].metric("Finished", _ago(age.total_seconds()) if last.finished_at else "running",
                   help=f"{last.finished_at or last.started_at} (UTC)", border=True)
    cols[2].metric("Specs ok", f"{runs.iloc[0]['specs_ok']} / {len(last.specs)}", border=True)
    cols[3].metric("Rows written", f"{runs.iloc[0]['rows_out']:,}", border=True)
    cols[4].metric("Rows quarantined", f"{runs.iloc[0]['quarantined']:,}", border=True)
    if last.status != "ok" and last.resume_command:
        st.error(f"The last run did not finish cleanly. To resume: `{last.resume_command}`")

    st.subheader("Data freshness")
    try:
        fresh = freshness_frame(pages)
        if fresh.empty:
            st.caption("No page declares a `time:` column.")
        else:
            st.dataframe(fresh, hide_index=True, width="stretch",
                         column_config={"rows": st.column_config.NumberColumn(format="localized")})
            st.caption("A monthly table's latest date is the first day of its latest month.")
    except WarehouseUnavailable as exc:
        st.warning(f"Freshness needs the warehouse: {exc}")

    with st.expander("Tables in the lake (committed versions)"):
        try:
            st.dataframe(lake_frame(context.workspace()), hide_index=True, width="stretch",
                         column_config={"rows": st.column_config.NumberColumn(format="localized")})
        except Exception as exc:  # noqa: BLE001 - the lake may be remote or not there yet
            st.caption(f"The lake cannot be listed: {exc}")

    st.subheader("Runs")
    st.dataframe(runs.head(20), hide_index=True, width="stretch",
                 column_config={"rows_out": st.column_config.NumberColumn(format="localized"),
                                "quarantined": st.column_config.NumberColumn(format="localized")})
    run_id = st.selectbox("Run", runs["run_id"].tolist(), index=0, key="health:run")
    record = next(r for r in records if r.run_id == run_id)
    specs = specs_frame(record)
    left, right = st.columns(2)
    with left, st.container(border=True):
        st.markdown("**Duration per spec (seconds)**")
        st.altair_chart(alt.Chart(specs.fillna({"seconds": 0})).mark_bar().encode(
            y=alt.Y("spec:N", sort="-x", title=None, axis=alt.Axis(labelLimit=240, labelOverlap=False)),
            x=alt.X("seconds:Q", title="Seconds"),
            color=alt.Color("layer:N", title="Layer", scale=alt.Scale(domain=list(LAYER_COLORS),
                                                                      range=list(LAYER_COLORS.values()))),
            tooltip=["spec", "status", "seconds", alt.Tooltip("rows_out:Q", format=",")]).properties(
                height=max(260, 22 * len(specs))), width="stretch")
    rules = rules_frame(record)
    with right, st.container(border=True):
        st.markdown("**Rows failing quality rules, by rule**")
        failing = rules[rules["failed"].fillna(0) > 0]
        if failing.empty:
            st.success("No row failed a quality rule in this run.")
        else:
            failing = failing.assign(label=failing["spec"] + " · " + failing["rule"])
            st.altair_chart(alt.Chart(failing).mark_bar().encode(
                y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=300, labelOverlap=False)),
                x=alt.X("failed:Q", title="Rows"), color=alt.Color("action:N", title="Action"),
                tooltip=["spec", "rule", "kind", "action", alt.Tooltip("failed:Q", format=","),
                         alt.Tooltip("checked:Q", format=",")]).properties(height=max(200, 24 * len(failing))),
                width="stretch")
    st.subheader("Specs of the run")
    st.dataframe(specs, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="localized")
                                for c in ("rows_in", "rows_out", "quarantined")})
    with st.expander("Every quality rule of the run"):
        st.dataframe(rules, hide_index=True, width="stretch")
