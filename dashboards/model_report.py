"""The ``model_report`` block: a fitted model's report from the run record, and its backtest.

Why a page shows all of it: a forecast without the model's name, the reason it was chosen, its
uncertainty and how its intervals fared on a holdout invites being read as a fact. Everything
drawn here is read from two JSON documents the engine wrote — the step's report (an artefact
of the spec's latest run record) and an evaluation artefact — by key, and each part is drawn
only when its keys are there, so an older report shows what it has. Nothing here knows which
model or table it is drawing; sentences that explain a figure come from the report itself.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.formatting import humanize, show
from dashboards.schema import ModelReport


def latest_artefact(store: Any, spec: str, kind: str) -> tuple[dict[str, Any] | None, str | None]:
    """The newest report of ``kind`` left by ``spec`` in any run, with that run's id."""
    for record in reversed(store.list()):
        for item in record.specs:
            if item.spec == spec:
                for artefact in item.artefacts:
                    if artefact.get("kind") == kind:
                        return artefact, record.run_id
    return None, None


def render_model_report(block: ModelReport, spec: str) -> None:
    """The report of ``block.spec`` (default: this page's spec) and, when named, its evaluation."""
    st.subheader(block.title)
    store = context.workspace().store
    source = block.spec or spec
    report, run_id = latest_artefact(store, source, block.kind)
    if report is None:
        st.info(f"No `{block.kind}` report in the run records of `{source}` yet: run the pipeline to fit the model.")
    else:
        status = report.get("status", "unknown")
        line = f"Status **{status}** (run `{run_id}`" + (f", `{source}`" if source != spec else "") + \
            f"): {report.get('message') or ''}"
        (st.success if status == "fitted" else st.warning)(line)
        _choice(report)
        _fits(report)
        _intervals(report)
        for warning in report.get("warnings") or []:
            st.warning(warning)
        exclusions = report.get("exclusions") or {}
        if exclusions:
            st.caption("**Not learnt from:** " + " · ".join(f"{n:,} {why}" for why, n in exclusions.items()))
        details = {k: report[k] for k in ("customers", "excluded_from_fit", "invalid_customers", "zero_T_customers",
                                          "fit_filter", "horizon", "time_unit", "annual_discount_rate") if k in report}
        if details:
            st.caption(" · ".join(f"{humanize(k)}: {v:,}" if isinstance(v, int) else f"{humanize(k)}: {v}"
                                  for k, v in details.items()))
    if block.evaluation:
        evaluation(store.load_artefact(block.evaluation), block)


def _choice(report: dict[str, Any]) -> None:
    """Which model produced the predictions, why, and the candidates it was chosen from."""
    label = report.get("model_label") or report.get("model")
    if not label:
        return
    st.markdown(f"**Model: {label}** — {report.get('model_reason') or 'as configured'}")
    candidates = (report.get("selection") or {}).get("candidates") or {}
    if candidates:
        rows = [{"model": c.get("label", name) + (" (chosen)" if name == report.get("model") else ""),
                 "holdout MAE per customer": _num(c.get("mae"), "{:.4f}"),
                 "log-likelihood (calibration)": _num(c.get("log_likelihood"), "{:,.1f}"),
                 "fit": c.get("message", "")} for name, c in candidates.items()]
        selection = report["selection"]
        st.caption(f"Chosen on a backtest: fitted up to {selection.get('calibration_end')}, scored on the "
                   f"{selection.get('holdout_days')} days after ({selection.get('customers', 0):,} customers).")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _fits(report: dict[str, Any]) -> None:
    """One table per fitted model: estimates with their standard errors."""
    fits = [(k, v) for k, v in report.items() if isinstance(v, dict) and "params" in v]
    if not fits:
        return
    cols = st.columns(len(fits))
    for col, (name, fit) in zip(cols, fits):
        with col:
            st.markdown(f"**{fit.get('model', name)}** — {fit.get('message', '')}")
            errors = fit.get("standard_errors") or {}
            rows = [{"parameter": k, "estimate": f"{v:.4g}", "standard error": _num(errors.get(k), "{:.3g}")}
                    for k, v in (fit.get("params") or {}).items()]
            ll = fit.get("log_likelihood")
            rows.append({"parameter": "log-likelihood", "estimate": "—" if ll is None else f"{ll:,.1f}",
                         "standard error": ""})
            rows.append({"parameter": "customers fitted", "estimate": f"{fit.get('n_customers', 0):,}",
                         "standard error": ""})
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _intervals(report: dict[str, Any]) -> None:
    """How the intervals were made, and the interval of the totals."""
    scoring = report.get("scoring") or {}
    band = scoring.get("intervals") or {}
    if not band.get("draws"):
        if band.get("note"):
            st.caption(f"**No intervals:** {band['note']}")
        return
    totals = band.get("totals") or {}
    level = f"{band.get('level', 0.8):.0%}"
    rows = []
    for key, label, fmt in (("expected", "expected orders", "number"), ("clv", "predicted CLV", "money")):
        point = scoring.get("expected_orders_total" if key == "expected" else "predicted_clv_total")
        if f"{key}_low" in totals:
            rows.append({"total over all customers": label, "estimate": show(point, fmt),
                         f"{level} interval": f"{show(totals[f'{key}_low'], fmt)} – {show(totals[f'{key}_high'], fmt)}"})
    st.markdown(f"**{level} intervals** — {band.get('method', '')}: {band['draws']} parameter draws, "
                f"seed {band.get('seed')} (the same seed gives the same intervals). They describe the "
                "estimate's uncertainty, not where one customer's actual count will fall.")
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _num(value: Any, pattern: str) -> str:
    return "—" if value is None or (isinstance(value, float) and pd.isna(value)) else pattern.format(value)


