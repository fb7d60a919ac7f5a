"""The extra blocks a page may declare: ``note``, ``signal_check``, ``model_report``,
``rule_vs_model``.

Why blocks instead of per-page Python: what makes one page special (a plainly stated fact about
the data, a fitted model's report) is declared in its YAML and drawn by generic
code; nothing here knows which table it is drawing.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.filters import Where
from dashboards.formatting import humanize, show
from dashboards.schema import ModelReport, Note, RuleVsModel, SignalCheck
from dashboards.sql import ident, portable


def render_block(block: Any, table: str, spec: str, where: Where, columns: dict[str, Any]) -> None:
    """Draw one block under the current filters."""
    if isinstance(block, Note):
        _note(block, table, where, columns)
    elif isinstance(block, SignalCheck):
        _signal(block, table, where, columns)
    elif isinstance(block, ModelReport):
        _model_report(block, spec)
    elif isinstance(block, RuleVsModel):
        _rule_vs_model(block, table, where, columns)


def _rule_vs_model(block: RuleVsModel, table: str, where: Where, columns: dict[str, Any]) -> None:
    """The rule's answer and the model's, side by side, labelled, with the sentence on why they differ."""
    vocabulary = context.vocabulary()
    st.markdown(f"**{block.title}**")
    cols = st.columns(2)
    for col, side in zip(cols, (block.rule, block.model)):
        if side.table:  # another page's table: the whole table, this page's filters do not apply
            value = _scalar(side.value, side.table, Where(), {})
        else:
            value = _scalar(side.value, table, where, columns)
        term, item = vocabulary.term(side.term)
        meaning = (item.means if item and item.means else None) or (term.means if term else None)
        col.metric(side.label, show(value, block.format), border=True,
                   help=(meaning + "\n\n" if meaning else "") + f"`{side.value}`"
                   + (f" on `{side.table}`" if side.table else ""))
    sentence = block.difference or vocabulary.contrast(block.rule.term, block.model.term)
    if sentence:
        st.caption(f"**Why they differ:** {sentence}")


def _scalar(expr: str, table: str, where: Where, columns: dict[str, Any]) -> Any:
    frame = context.query("SELECT " + portable(expr, context.dialect()) + " AS v FROM " + ident(table)
                          + where.sql(list(columns)))
    return frame.iloc[0, 0] if len(frame) else None


def _note(block: Note, table: str, where: Where, columns: dict[str, Any]) -> None:
    text = block.text
    if block.value:
        text = text.replace("{value}", show(_scalar(block.value, table, where, columns), block.format))
    {"info": st.info, "warning": st.warning, "success": st.success, "plain": st.markdown}[block.level](text)


def _signal(block: SignalCheck, table: str, where: Where, columns: dict[str, Any]) -> None:
    value = _scalar(block.condition, table, Where(), columns)  # a fact about the whole table
    if value is None or pd.isna(value):
        st.warning(f"**{block.label}:** cannot tell — the table is empty.")
    elif bool(value):
        st.success(f"**{block.label}: yes.** {block.when_true}")
    else:
        st.warning(f"**{block.label}: no.** {block.when_false}")


def latest_artefact(store: Any, spec: str, kind: str) -> tuple[dict[str, Any] | None, str | None]:
    """The newest report of ``kind`` left by ``spec`` in any run, with that run's id."""
    for record in reversed(store.list()):
        for item in record.specs:
            if item.spec == spec:
                for artefact in item.artefacts:
                    if artefact.get("kind") == kind:
                        return artefact, record.run_id
    return None, None


