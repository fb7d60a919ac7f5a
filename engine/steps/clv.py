"""The ``clv_model`` step: fit BG/NBD + Gamma-Gamma on the driver, score in Spark.

1. One Spark aggregate compresses the per-customer summary to distinct
   ``(x, t_x, T, m̄ of repeat customers)`` rows with counts (invalid rows fold into one group);
   that small table is collected (Arrow) and both models are fitted on it in numpy.
2. Scoring never runs Python per row. ``P(alive)`` and the Gamma-Gamma conditional mean are
   Spark SQL expressions with the fitted parameters as literals. The expected number of
   purchases is ``P(alive) × growth(x, T)`` where ``growth`` (the hypergeometric part, see
   :func:`engine.clv.bgnbd.growth`) depends on ``x`` and ``T`` only: it is computed in numpy
   for each distinct ``(x, T)`` and joined back (broadcast).
3. A model that cannot be fitted (too little data, no convergence, an unusable estimate)
   leaves its columns null; the input columns are kept as they are and the run goes on. The
   fit report (parameters, log-likelihood, convergence, counts, the reason when skipped) is
   appended to ``ctx.artefacts``; the run record keeps it.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from engine.clv import FitResult, skipped, summary_line
from engine.clv import bgnbd, gamma_gamma
from engine.spec.clv import UNIT_DAYS, ClvModelStep
from engine.steps.context import StepContext

_BROADCAST_MAX_ROWS = 2_000_000
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


def _is_valid(x: Column, t_x: Column, T: Column) -> Column:
    """A usable BG/NBD summary row (same rules as :func:`engine.clv.bgnbd.check_summary`)."""
    present = x.isNotNull() & t_x.isNotNull() & T.isNotNull() & ~F.isnan(x) & ~F.isnan(t_x) & ~F.isnan(T)
    finite = (F.abs(x) < float("inf")) & (F.abs(t_x) < float("inf")) & (F.abs(T) < float("inf"))
    return (present & finite & (x >= 0) & (x == F.floor(x)) & (t_x >= 0) & (t_x <= T)
            & ((x > 0) == (t_x > 0)))


def _fit_safely(fit: Any, model: str, *args: Any, **kwargs: Any) -> FitResult:
    """A fit whose unexpected exception becomes a reported failure, not a failed pipeline."""
    try:
        return fit(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - numerical trouble must not stop the run
        return skipped(model, f"the fit failed: {type(exc).__name__}: {exc}")


def run_clv_model(step: ClvModelStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Add p_alive, expected orders, expected order value and predicted CLV to a customer summary."""
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
        frame = frame.persist()  # read twice: by the fit's aggregate and by the output
        ctx.cached.append(frame)

    # the summary as doubles, null on invalid rows: computed once, below the join
    x0, tx0, T0 = (F.col(f"`{c}`").cast("double") for c in (cols.frequency, cols.recency, cols.T))
    valid0 = _is_valid(x0, tx0, T0)
    m0 = F.col(f"`{cols.monetary}`").cast("double") if cols.monetary else F.lit(None).cast("double")
    learn0 = F.coalesce(F.expr(step.fit_filter), F.lit(False)) if step.fit_filter else F.lit(True)
    keyed = frame.select("*", *[F.when(valid0, c).alias(_TMP + n)
                                for n, c in (("x", x0), ("t_x", tx0), ("T", T0), ("learn", learn0))],
                         F.when(valid0 & (x0 > 0), m0).alias(_TMP + "m"))
    x, t_x, T, m = (F.col(_TMP + n) for n in ("x", "t_x", "T", "m"))

    summary = keyed.groupBy(x.alias("x"), t_x.alias("t_x"), T.alias("T"), m.alias("m"),
                            F.col(_TMP + "learn").alias("learn")).agg(F.count(F.lit(1)).alias("n"))
    with arrow_transfers(ctx.spark):
        rows = summary.toPandas()
    bad = rows["x"].isna()
    n_invalid = int(rows.loc[bad, "n"].sum())
    rows = rows.loc[~bad]
    xs, txs, Ts, ms = (rows[c].to_numpy(dtype=float) for c in ("x", "t_x", "T", "m"))
    weights = rows["n"].to_numpy(dtype=float)
    fit_w = np.where(rows["learn"].to_numpy(dtype=bool), weights, 0.0)  # zero weight: scored, not learnt from

    bg = _fit_safely(bgnbd.fit, "bgnbd", xs, txs, Ts, fit_w, min_repeat_customers=step.min_repeat_customers,
                     max_iterations=step.max_iterations)
    gg = None
    if cols.monetary:
        gg = _fit_safely(gamma_gamma.fit, "gamma_gamma", xs, ms, fit_w, min_customers=step.min_repeat_customers,
                         max_iterations=step.max_iterations)

    horizon = step.horizon_in_time_unit
    report: dict[str, Any] = {
        "kind": "clv_model", "step": ctx.step_label, "spec": ctx.spec_name,
        "time_unit": step.time_unit, "horizon": step.horizon, "horizon_unit": step.horizon_unit or step.time_unit,
        "horizon_in_time_unit": horizon, "annual_discount_rate": step.annual_discount_rate,
        "columns": outputs, "customers": int(weights.sum()) + n_invalid, "invalid_customers": n_invalid,
        "fit_filter": step.fit_filter, "excluded_from_fit": int(weights.sum() - fit_w.sum()),
        "bgnbd": bg.as_dict(), "gamma_gamma": gg.as_dict() if gg else None,
    }

    null = F.lit(None).cast("double")
    p_alive = expected = discounted = value = None
    scored = keyed
    if bg.converged and bg.params:
        params = bgnbd.BgNbdParams.from_dict(bg.params)
        growth, report["scoring"] = _growth_table(ctx.spark, params, xs, txs, Ts, weights, horizon,
                                                  step.annual_discount_rate, UNIT_DAYS[step.time_unit])
        small = report["scoring"]["distinct_x_T"] <= _BROADCAST_MAX_ROWS
        scored = keyed.join(F.broadcast(growth) if small else growth, on=[_TMP + "x", _TMP + "T"], how="left")
        p_alive = _p_alive_sql(params, x, t_x, T)  # null where the summary is invalid (x is null)
        expected = p_alive * F.col(_TMP + "g")
        discounted = p_alive * F.col(_TMP + "gd") if step.annual_discount_rate > 0 else expected
    if gg is not None and gg.converged and gg.params:
        value = _expected_value_sql(gamma_gamma.GammaGammaParams.from_dict(gg.params), x, m)

    new = {outputs["p_alive"]: p_alive, outputs["expected_orders"]: expected}
    if cols.monetary:
        new[outputs["expected_order_value"]] = value
        new[outputs["predicted_clv"]] = discounted * value if discounted is not None and value is not None else None
    report["status"], report["message"] = _status(bg, gg)
    report["seconds_driver"] = round(time.monotonic() - started, 3)
    report["summary"] = summary_line(report)
    ctx.artefacts.append(report)
    return scored.select(*[F.col(f"`{c}`") for c in frame.columns],
                         *[(null if col is None else col.cast("double")).alias(name) for name, col in new.items()])


