"""The backtest that can fail: every family and two baselines on one holdout, orders and money.

Input: a calibration summary (``frequency, recency, T, monetary``) with the holdout's truth
(``actual`` repeat purchases, ``actual_value`` revenue) per customer, and which customers the
production fit learns from (``learn``: the same fit filter; the others are left out of fit and
metrics alike). For each family (fitted on the calibration window) and baseline:

- orders per customer: MAE, RMSE, aggregate error %; normalized Gini of the ranking;
- money per customer: MAE of holdout revenue vs predicted CLV over the same window
  (undiscounted, expected purchases × Gamma-Gamma expected value), aggregate error %, Gini;
- P(alive) calibration: ten equal-count groups by predicted P(alive), predicted mean vs the
  observed share active (≥ 1 purchase) in the holdout — an active customer is alive, an alive
  one need not buy, so the observed share is a lower bound of the true alive share;
- interval coverage: share of customers whose holdout orders (revenue) fall in the 80%
  parameter-uncertainty interval — low by design (the interval is for the expectation, not the
  count), reported so nobody reads it as a prediction interval;
- predictive coverage: the same share for the 80% *predictive* interval (the model's
  distribution of the customer's holdout orders and revenue given their history, parameter
  uncertainty included), next to the share the model itself puts inside that interval (above
  80%: whole-number counts, mostly 0): equal when the model's spread is right, short of it when
  the model is overconfident — the check of the uncertainty that can fail.

Baselines: **naive rate** — the customer's repeat rate ``x/T`` (the population's ``Σx/ΣT`` for
one-time buyers, who would otherwise be predicted 0) × holdout, times their own mean spend (the
population's for one-time buyers); **RFM regression** — least squares of holdout orders (and
revenue) on calibration recency, frequency, monetary value, tenure and their simple transforms,
cross-fitted: fitted on one random half of the customers and applied to the other, both ways.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.clv import gamma_gamma
from engine.clv.evaluate import auc, normalized_gini
from engine.clv.families import FAMILIES, score
from engine.clv.intervals import intervals, predictive_intervals
from engine.clv.selection import choose
from engine.clv.validation import screen


def _orders_money(pred: np.ndarray, y: np.ndarray, money_pred: np.ndarray | None, v: np.ndarray) -> dict[str, Any]:
    def err(p: np.ndarray, a: np.ndarray) -> float | None:
        return 100.0 * (p.sum() - a.sum()) / a.sum() if a.sum() else None
    out: dict[str, Any] = {"orders": {"mae": float(np.abs(pred - y).mean()), "rmse": float(np.sqrt(((pred - y) ** 2).mean())),
                                      "predicted": float(pred.sum()), "aggregate_error_pct": err(pred, y),
                                      "gini": normalized_gini(y, pred)}}
    if money_pred is not None:
        out["money"] = {"mae": float(np.abs(money_pred - v).mean()), "predicted": float(money_pred.sum()),
                        "aggregate_error_pct": err(money_pred, v), "gini": normalized_gini(v, money_pred)}
    return out


def calibration_deciles(p_alive: np.ndarray, active: np.ndarray, groups: int = 10,
                        truth: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Equal-count groups by predicted P(alive) (ties broken by position): predicted vs observed
    active (a lower bound of alive) and, with simulated ground truth, the true share alive."""
    order = np.argsort(p_alive, kind="stable")
    return [{"group": i + 1, "customers": int(len(idx)), "predicted_p_alive": float(p_alive[idx].mean()),
             "observed_active": float(active[idx].mean()),
             **({} if truth is None else {"true_alive": float(truth[idx].mean())})}
            for i, idx in enumerate(np.array_split(order, groups)) if len(idx)]


def _features(x, t_x, T, m) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(T > 0, x / T, 0.0)
    spend = np.where(x > 0, np.nan_to_num(m), 0.0)
    return np.column_stack([np.ones_like(x), x, t_x, T, T - t_x, rate, (x > 0).astype(float),
                            np.log1p(spend), np.sqrt(x)])


