"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005), fitted and scored in numpy.

Notation (the paper's). For one customer, observed over ``(0, T]`` after the first purchase:
``x`` repeat purchases, the last one at ``t_x`` (``t_x = 0`` when ``x = 0``). While alive, a
customer buys at Poisson rate ``λ ~ Gamma(r, α)`` (shape ``r``, rate ``α``); after every
repeat purchase they drop out with probability ``p ~ Beta(a, b)``.

References: P. S. Fader, B. G. S. Hardie, K. L. Lee, "Counting Your Customers the Easy Way:
An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 2005 — equations (6), (9),
(10) below; and Fader, Hardie & Lee, "Computing P(alive) Using the BG/NBD Model" (2008 note).

Times are in whatever unit the data use (weeks for CDNOW, days for day-level summaries); ``α``
is in that unit too, so a horizon ``t`` must be given in the same unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from engine.clv import FitResult, wsum
from engine.clv.purchase import ModelParams, discounted, fit_family, repeat_rate
from engine.clv.validation import arrays, check_horizon, check_params, check_x_T, require_valid, screen

NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class BgNbdParams(ModelParams):
    """The four BG/NBD parameters: ``λ ~ Gamma(r, α)``, ``p ~ Beta(a, b)``."""

    r: float
    alpha: float
    a: float
    b: float


class _Data:
    """The (weighted, distinct) rows split the way the likelihood uses them.

    Terms that depend on ``x`` alone are evaluated once per distinct ``x`` (there are few),
    the rest once per row. ``all_can_drop``: whether every row carries the dropout term
    (MBG/NBD: a one-time buyer may be gone) or only those with repeats (BG/NBD: customers without
    one contribute ``ln A3`` alone).
    """

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray, all_can_drop: bool = False):
        self.xs, inverse = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inverse.ravel(), weights=w, minlength=len(self.xs))
        rep = np.ones(len(x), dtype=bool) if all_can_drop else x > 0
        self.w0, self.T0 = w[~rep], T[~rep]
        self.w1, self.x1, self.tx1, self.T1 = w[rep], x[rep], t_x[rep], T[rep]
        self.total = float(w.sum())


def _neg_ll_and_grad(theta: np.ndarray, d: _Data, shift: float = 0.0) -> tuple[float, np.ndarray]:
    """``-LL`` and its gradient in ``log(r, α, a, b)``; ``shift = 1`` gives MBG/NBD's likelihood.

    FHL (2005) eq. (6): ``L = A1 · A2 · (A3 + δ_{x>0} A4)`` with
    ``A1 = Γ(r+x) α^r / Γ(r)``, ``A2 = Γ(a+b) Γ(b+x) / (Γ(b) Γ(a+b+x)) = B(a, b+x) / B(a, b)``,
    ``A3 = (α+T)^-(r+x)``, ``A4 = a / (b+x-1) · (α+t_x)^-(r+x)``.
    ``ln(A3 + A4) = ln A3 + softplus(ln A4 - ln A3)`` keeps the sum stable (log-sum-exp).
    MBG/NBD (dropout after every purchase, the first included) is the same with ``b + x`` in
    place of ``b + x - 1`` (``B(a, b+x+1)`` in ``A2``) and the ``A4`` term for every customer.
    """
    r, alpha, a, b = np.exp(theta)
    xs, wx = d.xs, d.wx
    # x-only terms: ln A1 + ln A2, per distinct x
    bxs = b + xs + shift
    f = gammaln(r + xs) - gammaln(r) + r * np.log(alpha) + betaln(a, bxs) - betaln(a, b)
    ll = wsum(wx, f)
    g_r = wsum(wx, digamma(r + xs) - digamma(r) + np.log(alpha))
    g_alpha = d.total * r / alpha
    psi_abx = digamma(a + bxs)
    g_a = wsum(wx, digamma(a + b) - psi_abx)
    g_b = wsum(wx, digamma(bxs) - psi_abx - digamma(b) + digamma(a + b))
    # customers without the dropout term: ln A3 = -r ln(α+T)
    log_T0 = np.log(alpha + d.T0)
    ll -= r * wsum(d.w0, log_T0)
    g_r -= wsum(d.w0, log_T0)
    g_alpha -= r * wsum(d.w0, 1.0 / (alpha + d.T0))
    # customers with it: ln A3 + softplus(ln A4 - ln A3)
    x, w = d.x1, d.w1
    log_T = np.log(alpha + d.T1)
    log_tx = np.log(alpha + d.tx1)
    bx = b + x + (shift - 1.0)
    rx = r + x
    l3 = -rx * log_T
    diff = np.log(a) - np.log(bx) + rx * (log_T - log_tx)
    ll += wsum(w, l3 + np.logaddexp(0.0, diff))
    w4 = expit(diff)  # share of the A4 term
    w3 = 1.0 - w4
    g_r -= wsum(w, w3 * log_T + w4 * log_tx)
    g_alpha -= wsum(w, rx * (w3 / (alpha + d.T1) + w4 / (alpha + d.tx1)))
    g_a += wsum(w, w4) / a
    g_b -= wsum(w, w4 / bx)
    grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])  # chain rule to log-parameters
    return -ll, -grad