def _status(bg: FitResult, gg: FitResult | None) -> tuple[str, str]:
    """``fitted`` / ``partial`` / ``not_fitted`` and the sentence a run report shows."""
    fits = [bg] + ([gg] if gg is not None else [])
    if all(f.converged for f in fits):
        return "fitted", "all models fitted; predictive columns published"
    parts = []
    if not bg.converged:
        parts.append(f"BG/NBD not used ({bg.message}): p_alive, expected orders and predicted CLV are null")
    if gg is not None and not gg.converged:
        parts.append(f"Gamma-Gamma not used ({gg.message}): expected order value and predicted CLV are null")
    return ("partial" if any(f.converged for f in fits) else "not_fitted"), "; ".join(parts)


def _p_alive_sql(params: bgnbd.BgNbdParams, x: Column, t_x: Column, T: Column) -> Column:
    """P(alive) = 1 / (1 + δ_{x>0} · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)), FHL (2005) eq. (11), in logs."""
    r, alpha, a, b = (F.lit(v) for v in (params.r, params.alpha, params.a, params.b))
    log_odds = F.log(a) - F.log(b + x - 1) + (r + x) * (F.log(alpha + T) - F.log(alpha + t_x))
    return F.when(x > 0, 1.0 / (1.0 + F.exp(log_odds))).when(x == 0, F.lit(1.0))


def _expected_value_sql(params: gamma_gamma.GammaGammaParams, x: Column, m: Column) -> Column:
    """E(M | x, m̄) = p(γ + x m̄)/(px + q - 1) for repeat customers with m̄ > 0, else pγ/(q-1)."""
    p, q, g = (F.lit(v) for v in (params.p, params.q, params.gamma))
    own = (x > 0) & m.isNotNull() & ~F.isnan(m) & (m > 0)
    return (F.when(own, p * (g + x * m) / (p * x + q - 1))
            .when(x.isNotNull(), F.lit(params.population_mean)))  # null x: an invalid summary row


def _clean(values: np.ndarray) -> np.ndarray:
    """Rounding noise below zero becomes 0; a non-finite or clearly negative value becomes NaN (null)."""
    ok = np.isfinite(values) & (values > -1e-9)
    return np.where(ok, np.maximum(values, 0.0), np.nan)


def _growth_table(spark: SparkSession, params: bgnbd.BgNbdParams, xs: np.ndarray, txs: np.ndarray,
                  Ts: np.ndarray, weights: np.ndarray, horizon: float, rate: float,
                  days_per_unit: float) -> tuple[DataFrame, dict[str, Any]]:
    """growth(x, T) (and its discounted form) per distinct (x, T), as a Spark frame; plus stats."""
    pairs = pd.DataFrame({"x": xs, "T": Ts}).drop_duplicates(ignore_index=True)
    px, pT = pairs["x"].to_numpy(), pairs["T"].to_numpy()
    table = {_TMP + "x": px, _TMP + "T": pT, _TMP + "g": _clean(bgnbd.growth(params, horizon, px, pT))}
    if rate > 0:
        table[_TMP + "gd"] = _clean(bgnbd.discounted_growth(params, horizon, px, pT, rate, days_per_unit))
    # driver-side check and totals over every valid customer (the distinct rows carry counts)
    alive = bgnbd.p_alive(params, xs, txs, Ts)
    expected = bgnbd.conditional_expected_purchases(params, horizon, xs, txs, Ts)
    finite = np.isfinite(_clean(expected))
    stats = {
        "distinct_x_T": int(len(pairs)),
        "customers_not_scored": int(weights[~finite].sum()),
        "mean_p_alive": float(weights @ alive / weights.sum()) if weights.sum() else None,
        "expected_orders_total": float(weights[finite] @ expected[finite]),
    }
    with arrow_transfers(spark):
        frame = spark.createDataFrame(pd.DataFrame(table))
    frame = frame.select(*[F.when(~F.isnan(F.col(c)), F.col(c)).alias(c) if c.endswith(("_g", "_gd")) else c
                           for c in frame.columns])  # NaN (not computable) -> null
    return frame, stats
