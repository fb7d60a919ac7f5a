"""What the three purchase models (and Gamma-Gamma's parameters) share: one copy, not three.

- :class:`ModelParams`: the parameter dataclasses' construction from a fit's mapping and their
  values in order (the log-parameters the optimiser and the interval sampling work on).
- :func:`fit_family`: the fit's scaffolding — refuse invalid rows, drop zero weights, compress
  to distinct weighted rows, skip with the reason when too few customers repeat, start from
  the mean repeat rate, maximise with :func:`engine.clv.minimize_log` (standard errors from the
  observed information come with a converged fit). Only the likelihood and its data layout
  differ between BG/NBD, MBG/NBD and Pareto/NBD.
- :func:`discounted`: a growth function's purchases discounted step by step (DERT's discrete
  approximation), for every family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import numpy as np

from engine.clv import FitResult, compress, minimize_log, skipped, wsum
from engine.clv.validation import arrays, require_valid


class ModelParams:
    """Mixin of the frozen parameter dataclasses (fields in the model's parameter order)."""

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> Any:
        """From a fit's ``params`` mapping."""
        return cls(*(float(values[f.name]) for f in fields(cls)))  # type: ignore[arg-type]

    def values(self) -> list[float]:
        """The parameters in order (the optimiser's ``exp(theta)``)."""
        return [float(getattr(self, f.name)) for f in fields(self)]  # type: ignore[arg-type]


def repeat_rate(x: np.ndarray, T: np.ndarray, w: np.ndarray) -> float:
    """The population's repeat purchases per unit of time (a start for the rate scale ``α``)."""
    return max(wsum(w, x) / max(wsum(w, T), 1e-12), 1e-9)


def fit_family(model: str, x, t_x, T, weights, *, names: Sequence[str], make_data: Callable[..., Any],
               neg_ll_and_grad: Callable[[np.ndarray, Any], tuple[float, np.ndarray]],
               start: ModelParams | None, default_start: Callable[[np.ndarray, np.ndarray, np.ndarray], list[float]],
               min_repeat_customers: int, max_iterations: int) -> FitResult:
    """Maximum likelihood for one family from per-customer (or distinct, weighted) rows.

    ``make_data(x, t_x, T, w)`` lays the distinct rows out for ``neg_ll_and_grad(theta, data)``
    (``-LL`` and its gradient in log-parameters); ``default_start(x, T, w)`` gives the start
    when ``start`` is None. Rows must be valid summaries (:class:`~engine.errors.InvalidSummaryError`
    otherwise: callers screen with :func:`engine.clv.validation.screen` first).
    """
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = w > 0
    (x, t_x, T), w = compress(x[keep], t_x[keep], T[keep], weights=w[keep])
    n, n_repeat = float(w.sum()), float(w[x > 0].sum())
    least = max(min_repeat_customers, 1)
    if n_repeat < least:
        return skipped(model, f"too little data: {n_repeat:,.0f} repeat customer(s) of {n:,.0f} "
                              f"(the minimum is {least:,})", n_customers=int(n), n_rows=len(x), n_repeat=int(n_repeat))
    data = make_data(x, t_x, T, w)
    theta0 = start.values() if start is not None else default_start(x, T, w)
    result = minimize_log(lambda theta: neg_ll_and_grad(theta, data), theta0, names, total_weight=n, model=model,
                          max_iterations=max_iterations, n_customers=int(n), n_rows=len(x))
    result.extra["n_repeat"] = int(n_repeat)
    return result


def discounted(growth: Callable[[float], np.ndarray], t: float, annual_rate: float, days_per_unit: float = 1.0,
               step_days: float = 365.25 / 12) -> np.ndarray:
    """``growth(t)`` (purchases expected by ``t``) with each purchase discounted at ``annual_rate`` a year.

    The horizon is cut into ``K = max(1, round(t_days / step_days))`` equal steps (monthly by
    default); the purchases expected in step ``k``, ``growth(t_k) - growth(t_{k-1})``, are
    discounted from the step's end, ``(1 + annual_rate)^-(t_k in days / 365.25)`` (the usual
    discrete approximation of DERT). Times P(alive): the discounted number of purchases.
    """
    t_days = float(t) * days_per_unit
    steps = max(1, int(round(t_days / step_days)))
    total: np.ndarray | float = 0.0
    previous: np.ndarray | float = 0.0
    for k in range(1, steps + 1):
        current = growth(float(t) * k / steps)
        total = total + (current - previous) * (1.0 + annual_rate) ** (-(t_days * k / steps) / 365.25)
        previous = current
    return np.asarray(total, dtype=float)
