"""The ``clv_model`` step: fit the purchase model + Gamma-Gamma on the driver, join the scores.

1. One Spark aggregate compresses the per-customer summary to distinct
   ``(x, t_x, T, m̄ of repeat customers, in the fit)`` rows with counts; that table is collected
   (Arrow). Invalid summaries are screened there (:func:`engine.clv.validation.screen`): they
   are counted per reason with an example, reported, kept in the output with null predictions.
2. ``model: auto`` first backtests the three families on the step's own order rows
   (:mod:`engine.clv.selection`); then the chosen family and Gamma-Gamma are fitted in numpy.
3. Every distinct row is scored on the driver — P(alive), expected and discounted purchases
   (growth once per distinct ``(x, T)``), expected order value, predicted CLV and their
   intervals (:mod:`engine.clv.intervals`) — and the table is joined back to the customers
   (broadcast when small). No Python runs per Spark row.
4. A model that cannot be fitted leaves its columns null; the input columns are kept and the
   run goes on. The report (model, why it was chosen, parameters with standard errors,
   exclusions per reason, influence warning) is appended to ``ctx.artefacts``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from engine.clv import FitResult, gamma_gamma, selection, skipped, summary_line, wsum
from engine.clv.families import FAMILIES, Family, score
from engine.clv.intervals import intervals
from engine.clv.validation import screen
from engine.spec.clv import UNIT_DAYS, ClvModelStep
from engine.steps.context import RuleOutcome, StepContext

_BROADCAST_MAX_ROWS = 1_000_000
_TMP = "__clv_"


@contextmanager
def arrow_transfers(spark: SparkSession) -> Iterator[None]:
    """Arrow transfers between Spark and pandas for the duration (restored afterwards)."""
    key = "spark.sql.execution.arrow.pyspark.enabled"
    old = spark.conf.get(key, None)
    spark.conf.set(key, "true")
    try:
        yield
    finally:
        if old is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, old)


def _fit_safely(fit: Any, model: str, *args: Any, **kwargs: Any) -> FitResult:
    """A fit whose unexpected exception becomes a reported failure, not a failed pipeline."""
    try:
        return fit(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - numerical trouble must not stop the run
        return skipped(model, f"the fit failed: {type(exc).__name__}: {exc}")


def _choose_family(step: ClvModelStep, frame: DataFrame, learn: Column, ctx: StepContext) -> tuple[Family, dict | None]:
    """The family to fit: the configured one, or the backtest's choice for ``model: auto``."""
    if step.model != "auto":
        return FAMILIES[step.model], None
    sel = step.selection
    assert sel is not None
    if sel.orders not in ctx.frames:
        raise ValueError(f"clv_model: selection.orders '{sel.orders}' is not a frame of this spec "
                         f"(have: {', '.join(sorted(ctx.frames))})")
    orders = ctx.frame(sel.orders)
    for name, columns in ((sel.orders, orders.columns), ("the step's input", frame.columns)):
        lost = [c for c in ((sel.customer, sel.date) if name == sel.orders else (sel.customer,)) if c not in columns]
        if lost:
            raise ValueError(f"clv_model: selection: no column {', '.join(lost)} in {name}")
    with arrow_transfers(ctx.spark):
        days = (orders.where(F.col(f"`{sel.customer}`").isNotNull())
                .select(F.col(f"`{sel.customer}`").alias("c"), F.to_date(F.col(f"`{sel.date}`")).alias("d"))
                .distinct().toPandas().sort_values(["c", "d"], kind="mergesort", ignore_index=True))
        flags = (frame.select(F.col(f"`{sel.customer}`").alias("c"), learn.alias("learn")).toPandas()
                 .sort_values("c", kind="mergesort", ignore_index=True))  # same order every run, as below
    report = selection.select(days, flags.set_index("c")["learn"], customer="c", date="d",
                              holdout_days=sel.holdout_days, days_per_unit=UNIT_DAYS[step.time_unit],
                              min_repeat_customers=step.min_repeat_customers, max_iterations=step.max_iterations)
    chosen = report["chosen"] or "bgnbd"
    if report["chosen"] is None:
        report["reason"] += "; BG/NBD is fitted on everything instead"
    return FAMILIES[chosen], report