def _pct(value: Any, signed: bool = False) -> str:
    return _num(value, "{:+.1f}%" if signed else "{:.1%}")


def _claimed(coverage: dict[str, Any], what: str) -> str:
    """``91.2% (92.0%)``: the predictive interval's coverage and the share the model claims for it."""
    got, claim = coverage.get(f"{what}_predictive"), coverage.get(f"{what}_predictive_claimed")
    return _pct(got) + (f" ({_pct(claim)})" if got is not None and claim is not None else "")


def evaluation(report: dict[str, Any] | None, block: ModelReport) -> None:
    """The backtest: every model and baseline, orders and money, interval coverage, calibration."""
    st.markdown("**Holdout evaluation** (refitted on a calibration window, scored on the holdout after it)")
    if not report:
        command = block.evaluate_command or f"an evaluation saved as '{block.evaluation}'"
        st.info(f"No evaluation yet. Run `{command}` to refit on a calibration window and score the holdout.")
        return
    if "models" not in report:
        _naive_only(report)
    else:
        _table(report)
    facts = {k: report.get(k) for k in ("calibration_end", "holdout_days", "holdout_end", "customers", "created_at")
             if report.get(k) is not None}
    if facts:
        st.caption(" · ".join(f"{humanize(k)}: {v:,}" if isinstance(v, int) else f"{humanize(k)}: {v}"
                              for k, v in facts.items()))
    _calibration(report)
    _by_frequency(report)


def _table(report: dict[str, Any]) -> None:
    chosen = report.get("chosen")
    if chosen:
        label = report["models"].get(chosen, {}).get("label", chosen)
        st.markdown(f"**Chosen: {label}** — {report.get('chosen_reason', '')}")
    rows = []
    entries = [(k == chosen, e) for k, e in report["models"].items()] + [(False, e) for e in report["baselines"].values()]
    for is_chosen, e in entries:
        o, m, cov = e.get("orders") or {}, e.get("money") or {}, e.get("coverage") or {}
        rows.append({
            "model": e.get("label", "") + (" (chosen)" if is_chosen else ""),
            "orders MAE": _num(o.get("mae"), "{:.3f}"), "orders RMSE": _num(o.get("rmse"), "{:.3f}"),
            "orders aggregate error": _pct(o.get("aggregate_error_pct"), True), "orders Gini": _num(o.get("gini"), "{:.3f}"),
            "money MAE": _num(m.get("mae"), "{:,.2f}"), "money aggregate error": _pct(m.get("aggregate_error_pct"), True),
            "interval coverage, orders": _pct(cov.get("orders")), "interval coverage, money": _pct(cov.get("money")),
            "predictive coverage, orders (model's claim)": _claimed(cov, "orders"),
            "predictive coverage, money (model's claim)": _claimed(cov, "money"),
            "fit": "" if o else (e.get("message") or "not fitted")})
    frame = pd.DataFrame(rows)
    frame = frame[[c for c in frame.columns if (frame[c] != "—").any() and (frame[c] != "").any()] or ["model"]]
    st.dataframe(frame, hide_index=True, width="stretch")
    if report.get("coverage_note"):
        st.caption(f"**Coverage:** {report['coverage_note']}")


def _naive_only(report: dict[str, Any]) -> None:
    """An evaluation of the older shape: one model next to the naive baseline."""
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


def _calibration(report: dict[str, Any]) -> None:
    """The chosen model's P(alive) in ten groups against the share seen buying in the holdout."""
    chosen = (report.get("models") or {}).get(report.get("chosen") or "", {})
    groups = chosen.get("calibration") or []
    if not groups:
        return
    names = {"predicted_p_alive": "predicted P(alive)", "observed_active": "observed share active",
             "true_alive": "true share alive (simulated data)"}
    frame = pd.DataFrame(groups).rename(columns=names)
    long = frame.melt(id_vars=["group", "customers"], value_vars=[v for v in names.values() if v in frame.columns],
                      var_name="series", value_name="share")
    st.markdown(f"**P(alive) calibration of {chosen.get('label', 'the chosen model')}** (ten equal groups by "
                "predicted P(alive); active = bought in the holdout, a lower bound of alive)")
    st.altair_chart(alt.Chart(long).mark_bar().encode(
        x=alt.X("group:O", title="Group (by predicted P(alive))", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("share:Q", title="Share", axis=alt.Axis(format="%")), color="series:N", xOffset="series:N",
        tooltip=["group", "customers", "series", alt.Tooltip("share:Q", format=".1%")]).properties(height=240),
        width="stretch")


def _by_frequency(report: dict[str, Any]) -> None:
    buckets = report.get("by_frequency") or []
    if not buckets:
        return
    frame = pd.DataFrame(buckets).melt(id_vars=["frequency"], value_vars=["actual_mean", "naive_mean", "model_mean"],
                                       var_name="series", value_name="mean").dropna()
    frame["series"] = frame["series"].str.replace("_mean", "")
    st.altair_chart(alt.Chart(frame).mark_bar().encode(
        x=alt.X("frequency:N", title="Repeat purchases in calibration", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("mean:Q", title="Mean holdout purchases"), color="series:N", xOffset="series:N",
        tooltip=["frequency", "series", alt.Tooltip("mean:Q", format=".3f")]).properties(height=260),
        width="stretch")