def log_likelihood(params: BgNbdParams, x, t_x, T, weights=None) -> float:
    """The total BG/NBD log-likelihood, FHL (2005) eq. (6), of (optionally weighted) rows."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    return -_neg_ll_and_grad(np.log(params.values()), _Data(x, t_x, T, w))[0]


def check_summary(x, t_x, T) -> np.ndarray:
    """Which rows are a valid summary: finite, ``x >= 0`` whole, ``0 <= t_x <= T``,
    ``t_x > 0`` exactly when ``x > 0`` (:func:`engine.clv.validation.screen` says why not)."""
    return screen(x, t_x, T).valid


def start_guess(x: np.ndarray, T: np.ndarray, w: np.ndarray) -> list[float]:
    """r = 1 and α from the mean repeat rate; a = b = 1 (also MBG/NBD's start)."""
    return [1.0, 1.0 / repeat_rate(x, T, w), 1.0, 1.0]


def fit(x, t_x, T, weights=None, *, min_repeat_customers: int = 1, max_iterations: int = 1000,
        start: BgNbdParams | None = None) -> FitResult:
    """Maximum-likelihood BG/NBD parameters from per-customer (or distinct, weighted) rows.

    Every row must be a valid summary (:class:`~engine.errors.InvalidSummaryError` otherwise:
    screen with :func:`engine.clv.validation.screen` and pass the valid rows). Rows are
    compressed to distinct ``(x, t_x, T)`` with counts first. Returns a
    :class:`~engine.clv.FitResult` whose ``converged`` says whether to use ``params``; with
    fewer than ``min_repeat_customers`` customers who repeat (the model cannot be identified
    without them) the fit is skipped with that reason (:func:`engine.clv.purchase.fit_family`).
    """
    return fit_family("bgnbd", x, t_x, T, weights, names=NAMES, make_data=_Data, neg_ll_and_grad=_neg_ll_and_grad,
                      start=start, default_start=start_guess, min_repeat_customers=min_repeat_customers,
                      max_iterations=max_iterations)


def log_odds_dead(params, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """``ln(a / (b+x-1+shift)) + (r+x) ln((α+T)/(α+t_x))``: the log odds of having dropped out
    (``shift = 1``: MBG/NBD's, defined for every ``x``)."""
    r, alpha, a, b = params.values()
    with np.errstate(all="ignore"):
        return (np.log(a) - np.log(np.maximum(b + x + (shift - 1.0), 1e-300))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))


def p_alive(params: BgNbdParams, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + δ_{x>0} · a / (b+x-1) · ((α+T) / (α+t_x))^(r+x)).

    FHL (2005) eq. (11), as in the "Computing P(alive)" note; evaluated as a logistic of the log
    odds so that it neither overflows nor underflows. A customer with no repeat purchase is
    alive with probability 1 (the model lets a customer drop out only after a repeat purchase).
    """
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    return _p_alive(params, x, t_x, T)


def _p_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """:func:`p_alive` on rows already validated (interval sampling scores the same rows often)."""
    check_params(params)
    return np.where(x > 0, expit(-log_odds_dead(params, x, t_x, T)), 1.0)


def growth(params: BgNbdParams, t, x, T) -> np.ndarray:
    """The part of E[Y(t) | x, t_x, T] that does not depend on ``t_x``: E[Y(t) | ...] / P(alive).

    ``(a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; z)]`` with
    ``z = t/(α+T+t)``: the numerator of FHL (2005) eq. (10) (eq. (9) when ``x = 0, T = 0``).
    With Euler's transformation ``2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)`` and
    ``1 - z = (α+T)/(α+T+t)`` the bracket becomes ``1 - (1-z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z)``:
    no huge power times a huge hypergeometric, and a series whose first two parameters do not
    grow with ``x`` (checked against the direct positive-term series to ~1e-8). At ``a = 1`` the
    factor ``1/(a-1)`` is 0/0; within 1e-7 of it ``a`` is moved to 1 ± 1e-7 (relative error
    about 1e-5 there).
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-7:
        a = 1.0 + (1e-7 if a >= 1.0 else -1e-7)
    check_params(params)
    t = check_horizon(t)
    x, T = check_x_T(x, T)
    with np.errstate(all="ignore"):
        z = t / (alpha + T + t)
        c = a + b + x - 1.0
        f = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        bracket = -np.expm1((a - 1.0) * np.log1p(-z) + np.log(f))
        return c / (a - 1.0) * bracket