def rfm_regression(x, t_x, T, m, target: np.ndarray, seed: int = 19) -> np.ndarray:
    """Cross-fitted least-squares predictions of ``target`` (never negative)."""
    X = _features(x, t_x, T, m)
    half = np.random.default_rng(seed).permutation(len(x)) % 2 == 0
    pred = np.zeros(len(x))
    for train in (half, ~half):
        if train.sum() < X.shape[1] or (~train).sum() == 0:
            continue
        coef, *_ = np.linalg.lstsq(X[train], target[train], rcond=None)
        pred[~train] = X[~train] @ coef
    return np.maximum(pred, 0.0)


def naive_rate(x, T, m, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Orders and money of the naive baseline (see the module docstring)."""
    pop_rate = float(x.sum() / T.sum()) if T.sum() > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where((x > 0) & (T > 0), x / T, pop_rate)
    orders = rate * horizon
    repeat = (x > 0) & np.isfinite(m) & (m > 0)
    pop_value = float(np.average(m[repeat], weights=x[repeat])) if repeat.any() else 0.0
    return orders, orders * np.where(repeat, m, pop_value)


def evaluate_all(summary: pd.DataFrame, horizon: float, *, learn: np.ndarray | None = None, alive=None,
                 setting: str = "auto", min_repeat_customers: int = 100, max_iterations: int = 1000,
                 level: float = 0.8, draws: int = 100, seed: int = 19) -> dict[str, Any]:
    """Every family, both baselines and the chosen model on one calibration / holdout split."""
    x, t_x, T, m, y = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary", "actual"))
    v = summary["actual_value"].to_numpy(dtype=float) if "actual_value" in summary else None
    checked = screen(x, t_x, T)
    keep = checked.valid & np.isfinite(y) & (np.ones(len(x), bool) if learn is None else np.asarray(learn, bool))
    n_filtered = int((checked.valid & ~keep).sum())
    x, t_x, T, m, y = x[keep], t_x[keep], T[keep], m[keep], y[keep]
    v = None if v is None else np.nan_to_num(v[keep])
    m = np.where(x > 0, m, np.nan)
    truth = None if alive is None else np.asarray(alive, dtype=bool)[keep]
    fit_w = np.where(T > 0, 1.0, 0.0)
    spend = gamma_gamma.fit(x, np.nan_to_num(m, nan=0.0), fit_w, min_customers=min_repeat_customers,
                            max_iterations=max_iterations) if v is not None else None
    spend_ok = spend is not None and spend.converged
    value = (gamma_gamma.conditional_expected_value(gamma_gamma.GammaGammaParams.from_dict(spend.params), x, m)
             if spend_ok else None)
    models: dict[str, dict[str, Any]] = {}
    for name, family in FAMILIES.items():
        fit = family.fit(x, t_x, T, fit_w, min_repeat_customers=min_repeat_customers, max_iterations=max_iterations)
        entry: dict[str, Any] = {"label": family.label, "fit": fit.as_dict(), "converged": fit.converged,
                                 "message": fit.message, "log_likelihood": fit.log_likelihood}
        if fit.converged and fit.params:
            s = score(family, family.params(fit.params), horizon, x, t_x, T)
            pred, p_alive = s["expected"], s["p_alive"]
            money = pred * value if value is not None else None
            entry.update(_orders_money(pred, y, money, v if v is not None else y))
            entry["mae"] = entry["orders"]["mae"]
            entry["calibration"] = calibration_deciles(p_alive, y > 0, truth=truth)
            entry["auc_p_alive"] = None if truth is None else auc(truth, p_alive)
            band = intervals(family, fit, spend if spend_ok else None, horizon, x, t_x, T, m if spend_ok else None,
                             level=level, draws=draws, seed=seed)
            if band.get("draws"):
                entry["coverage"] = _coverage(band, predictive_intervals(
                    family, fit, spend if spend_ok else None, horizon, x, t_x, T, m if spend_ok else None,
                    level=level, draws=draws, seed=seed), y, v)
            entry["_pred"] = pred
        models[name] = entry
    naive_orders, naive_money = naive_rate(x, T, m, horizon)
    rfm_orders = rfm_regression(x, t_x, T, m, y, seed)
    rfm_money = rfm_regression(x, t_x, T, m, v, seed) if v is not None else None
    baselines = {"naive": {"label": "naive rate", **_orders_money(naive_orders, y, naive_money if v is not None else None,
                                                                  v if v is not None else y)},
                 "rfm_regression": {"label": "RFM regression (cross-fitted halves)",
                                    **_orders_money(rfm_orders, y, rfm_money, v if v is not None else y)}}
    if setting == "auto":
        chosen, reason = choose(models)
    else:
        chosen, reason = setting, f"model: {setting} in the spec"
    preds = {k: e.pop("_pred") for k, e in models.items() if "_pred" in e}
    best = models.get(chosen or "", {})
    report: dict[str, Any] = {
        "customers": int(len(x)), "excluded_invalid": checked.n_invalid, "invalid": checked.as_dict(),
        "excluded_by_fit_filter": n_filtered, "horizon": float(horizon), "models": models, "baselines": baselines,
        "chosen": chosen, "chosen_reason": reason, "gamma_gamma": spend.as_dict() if spend else None,
        "coverage_note": coverage_note(level), "interval_level": level, "interval_draws": draws,
        # the chosen model next to the naive baseline, in the shape the dashboard reads
        "fit": best.get("fit") or {"model": chosen, "converged": False, "params": None},
        "message": best.get("message", reason),
        "aggregate": {"actual": float(y.sum()),
                      "model": ({"predicted": best["orders"]["predicted"], "error_pct": best["orders"]["aggregate_error_pct"]}
                                if "orders" in best else None),
                      "naive": {"predicted": baselines["naive"]["orders"]["predicted"],
                                "error_pct": baselines["naive"]["orders"]["aggregate_error_pct"]}},
        "mae": {"model": best.get("mae"), "naive": baselines["naive"]["orders"]["mae"],
                "mean_actual": float(y.mean()) if len(y) else None},
        "gini": {"model": best.get("orders", {}).get("gini"), "naive": baselines["naive"]["orders"]["gini"]},
        "auc_p_alive": best.get("auc_p_alive"),
        "auc_recency_baseline": None if truth is None else auc(truth, -(T - t_x)),
        "by_frequency": _by_frequency(x, y, naive_orders, preds.get(chosen or "")),
    }
    return report


def coverage_note(level: float) -> str:
    """The sentence a report shows next to the coverages."""
    pct = f"{level:.0%}"
    return (f"interval coverage is the share of customers whose holdout orders (revenue) fall inside the {pct} "
            "interval of their expected value — parameter uncertainty only, so it is low by design: a customer "
            "expected to order 0.4 times orders 0 or 1, outside any interval around 0.4. Predictive coverage uses "
            f"the {pct} interval of the customer's actual holdout orders (revenue) under the model, parameter "
            "uncertainty included. Counts are whole numbers, most of them 0, so such an interval holds more than "
            f"{pct} of the model's own draws: the model's claim is shown beside it. A right model's coverage matches "
            "its claim; an overconfident one falls short.")


def _coverage(band: dict[str, Any], pred: dict[str, Any], y: np.ndarray, v: np.ndarray | None) -> dict[str, float]:
    """Shares of customers inside each interval (expectation and predictive; orders and money)."""
    def inside(lo: np.ndarray, hi: np.ndarray, actual: np.ndarray) -> float:
        return float(np.mean((lo <= actual) & (actual <= hi)))
    out = {"orders": inside(band["expected_low"], band["expected_high"], y)}
    if "clv_low" in band and v is not None:
        out["money"] = inside(band["clv_low"], band["clv_high"], v)
    if pred.get("draws"):
        out["orders_predictive"] = inside(pred["orders_low"], pred["orders_high"], y)
        out["orders_predictive_claimed"] = pred["orders_claimed"]
        if "money_low" in pred and v is not None:
            out["money_predictive"] = inside(pred["money_low"], pred["money_high"], v)
            out["money_predictive_claimed"] = pred["money_claimed"]
    return out


def _by_frequency(x, y, naive, model, top: int = 7) -> list[dict[str, Any]]:
    capped = np.minimum(x, top)
    return [{"frequency": f"{k}+" if k == top else str(k), "customers": int(sel.sum()),
             "actual_mean": float(y[sel].mean()), "naive_mean": float(naive[sel].mean()),
             "model_mean": None if model is None else float(model[sel].mean())}
            for k in range(top + 1) for sel in [capped == k] if sel.any()]