def run_clv_model(step: ClvModelStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Add P(alive), expected orders, expected order value, predicted CLV and intervals to a summary."""
    started = time.monotonic()
    cols = step.columns
    wanted = [c for c in (cols.frequency, cols.recency, cols.T, cols.monetary) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(f"clv_model: no column {', '.join(missing)} (have: {', '.join(frame.columns)})")
    outputs = step.output_columns
    clash = [c for c in outputs.values() if c in frame.columns]
    if clash:
        raise ValueError(f"clv_model: the input already has column(s) {', '.join(clash)}")
    if not frame.is_cached:
        frame = frame.persist()  # read by the fit's aggregate, the selection and the output
        ctx.cached.append(frame)

    x0, tx0, T0 = (F.col(f"`{c}`").cast("double") for c in (cols.frequency, cols.recency, cols.T))
    m0 = F.col(f"`{cols.monetary}`").cast("double") if cols.monetary else F.lit(None).cast("double")
    learn0 = F.coalesce(F.expr(step.fit_filter), F.lit(False)) if step.fit_filter else F.lit(True)
    keys = (_TMP + "x", _TMP + "t_x", _TMP + "T", _TMP + "m")
    keyed = frame.select("*", x0.alias(keys[0]), tx0.alias(keys[1]), T0.alias(keys[2]),
                         F.when(x0 > 0, m0).alias(keys[3]))
    summary = keyed.groupBy(*[F.col(k) for k in keys], learn0.alias("learn")).agg(F.count(F.lit(1)).alias("n"))
    with arrow_transfers(ctx.spark):
        rows = summary.toPandas()
    # Spark returns the groups in an order that depends on the partitioning (cores, shuffle
    # partitions, how the input was split); the fit's weighted sums, and so the last digits of
    # every prediction, depend on that order. Sorted, the same data gives the same model anywhere.
    rows = rows.sort_values([*keys, "learn"], na_position="first", kind="stable", ignore_index=True)
    xs, txs, Ts, ms = (rows[k].to_numpy(dtype=float) for k in keys)
    weights = rows["n"].to_numpy(dtype=float)
    checked = screen(xs, txs, Ts, weights)
    ok = checked.valid
    learn = rows["learn"].to_numpy(dtype=bool)
    learnt = learn & ok & ~checked.zero_T
    fit_w = np.where(learnt, weights, 0.0)  # zero weight: scored, not learnt from
    # every customer the fit does not learn from, by reason (invalid ones are not scored either)
    excluded = {"invalid summary (not scored)": checked.n_invalid,
                f"fit_filter ({step.fit_filter})": int(weights[ok & ~learn].sum()) if step.fit_filter else 0,
                "T = 0 (first order on the as-of date: scored, no information to learn from)":
                    int(weights[ok & learn & checked.zero_T].sum())}
    ctx.rules.append(RuleOutcome(step=ctx.step_label, rule="valid_clv_summary", kind="clv_summary", action="warn",
                                 known_checked=int(weights.sum()), known_failed=checked.n_invalid))

    family, chosen = _choose_family(step, frame, learn0, ctx)
    purchase = _fit_safely(family.fit, family.name, xs[ok], txs[ok], Ts[ok], fit_w[ok],
                           min_repeat_customers=step.min_repeat_customers, max_iterations=step.max_iterations)
    spend = None
    if cols.monetary:
        spend = _fit_safely(gamma_gamma.fit, "gamma_gamma", xs[ok], ms[ok], fit_w[ok],
                            min_customers=step.min_repeat_customers, max_iterations=step.max_iterations)
    horizon = step.horizon_in_time_unit
    report: dict[str, Any] = {
        "kind": "clv_model", "step": ctx.step_label, "spec": ctx.spec_name,
        "model": family.name, "model_label": family.label, "model_setting": step.model,
        "model_reason": chosen["reason"] if chosen else f"model: {step.model} in the spec",
        "selection": chosen, "one_time_buyers_can_churn": family.one_time_buyers_can_churn,
        "time_unit": step.time_unit, "horizon": step.horizon, "horizon_unit": step.horizon_unit or step.time_unit,
        "horizon_in_time_unit": horizon, "annual_discount_rate": step.annual_discount_rate,
        "columns": outputs, "customers": int(weights.sum()), "invalid_customers": checked.n_invalid,
        "invalid": checked.as_dict(), "zero_T_customers": int(weights[checked.zero_T].sum()),
        "fit_filter": step.fit_filter, "excluded_from_fit": int(weights[ok].sum() - fit_w.sum()),
        "exclusions": {k: v for k, v in excluded.items() if v},
        "purchase_model": purchase.as_dict(), "gamma_gamma": spend.as_dict() if spend else None,
    }
    report["warnings"] = [w for w in ([checked.message()] if checked.n_invalid else [])
                          + [spend.extra.get("warning") if spend else None] if w]
    table = _score_table(step, family, purchase, spend, xs[ok], txs[ok], Ts[ok], ms[ok], weights[ok], report)
    new_cols = {"p_alive": "p_alive", "expected_orders": "e", "expected_orders_low": "e_lo",
                "expected_orders_high": "e_hi", "expected_order_value": "v", "predicted_clv": "clv",
                "predicted_clv_low": "c_lo", "predicted_clv_high": "c_hi"}
    null = F.lit(None).cast("double")
    if table is None:
        scored = keyed
        values = {name: null for name in outputs.values()}
    else:
        with arrow_transfers(ctx.spark):
            right = ctx.spark.createDataFrame(table)
        right = right.select(*[F.col(c).alias(_TMP + "r_" + c) for c in right.columns])
        cond = [F.col(k) == F.col(_TMP + "r_" + k) for k in keys[:3]] + [F.col(keys[3]).eqNullSafe(F.col(_TMP + "r_" + keys[3]))]
        small = len(table) <= _BROADCAST_MAX_ROWS
        scored = keyed.join(F.broadcast(right) if small else right, on=cond, how="left")
        values = {name: (F.col(_TMP + "r_" + new_cols[role]) if new_cols[role] in table.columns else null)
                  for role, name in outputs.items() if role != "model"}
    report["status"], report["message"] = _status(family, purchase, spend)
    report["seconds_driver"] = round(time.monotonic() - started, 3)
    report["summary"] = summary_line(report)
    ctx.artefacts.append(report)
    model_name = F.lit(family.name if table is not None else None).cast("string")
    return scored.select(*[F.col(f"`{c}`") for c in frame.columns],
                         *[(model_name if role == "model" else F.when(~F.isnan(values[name]), values[name]).cast("double"))
                           .alias(name) for role, name in outputs.items()])


def _score_table(step: ClvModelStep, family: Family, purchase: FitResult, spend: FitResult | None, x: np.ndarray,
                 t_x: np.ndarray, T: np.ndarray, m: np.ndarray, w: np.ndarray,
                 report: dict[str, Any]) -> pd.DataFrame | None:
    """Predictions per distinct valid ``(x, t_x, T, m̄)`` (the join keys), or None without a fit."""
    if not (purchase.converged and purchase.params):
        return None
    table = pd.DataFrame({_TMP + "x": x, _TMP + "t_x": t_x, _TMP + "T": T, _TMP + "m": m, "n": w})
    table = table.groupby([_TMP + "x", _TMP + "t_x", _TMP + "T", _TMP + "m"], dropna=False, sort=False,
                          as_index=False)["n"].sum()
    x, t_x, T, m, w = (table[c].to_numpy(dtype=float) for c in table.columns)
    params = family.params(purchase.params)
    rate, unit = step.annual_discount_rate, UNIT_DAYS[step.time_unit]
    s = score(family, params, step.horizon_in_time_unit, x, t_x, T, annual_rate=rate, days_per_unit=unit)
    out = {"p_alive": s["p_alive"], "e": _clean(s["expected"])}
    spend_ok = spend is not None and spend.converged and spend.params
    if spend_ok:
        value = gamma_gamma.conditional_expected_value(gamma_gamma.GammaGammaParams.from_dict(spend.params), x, m)
        out["v"], out["clv"] = value, _clean(s["discounted"]) * value
    try:
        band = intervals(family, purchase, spend if spend_ok else None, step.horizon_in_time_unit, x, t_x, T,
                         m if spend_ok else None, discount_ratio=s["discount_ratio"], level=step.intervals.level,
                         draws=step.intervals.draws, seed=step.intervals.seed, weights=w)
    except Exception as exc:  # noqa: BLE001 - like a fit: numerical trouble leaves the columns null, with why
        band = {"draws": 0, "note": f"the intervals failed: {type(exc).__name__}: {exc}"}
    if band.get("draws"):
        out["e_lo"], out["e_hi"] = band["expected_low"], band["expected_high"]
        if "clv_low" in band:
            out["c_lo"], out["c_hi"] = band["clv_low"], band["clv_high"]
    finite = np.isfinite(out["e"])
    report["scoring"] = {
        "distinct_rows": int(len(x)), "distinct_x_T": int(s["growth_pairs"]),
        "customers_not_scored": int(w[~finite].sum()),
        "mean_p_alive": float(wsum(w, s["p_alive"]) / w.sum()) if w.sum() else None,
        "mean_p_alive_one_time_buyers": (float(wsum(w[x == 0], s["p_alive"][x == 0]) / w[x == 0].sum())
                                         if w[x == 0].sum() else None),
        "expected_orders_total": wsum(w[finite], out["e"][finite]),
        "predicted_clv_total": wsum(w[finite], out["clv"][finite]) if "clv" in out else None,
        "intervals": {k: v for k, v in band.items() if not isinstance(v, np.ndarray)},
    }
    for name, values in out.items():
        table[name] = values
    return table.drop(columns=["n"])


def _status(family: Family, purchase: FitResult, spend: FitResult | None) -> tuple[str, str]:
    """``fitted`` / ``partial`` / ``not_fitted`` and the sentence a run report shows."""
    fits = [purchase] + ([spend] if spend is not None else [])
    if all(f.converged for f in fits):
        return "fitted", f"{family.label} + Gamma-Gamma fitted; predictive columns published"
    parts = []
    if not purchase.converged:
        parts.append(f"{family.label} not used ({purchase.message}): p_alive, expected orders and predicted CLV are null")
    if spend is not None and not spend.converged:
        parts.append(f"Gamma-Gamma not used ({spend.message}): expected order value and predicted CLV are null")
    return ("partial" if any(f.converged for f in fits) else "not_fitted"), "; ".join(parts)


def _clean(values: np.ndarray) -> np.ndarray:
    """Rounding noise below zero becomes 0; a non-finite or clearly negative value becomes NaN (null)."""
    ok = np.isfinite(values) & (values > -1e-9)
    return np.where(ok, np.maximum(values, 0.0), np.nan)