def expected_purchases(params: BgNbdParams, t) -> np.ndarray:
    """E[X(t)], the expected number of repeat purchases in ``(0, t]`` of a new customer.

    FHL (2005) eq. (9): ``(a+b-1)/(a-1) · [1 - (α/(α+t))^r · 2F1(r, b; a+b-1; t/(α+t))]``.
    """
    t = np.asarray(t, dtype=float)
    return growth(params, t, np.zeros_like(t), np.zeros_like(t))


def conditional_expected_purchases(params: BgNbdParams, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in ``(T, T+t]`` given the history.

    FHL (2005) eq. (10):
    ``(a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
    / (1 + δ_{x>0} · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))``;
    the denominator is 1 / P(alive), see :func:`p_alive` and :func:`growth`.
    """
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    return p_alive(params, x, t_x, T) * growth(params, t, x, T)


def discounted_growth(params: BgNbdParams, t: float, x, T, annual_rate: float, days_per_unit: float = 1.0,
                      step_days: float = 365.25 / 12) -> np.ndarray:
    """Like :func:`growth`, with each future purchase discounted at ``annual_rate`` a year
    (:func:`engine.clv.purchase.discounted`: monthly steps by default). Multiplied by P(alive),
    the discounted number of purchases; times the expected purchase value, the discounted CLV."""
    x, T = arrays(x, T)
    return discounted(lambda tt: growth(params, tt, x, T), t, annual_rate, days_per_unit, step_days)


def future_if_alive(params: BgNbdParams, t: float, x: np.ndarray, T: np.ndarray, rng: np.random.Generator,
                    shift: float = 0.0) -> np.ndarray:
    """One draw of the purchases in ``(T, T+t]`` of customers alive at ``T`` (the predictive
    distribution behind :func:`growth`; ``shift = 1``: MBG/NBD's).

    Given alive at ``T`` the history's likelihood is ``λ^x e^(-λT) (1-p)^(x+shift)``, so
    ``λ ~ Gamma(r+x, α+T)`` and ``p ~ Beta(a, b+x+shift)``, independently; purchases then arrive
    at rate ``λ`` and the customer drops out after each with probability ``p``: the count is
    ``min(N, K)`` with ``N ~ Poisson(λt)`` and ``K ~ Geometric(p)``.
    """
    r, alpha, a, b = params.values()
    lam = rng.gamma(r + x, 1.0 / (alpha + T))
    p = rng.beta(a, b + x + shift)
    return np.minimum(rng.poisson(lam * t), rng.geometric(np.clip(p, 1e-12, 1.0))).astype(float)


def simulate(params: BgNbdParams, T, holdout: float = 0.0, seed: int | None = None) -> dict[str, np.ndarray]:
    """Customers drawn from the BG/NBD process, observed for ``T`` each, then ``holdout`` more.

    Returns ``x, t_x, T`` (the calibration summary), ``holdout_x`` (repeat purchases in
    ``(T, T+holdout]``), ``alive`` (alive at ``T``) and ``alive_end`` (alive at ``T+holdout``).
    Exact and vectorised: ``N ~ Poisson(λT)`` events, dropout after the ``K ~ Geometric(p)``-th
    repeat purchase; ``x = min(N, K)`` and ``t_x`` is the ``x``-th of ``N`` uniform times.
    """
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    N = rng.poisson(lam * T)
    K = rng.geometric(np.clip(p, 1e-12, 1.0))
    x = np.minimum(N, K)
    alive = N < K
    # the x-th smallest of N uniforms on (0, T] is T · Beta(x, N - x + 1)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(N - x + 1, 1)), 0.0)
    n_hold = rng.poisson(lam * holdout)
    k_left = rng.geometric(np.clip(p, 1e-12, 1.0))  # memoryless: repeats left before dropout
    holdout_x = np.where(alive, np.minimum(n_hold, k_left), 0)
    return {"x": x.astype(float), "t_x": t_x, "T": T, "holdout_x": holdout_x.astype(float),
            "alive": alive, "alive_end": alive & (n_hold < k_left)}
