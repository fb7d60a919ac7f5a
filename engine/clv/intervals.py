"""80% intervals for expected orders and predicted CLV: the estimate's own uncertainty.

Method (written down in docs/metrics.md §1): the maximum-likelihood estimate is asymptotically
normal in the log-parameters, with the inverse observed information as covariance
(:func:`engine.clv.uncertainty`). ``draws`` parameter sets are sampled from that normal —
purchase model and Gamma-Gamma independently (they are fitted separately) — with a seeded
generator, so the same seed gives the same intervals. Every customer is scored under every
draw; the interval is the ``(1-level)/2`` and ``(1+level)/2`` quantiles of those predictions.

This is *parameter* uncertainty: it says how sure the model is about a customer's expected
orders, not where their actual count will fall (a Poisson-like count scatters far more). For
the latter the backtest also builds predictive intervals (:func:`predictive_intervals`: the
same parameter draws, each simulating the customer's future) and reports both coverages. Discounting: each draw's discounted purchases are
its expected purchases times the point estimate's discount ratio for the customer's ``(x, T)``
(the ratio barely moves with the parameters; this saves a dozen growth evaluations per draw).
Gamma-Gamma draws with ``q <= 1`` (no finite mean spend) are rejected and redrawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.clv import LOG_BOUND, FitResult, compress, gamma_gamma, wsum
from engine.clv.families import Family

_ROWS_PER_CHUNK = 200_000


def draw_params(fit: FitResult, n: int, rng: np.random.Generator, *, accept: Any = None) -> tuple[np.ndarray | None, str]:
    """``n`` parameter vectors (rows, in the fit's parameter order) from the asymptotic normal of
    ``log(params)``, or ``None`` with the reason.

    ``accept(rows) -> mask`` filters draws; draws outside the fit's own search box
    (``e^±LOG_BOUND``: overflow, or a model the optimiser could never have returned) are
    rejected too. When fewer than half of the draws are kept the estimate is too uncertain for
    an honest interval, and there is none.
    """
    cov = fit.extra.get("covariance_log")
    if not fit.converged or cov is None or fit.params is None:
        return None, fit.extra.get("uncertainty_note", "the model has no covariance")
    mean = np.log(np.array(list(fit.params.values()), dtype=float))
    chol = np.linalg.cholesky(np.asarray(cov, dtype=float))
    kept: list[np.ndarray] = []
    total = drawn = 0
    while total < n:
        theta = mean + rng.standard_normal((n, len(mean))) @ chol.T
        ok = np.all(np.abs(theta) < LOG_BOUND, axis=1)
        sample = np.exp(np.where(ok[:, None], theta, 0.0))
        if accept is not None:
            ok &= accept(sample)
        drawn += n
        kept.append(sample[ok])
        total += int(ok.sum())
        if total < drawn / 2:
            return None, (f"{fit.model}: {drawn - total:,} of {drawn:,} parameter draws fall outside the model "
                          "(the estimate is too uncertain for an interval)")
    return np.concatenate(kept)[:n], ""


def intervals(family: Family, fit: FitResult, spend_fit: FitResult | None, horizon: float,
              x: np.ndarray, t_x: np.ndarray, T: np.ndarray, m: np.ndarray | None, *,
              discount_ratio: np.ndarray | None = None, level: float = 0.8, draws: int = 100,
              seed: int = 0, weights: np.ndarray | None = None) -> dict[str, Any]:
    """Per row: ``expected_low/high`` and (with a spend fit) ``clv_low/high``; plus ``draws`` used.

    Rows are distinct summary rows (the step scores distinct rows and joins them back), each
    standing for ``weights`` customers (default 1). ``totals`` is the interval of the sums over
    all customers — the quantiles of each draw's total, not the sum of per-row quantiles (which
    is not an interval of anything).
    """
    if not 0 < level < 1:
        raise ValueError(f"the interval level must be between 0 and 1, got {level}")
    if draws < 2:
        raise ValueError(f"at least 2 draws are needed for an interval, got {draws}")
    rng = np.random.default_rng(seed)
    purchase, why = draw_params(fit, draws, rng)
    if purchase is None:
        return {"draws": 0, "note": why}
    spend, spend_why = None, ""
    if spend_fit is not None and m is not None:
        spend, spend_why = draw_params(spend_fit, draws, rng, accept=lambda rows: rows[:, 1] > 1.0)
    ratio = np.ones(len(x)) if discount_ratio is None else discount_ratio
    quant = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    out: dict[str, Any] = {"expected_low": np.empty(len(x)), "expected_high": np.empty(len(x))}
    totals = {"expected": np.zeros(draws)}
    if spend is not None:
        out["clv_low"], out["clv_high"] = np.empty(len(x)), np.empty(len(x))
        totals["clv"] = np.zeros(draws)
    for start in range(0, len(x), _ROWS_PER_CHUNK):
        part = slice(start, start + _ROWS_PER_CHUNK)
        cx, ctx_, cT = x[part], t_x[part], T[part]
        (px, pT), _, inverse = compress(cx, cT, return_inverse=True)
        alive_of = family.p_alive_for(cx, ctx_, cT)
        expected = np.empty((len(cx), draws), dtype=np.float32)
        clv = np.empty_like(expected) if spend is not None else None
        for k in range(draws):
            params = family.params(purchase[k])
            e = alive_of(params) * family.growth(params, horizon, px, pT)[inverse]
            expected[:, k] = e
            totals["expected"][k] += wsum(w[part], e)
            if clv is not None:
                value = gamma_gamma.conditional_expected_value(gamma_gamma.GammaGammaParams(*spend[k]), cx, m[part])
                c = e * ratio[part] * value
                clv[:, k] = c
                totals["clv"][k] += wsum(w[part], c)
        # the draws are not needed afterwards: partitioned in place, not copied (100 x rows each)
        lo, hi = np.quantile(expected, quant, axis=1, overwrite_input=True)
        out["expected_low"][part], out["expected_high"][part] = lo, hi
        if clv is not None:
            lo, hi = np.quantile(clv, quant, axis=1, overwrite_input=True)
            out["clv_low"][part], out["clv_high"][part] = lo, hi
    out.update(draws=draws, level=level, seed=seed, method="asymptotic normal of log-parameters (observed information)",
               totals={f"{k}_{end}": float(v) for k, sums in totals.items()
                       for end, v in zip(("low", "high"), np.quantile(sums, quant))})
    if spend is None and spend_fit is not None:
        out["note"] = f"no CLV interval: {spend_why or 'the spend model has no usable covariance'}"
    return out


def predictive_intervals(family: Family, fit: FitResult, spend_fit: FitResult | None, horizon: float,
                         x: np.ndarray, t_x: np.ndarray, T: np.ndarray, m: np.ndarray | None, *,
                         level: float = 0.8, draws: int = 100, seed: int = 0) -> dict[str, Any]:
    """Per customer: where their *actual* orders (and revenue) over ``horizon`` should fall.

    The backtest's second coverage check. Each of ``draws`` parameter sets (the same draws as
    :func:`intervals` for the same seed) simulates one future per customer from the model's
    predictive distribution given their history: alive with P(alive), then
    ``family.future_if_alive`` (posterior purchase and dropout rates) and
    :func:`engine.clv.gamma_gamma.future_spend` — parameter and process uncertainty together.
    The interval is the ``(1-level)/2`` and ``(1+level)/2`` quantiles of those draws (inverted
    CDF). Counts are whole numbers, most of them 0, so an interval holds more than ``level`` of
    its own distribution: ``orders_claimed`` / ``money_claimed`` say how much (the mean over
    customers of the draws inside). A right model's observed coverage matches that claim; an
    overconfident one's falls short of it. The simulation has its own seeded stream; rows are
    customers (not compressed).
    """
    rng = np.random.default_rng(seed)
    purchase, why = draw_params(fit, draws, rng)
    if purchase is None:
        return {"draws": 0, "note": why}
    spend = None
    if spend_fit is not None and m is not None:
        spend, _ = draw_params(spend_fit, draws, rng, accept=lambda rows: rows[:, 1] > 1.0)
    sim = np.random.default_rng([seed, 1])
    alive_of = family.p_alive_for(x, t_x, T)
    orders = np.empty((len(x), draws))
    money = np.empty_like(orders) if spend is not None else None
    for k in range(draws):
        params = family.params(purchase[k])
        alive = sim.random(len(x)) < alive_of(params)
        orders[:, k] = np.where(alive, family.future_if_alive(params, horizon, x, T, sim), 0.0)
        if money is not None:
            money[:, k] = gamma_gamma.future_spend(gamma_gamma.GammaGammaParams(*spend[k]), x, m, orders[:, k], sim)
    quant = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    out: dict[str, Any] = {"draws": draws, "level": level, "seed": seed}
    for name, sims in (("orders", orders), ("money", money)):
        if sims is None:
            continue
        low, high = np.quantile(sims, quant, axis=1, method="inverted_cdf")
        out[f"{name}_low"], out[f"{name}_high"] = low, high
        # the share the model itself puts inside its interval (above `level` for whole-number counts)
        out[f"{name}_claimed"] = float(np.mean((sims >= low[:, None]) & (sims <= high[:, None])))
    return out