def _model_report(block: ModelReport, spec: str) -> None:
    st.subheader(block.title)
    store = context.workspace().store
    report, run_id = latest_artefact(store, spec, block.kind)
    if report is None:
        st.info(f"No `{block.kind}` report in the run records yet: run the pipeline to fit the model.")
    else:
        status = report.get("status", "unknown")
        message = report.get("message") or ""
        line = f"Status **{status}** (run `{run_id}`): {message}"
        (st.success if status == "fitted" else st.warning)(line)
        fits = [(k, v) for k, v in report.items() if isinstance(v, dict) and "params" in v]
        cols = st.columns(max(len(fits), 1))
        for col, (name, fit) in zip(cols, fits):
            with col:
                st.markdown(f"**{fit.get('model', name)}** — {fit.get('message', '')}")
                rows = [{"parameter": k, "estimate": f"{v:.4g}"} for k, v in (fit.get("params") or {}).items()]
                ll = fit.get("log_likelihood")
                rows.append({"parameter": "log-likelihood", "estimate": "—" if ll is None else f"{ll:,.1f}"})
                rows.append({"parameter": "customers fitted", "estimate": f"{fit.get('n_customers', 0):,}"})
                st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        details = {k: report[k] for k in ("customers", "excluded_from_fit", "fit_filter", "horizon",
                                          "time_unit", "annual_discount_rate") if k in report}
        if details:
            st.caption(" · ".join(f"{humanize(k)}: {v:,}" if isinstance(v, int) else f"{humanize(k)}: {v}"
                                  for k, v in details.items()))
    if block.evaluation:
        _evaluation(store.load_artefact(block.evaluation), block)


def _evaluation(report: dict[str, Any] | None, block: ModelReport) -> None:
    st.markdown("**Holdout evaluation** (model next to the naive baseline: past rate × horizon)")
    if not report:
        command = block.evaluate_command or f"an evaluation saved as '{block.evaluation}'"
        st.info(f"No evaluation yet. Run `{command}` to refit on a calibration window and score the holdout.")
        return
    mae, gini, agg = report.get("mae") or {}, report.get("gini") or {}, report.get("aggregate") or {}
    rows = [
        {"measure": "MAE per customer (lower is better)", "model": mae.get("model"), "naive": mae.get("naive")},
        {"measure": "Normalized Gini (higher is better)", "model": gini.get("model"), "naive": gini.get("naive")},
        {"measure": "Aggregate error % (predicted vs actual)",
         "model": (agg.get("model") or {}).get("error_pct"), "naive": (agg.get("naive") or {}).get("error_pct")},
    ]
    if report.get("auc_p_alive") is not None or report.get("auc_recency_baseline") is not None:
        rows.append({"measure": "AUC of P(alive) vs the true state (baseline: recency)",
                     "model": report.get("auc_p_alive"), "naive": report.get("auc_recency_baseline")})
    table = pd.DataFrame(rows)
    for col in ("model", "naive"):
        table[col] = [("—" if v is None or pd.isna(v) else f"{v:+.1f}%" if "error %" in m else f"{v:,.3f}")
                      for m, v in zip(table["measure"], table[col])]
    st.dataframe(table, hide_index=True, width="stretch")
    facts = {k: report.get(k) for k in ("calibration_end", "holdout_days", "holdout_end", "customers", "created_at")
             if report.get(k) is not None}
    if facts:
        st.caption(" · ".join(f"{humanize(k)}: {v:,}" if isinstance(v, int) else f"{humanize(k)}: {v}"
                              for k, v in facts.items()))
    buckets = report.get("by_frequency") or []
    if buckets:
        frame = pd.DataFrame(buckets).melt(id_vars=["frequency"], value_vars=["actual_mean", "naive_mean",
                                                                            "model_mean"],
                                           var_name="series", value_name="mean").dropna()
        frame["series"] = frame["series"].str.replace("_mean", "")
        st.altair_chart(alt.Chart(frame).mark_bar().encode(
            x=alt.X("frequency:N", title="Repeat purchases in calibration", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("mean:Q", title="Mean holdout purchases"), color="series:N", xOffset="series:N",
            tooltip=["frequency", "series", alt.Tooltip("mean:Q", format=".3f")]).properties(height=260),
            width="stretch")
