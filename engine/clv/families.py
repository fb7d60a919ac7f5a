"""The three purchase models behind one interface, and scoring that every one of them shares.

Each family is a module with ``fit(x, t_x, T, weights, ...)``, ``p_alive(params, x, t_x, T)``
and ``growth(params, t, x, T)``; for all three the conditional expectation factors as
``E[Y(t) | x, t_x, T] = P(alive | x, t_x, T) · growth(t, x, T)``, where ``growth`` does not
depend on ``t_x``. Scoring therefore evaluates the (hypergeometric) growth once per distinct
``(x, T)`` pair and P(alive) once per distinct row, whatever the number of customers.

- ``bgnbd``: BG/NBD (Fader, Hardie & Lee 2005): a one-time buyer is alive with probability 1.
- ``mbgnbd``: MBG/NBD (Batislam, Denizel & Filiztekin 2007): dropout possible after the first purchase.
- ``pareto_nbd``: Pareto/NBD (Schmittlein, Morrison & Colombo 1987): dropout in continuous time.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from engine.clv import FitResult, bgnbd, compress, mbgnbd, pareto_nbd
from engine.clv.purchase import discounted
from engine.clv.validation import arrays, require_valid


@dataclass(frozen=True)
class Family:
    """One purchase model: its module, parameter class and label for reports."""

    name: str
    label: str
    module: ModuleType
    params_cls: type
    one_time_buyers_can_churn: bool

    def params(self, values: dict[str, float] | np.ndarray) -> Any:
        """Parameters from a fit's mapping or an array in the module's ``NAMES`` order."""
        if isinstance(values, dict):
            return self.params_cls.from_dict(values)
        return self.params_cls(*(float(v) for v in values))

    def fit(self, x, t_x, T, weights=None, **kwargs: Any) -> FitResult:
        return self.module.fit(x, t_x, T, weights, **kwargs)

    def p_alive(self, params: Any, x, t_x, T) -> np.ndarray:
        return self.module.p_alive(params, x, t_x, T)

    def growth(self, params: Any, t, x, T) -> np.ndarray:
        return self.module.growth(params, t, x, T)

    def future_if_alive(self, params: Any, t: float, x, T, rng: np.random.Generator) -> np.ndarray:
        """One draw of each customer's purchases over ``t`` given alive at ``T`` (predictive intervals)."""
        return self.module.future_if_alive(params, t, x, T, rng)

    def p_alive_for(self, x, t_x, T):
        """``params -> P(alive)`` for the given rows, validated once (for repeated scoring)."""
        x, t_x, T = require_valid(*arrays(x, t_x, T))
        prepare = getattr(self.module, "prepare_p_alive", None)
        if prepare is not None:
            return prepare(x, t_x, T)
        return lambda params: self.module._p_alive(params, x, t_x, T)


FAMILIES: dict[str, Family] = {
    "bgnbd": Family("bgnbd", "BG/NBD", bgnbd, bgnbd.BgNbdParams, False),
    "mbgnbd": Family("mbgnbd", "MBG/NBD", mbgnbd, mbgnbd.MbgNbdParams, True),
    "pareto_nbd": Family("pareto_nbd", "Pareto/NBD", pareto_nbd, pareto_nbd.ParetoNbdParams, True),
}


def discounted_growth(family: Family, params: Any, t: float, x, T, annual_rate: float,
                      days_per_unit: float = 1.0, step_days: float = 365.25 / 12) -> np.ndarray:
    """``growth`` with each future purchase discounted at ``annual_rate`` a year, in monthly steps
    by default (:func:`engine.clv.purchase.discounted`). Times P(alive): the discounted number of purchases."""
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    return discounted(lambda tt: family.growth(params, tt, x, T), t, annual_rate, days_per_unit, step_days)


def score(family: Family, params: Any, horizon: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *,
          annual_rate: float = 0.0, days_per_unit: float = 1.0) -> dict[str, np.ndarray]:
    """P(alive), expected purchases over ``horizon`` and their discounted count, per row.

    ``growth`` is evaluated once per distinct ``(x, T)``; ``discounted`` equals ``expected``
    when ``annual_rate`` is 0.
    """
    (px, pT), _, inverse = compress(x, T, return_inverse=True)
    alive = family.p_alive(params, x, t_x, T)
    g = family.growth(params, horizon, px, pT)
    out = {"p_alive": alive, "expected": alive * g[inverse], "growth_pairs": np.asarray(len(px))}
    if annual_rate > 0:
        gd = discounted_growth(family, params, horizon, px, pT, annual_rate, days_per_unit)
        out["discounted"] = alive * gd[inverse]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["discount_ratio"] = np.where(g > 0, gd / g, 1.0)[inverse]
    else:
        out["discounted"] = out["expected"]
        out["discount_ratio"] = np.ones_like(alive)
    return out
