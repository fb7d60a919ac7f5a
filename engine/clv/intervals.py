"""80% intervals for expected orders and predicted CLV: the estimate's own uncertainty.

Method (written down in docs/metrics.md §1): the maximum-likelihood estimate is asymptotically
normal in the log-parameters, with the inverse observed information as covariance
(:func:`engine.clv.uncertainty`). ``draws`` parameter sets are sampled from that normal —
purchase model and Gamma-Gamma independently (they are fitted separately) — with a seeded
generator, so the same seed gives the same intervals. Every customer is scored under every
draw; the interval is the ``(1-level)/2`` and ``(1+level)/2`` quantiles of those predictions.

This is *parameter* uncertainty: it says how sure the model is about a customer's expected
orders, not where their actual count will fall (a Poisson-like count scatters far more). The
backtest reports both coverages honestly. Discounting: each draw's discounted purchases are
its expected purchases times the point estimate's discount ratio for the customer's ``(x, T)``
(the ratio barely moves with the parameters; this saves a dozen growth evaluations per draw).
Gamma-Gamma draws with ``q <= 1`` (no finite mean spend) are rejected and redrawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.clv import FitResult, compress, gamma_gamma
from engine.clv.families import Family

_ROWS_PER_CHUNK = 200_000


def draw_params(fit: FitResult, n: int, rng: np.random.Generator, *, accept: Any = None) -> np.ndarray | None:
    """``n`` parameter vectors (rows, in the fit's parameter order) from the asymptotic normal of
    ``log(params)``; ``None`` when the fit has no covariance. ``accept(rows) -> mask`` filters draws."""
    cov = fit.extra.get("covariance_log")
    if not fit.converged or cov is None or fit.params is None:
        return None
    mean = np.log(np.array(list(fit.params.values()), dtype=float))
    chol = np.linalg.cholesky(np.asarray(cov, dtype=float))
    kept: list[np.ndarray] = []
    total = 0
    for _ in range(50):
        sample = np.exp(mean + rng.standard_normal((n, len(mean))) @ chol.T)
        if accept is not None:
            sample = sample[accept(sample)]
        kept.append(sample)
        total += len(sample)
        if total >= n:
            return np.concatenate(kept)[:n]
    return None  # almost every draw rejected: no interval rather than a biased one


def intervals(family: Family, fit: FitResult, spend_fit: FitResult | None, horizon: float,
              x: np.ndarray, t_x: np.ndarray, T: np.ndarray, m: np.ndarray | None, *,
              discount_ratio: np.ndarray | None = None, level: float = 0.8, draws: int = 100,
              seed: int = 0) -> dict[str, Any]:
    """Per row: ``expected_low/high`` and (with a spend fit) ``clv_low/high``; plus ``draws`` used.

    Rows are distinct summary rows (the step scores distinct rows and joins them back).
    """
    if not 0 < level < 1:
        raise ValueError(f"the interval level must be between 0 and 1, got {level}")
    if draws < 2:
        raise ValueError(f"at least 2 draws are needed for an interval, got {draws}")
    rng = np.random.default_rng(seed)
    purchase = draw_params(fit, draws, rng)
    if purchase is None:
        return {"draws": 0, "note": fit.extra.get("uncertainty_note", "the purchase model has no covariance")}
    spend = None
    if spend_fit is not None and m is not None:
        spend = draw_params(spend_fit, draws, rng, accept=lambda rows: rows[:, 1] > 1.0)
    ratio = np.ones(len(x)) if discount_ratio is None else discount_ratio
    quant = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    out: dict[str, Any] = {"expected_low": np.empty(len(x)), "expected_high": np.empty(len(x))}
    if spend is not None:
        out["clv_low"], out["clv_high"] = np.empty(len(x)), np.empty(len(x))
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
            if clv is not None:
                value = gamma_gamma.conditional_expected_value(gamma_gamma.GammaGammaParams(*spend[k]), cx, m[part])
                clv[:, k] = e * ratio[part] * value
        lo, hi = np.quantile(expected, quant, axis=1)
        out["expected_low"][part], out["expected_high"][part] = lo, hi
        if clv is not None:
            lo, hi = np.quantile(clv, quant, axis=1)
            out["clv_low"][part], out["clv_high"][part] = lo, hi
    out.update(draws=draws, level=level, seed=seed, method="asymptotic normal of log-parameters (observed information)")
    if spend is None and spend_fit is not None:
        out["note"] = "no CLV interval: the spend model has no usable covariance"
    return out
