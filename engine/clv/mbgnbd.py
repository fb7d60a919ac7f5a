"""The MBG/NBD model (Batislam, Denizel & Filiztekin 2007), fitted and scored in numpy.

BG/NBD with one change: a customer may drop out right after *any* purchase, the first one
included (BG/NBD only after repeats). So a one-time buyer is not immortal: after the first
purchase they are gone with probability ``p ~ Beta(a, b)``, and P(alive) of a customer with no
repeat decays with the time since that purchase. Same notation and summary as
:mod:`engine.clv.bgnbd`; the model is also known as CBG/NBD (Hoppe & Wagner 2007).

Log-likelihood of one customer (Batislam et al. eq. (3), in lifetimes' and BTYDplus' form)::

    ln L = ln Γ(r+x) - ln Γ(r) + r ln α + ln B(a, b+x+1) - ln B(a, b)
           - (r+x) ln(α+T) + ln(1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x))

``P(alive) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x))`` for every ``x``, and
``E[Y(t) | x, t_x, T] = P(alive) · growth`` where ``growth`` is BG/NBD's with ``b`` raised by
one: ``(a+b+x)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x+1; a+b+x; t/(α+T+t))]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln

from engine.clv import FitResult, bgnbd, compress, minimize_log, skipped
from engine.clv.validation import arrays, check_params, require_valid

NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class MbgNbdParams:
    """``λ ~ Gamma(r, α)``, dropout probability after each purchase ``p ~ Beta(a, b)``."""

    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> "MbgNbdParams":
        """From a fit's ``params`` mapping."""
        return cls(*(float(values[n]) for n in NAMES))


class _Data:
    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray):
        self.xs, inverse = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inverse.ravel(), weights=w, minlength=len(self.xs))
        self.x, self.t_x, self.T, self.w = x, t_x, T, w
        self.total = float(w.sum())


def _neg_ll_and_grad(theta: np.ndarray, d: _Data) -> tuple[float, np.ndarray]:
    """``-LL`` and its exact gradient in ``log(r, α, a, b)``."""
    r, alpha, a, b = np.exp(theta)
    xs, wx = d.xs, d.wx
    f = gammaln(r + xs) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xs + 1.0) - betaln(a, b)
    ll = float(wx @ f)
    g_r = float(wx @ (digamma(r + xs) - digamma(r) + np.log(alpha)))
    g_alpha = d.total * r / alpha
    psi = digamma(a + b + xs + 1.0)
    g_a = float(wx @ (digamma(a + b) - psi))
    g_b = float(wx @ (digamma(b + xs + 1.0) - psi - digamma(b) + digamma(a + b)))
    x, w = d.x, d.w
    log_T, log_tx = np.log(alpha + d.T), np.log(alpha + d.t_x)
    rx = r + x
    diff = np.log(a) - np.log(b + x) + rx * (log_T - log_tx)  # ln of the second term over the first
    ll += float(w @ (-rx * log_T + np.logaddexp(0.0, diff)))
    w4 = expit(diff)
    w3 = 1.0 - w4
    g_r -= float(w @ (w3 * log_T + w4 * log_tx))
    g_alpha -= float(w @ (rx * (w3 / (alpha + d.T) + w4 / (alpha + d.t_x))))
    g_a += float(w @ w4) / a
    g_b -= float(w @ (w4 / (b + x)))
    return -ll, -np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])


def log_likelihood(params: MbgNbdParams, x, t_x, T, weights=None) -> float:
    """The total MBG/NBD log-likelihood of (optionally weighted) summary rows."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    theta = np.log([params.r, params.alpha, params.a, params.b])
    return -_neg_ll_and_grad(theta, _Data(x, t_x, T, w))[0]


def fit(x, t_x, T, weights=None, *, min_repeat_customers: int = 1, max_iterations: int = 1000,
        start: MbgNbdParams | None = None) -> FitResult:
    """Maximum-likelihood MBG/NBD parameters (same contract as :func:`engine.clv.bgnbd.fit`)."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = w > 0
    (x, t_x, T), w = compress(x[keep], t_x[keep], T[keep], weights=w[keep])
    n, n_repeat = float(w.sum()), float(w[x > 0].sum())
    if n_repeat < max(min_repeat_customers, 1):
        return skipped("mbgnbd", f"too little data: {n_repeat:,.0f} repeat customer(s) of {n:,.0f} "
                                 f"(the minimum is {max(min_repeat_customers, 1):,})",
                       n_customers=int(n), n_rows=len(x), n_repeat=int(n_repeat))
    data = _Data(x, t_x, T, w)
    if start is None:
        rate = max(float(w @ x) / max(float(w @ T), 1e-12), 1e-9)
        start = MbgNbdParams(1.0, 1.0 / rate, 1.0, 1.0)
    result = minimize_log(lambda th: _neg_ll_and_grad(th, data), [start.r, start.alpha, start.a, start.b], NAMES,
                          total_weight=n, model="mbgnbd", max_iterations=max_iterations,
                          n_customers=int(n), n_rows=len(x))
    result.extra["n_repeat"] = int(n_repeat)
    return result


def p_alive(params: MbgNbdParams, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x)), a logistic of the log odds."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    return _p_alive(params, x, t_x, T)


def _p_alive(params: MbgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """:func:`p_alive` on rows already validated."""
    check_params(params)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_odds_dead = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return expit(-log_odds_dead)


def growth(params: MbgNbdParams, t, x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T] / P(alive): BG/NBD's :func:`engine.clv.bgnbd.growth` with ``b + 1``."""
    check_params(params)
    return bgnbd.growth(bgnbd.BgNbdParams(params.r, params.alpha, params.a, params.b + 1.0), t, x, T)


def expected_purchases(params: MbgNbdParams, t) -> np.ndarray:
    """E[X(t)] of a new customer: ``b/(a-1) · [1 - (α/(α+t))^r · 2F1(r, b+1; a+b; t/(α+t))]``
    (P(alive) at ``T = 0`` is ``b/(a+b)``, times the growth from there)."""
    t = np.asarray(t, dtype=float)
    zero = np.zeros_like(t)
    return p_alive(params, zero, zero, zero) * growth(params, t, zero, zero)


def conditional_expected_purchases(params: MbgNbdParams, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T] = P(alive) × :func:`growth`."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    return p_alive(params, x, t_x, T) * growth(params, t, x, T)
