"""``model: auto``: choose the purchase model by how well it predicts a holdout it never saw.

The likelihood cannot choose between the families (their likelihoods are of different models
of the same data; a better fit of the past is not a better forecast), so: rebuild the summary
``holdout_days`` before the last order date, fit every family on that calibration window with
the production fit filter, predict each customer's holdout purchases and keep the family with
the lowest mean absolute error per customer. Ties (within 1e-9) go to the higher calibration
log-likelihood. A family that does not fit is out of the running, with its reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.clv import evaluate as ev
from engine.clv.families import FAMILIES, score
from engine.clv.validation import screen


def candidates(summary: pd.DataFrame, learn: np.ndarray, horizon: float, *, min_repeat_customers: int,
               max_iterations: int) -> dict[str, dict[str, Any]]:
    """Fit every family on a calibration summary (``frequency, recency, T, actual``) and score
    the holdout; ``learn`` marks the customers the fit (and the error) uses."""
    x, t_x, T, y = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "actual"))
    ok = screen(x, t_x, T).valid & learn
    x, t_x, T, y = x[ok], t_x[ok], T[ok], y[ok]
    out: dict[str, dict[str, Any]] = {}
    for name, family in FAMILIES.items():
        fit = family.fit(x, t_x, T, np.where(T > 0, 1.0, 0.0), min_repeat_customers=min_repeat_customers,
                         max_iterations=max_iterations)
        entry: dict[str, Any] = {"label": family.label, "converged": fit.converged, "message": fit.message,
                                 "log_likelihood": fit.log_likelihood, "params": fit.params}
        if fit.converged and fit.params:
            pred = score(family, family.params(fit.params), horizon, x, t_x, T)["expected"]
            entry.update(mae=float(np.mean(np.abs(pred - y))), predicted=float(pred.sum()))
        out[name] = entry
    return out


def choose(found: dict[str, dict[str, Any]]) -> tuple[str | None, str]:
    """The winning family and the sentence that says why."""
    ranked = sorted((v["mae"], -(v["log_likelihood"] or -np.inf), k) for k, v in found.items() if "mae" in v)
    if not ranked:
        return None, "no family could be fitted on the calibration window: " + "; ".join(
            f"{v['label']}: {v['message']}" for v in found.values())
    best_mae, _, best = ranked[0]
    others = ", ".join(f"{found[k]['label']} {m:.4f}" for m, _, k in ranked[1:])
    tie = len(ranked) > 1 and abs(ranked[1][0] - best_mae) <= 1e-9
    reason = (f"{found[best]['label']} has the lowest holdout MAE per customer ({best_mae:.4f}"
              + (f"; {others}" if others else "") + ")" + (", tie broken by log-likelihood" if tie else ""))
    dropped = [f"{v['label']} not fitted ({v['message']})" for v in found.values() if "mae" not in v]
    return best, reason + ("; " + "; ".join(dropped) if dropped else "")


def select(days: pd.DataFrame, learn: pd.Series, *, customer: str, date: str, holdout_days: int,
           days_per_unit: float, min_repeat_customers: int, max_iterations: int) -> dict[str, Any]:
    """The selection report: ``chosen``, ``reason``, ``candidates`` and the windows used.

    ``days`` are order rows (customer, date); ``learn`` is indexed by customer (True: in the fit).
    """
    last = pd.to_datetime(days[date]).max()
    end = (last - pd.Timedelta(days=holdout_days)).normalize()
    summary, holdout = ev.calibration_holdout(days, customer=customer, date=date, calibration_end=end,
                                              holdout_days=holdout_days)
    for c in ("recency", "T"):
        summary[c] = summary[c] / days_per_unit
    mask = learn.reindex(summary.index).fillna(False).to_numpy(dtype=bool)
    found = candidates(summary, mask, holdout / days_per_unit, min_repeat_customers=min_repeat_customers,
                       max_iterations=max_iterations)
    chosen, reason = choose(found)
    return {"chosen": chosen, "reason": reason, "candidates": found, "calibration_end": str(end.date()),
            "holdout_days": holdout, "customers": int(mask.sum())}
