"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987), fitted and scored in numpy.

While alive a customer buys at Poisson rate ``λ ~ Gamma(r, α)``; their lifetime is exponential
with rate ``μ ~ Gamma(s, β)``, so — unlike BG/NBD — a customer can be gone without ever having
repeated: a one-time buyer seen long ago gets a low P(alive). Same summary as BG/NBD
(``x``, ``t_x``, ``T``), same time unit for ``α``, ``β`` and the horizon.

The likelihood is Fader & Hardie's closed form ("A Note on Deriving the Pareto/NBD Model and
Related Expressions", 2005, eq. (19)-(22))::

    L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s · (F(t_x) - F(T)) ]

with ``F(t) = ∫_t^∞ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ``, the note's ``s/(r+s+x) · A0`` term written as
an integral. Substituting ``u = 1/(M+τ)`` (``M = max(α, β)``, ``m`` the other) and Euler's
transformation give, with exponent ``p_M`` on ``M`` and ``p_m`` on ``m``, ``c = r+s+x+1`` and
``z = (M-m)/(M+t)``::

    ln F(t) = -p_M ln(M+t) - (p_m - 1) ln(m+t) - ln(c - 1) + ln H(p_M, c, z),
    H(A, C, z) = 2F1(A, 1; C; z) = Σ_k (A)_k / (C)_k z^k,  C - A = p_m > 0,

a series of positive terms that shrink at least geometrically (ratio < z < 1) and never
overflow, whatever ``x`` and ``T``: the huge powers of the textbook form cancel analytically.
Summing it ourselves gives ``∂H/∂A``, ``∂H/∂C`` and ``∂H/∂z`` in the same pass, so the
log-likelihood has an exact gradient. ``F`` depends on ``(x, t)`` only and is evaluated once
per distinct pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from engine.clv import FitResult, compress, wsum
from engine.clv.purchase import ModelParams, fit_family, repeat_rate
from engine.clv.validation import arrays, check_horizon, check_params, check_x_T, require_valid

NAMES = ("r", "alpha", "s", "beta")
_MAX_TERMS = 1_000
_SERIES_MAX_Z = 0.9
_TOL = 1e-16


@dataclass(frozen=True)
class ParetoNbdParams(ModelParams):
    """``λ ~ Gamma(r, α)`` (purchase rate), ``μ ~ Gamma(s, β)`` (dropout rate)."""

    r: float
    alpha: float
    s: float
    beta: float


def hyp2f1_one(A: np.ndarray, C: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, ...]:
    """``H = 2F1(A, 1; C; z)`` for ``C > A > 0``, ``0 <= z < 1``, with ``∂H/∂A``, ``∂H/∂C``, ``∂H/∂z``.

    For ``z <= 0.9`` our own series (term ``k`` is ``Π_{j<k} (A+j)/(C+j) · z^k``, at most ~350
    terms); rows drop out once their next term is below 1e-16 of their sum. Closer to 1 (only
    far from the optimum, when α and β differ by orders of magnitude) SciPy's ``hyp2f1`` gives
    the value, ``∂H/∂z = A/C · 2F1(A+1, 2; C+1; z)`` and central differences the rest.
    """
    A, C, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (A, C, z)))
    shape = A.shape
    A, C, z = A.ravel(), C.ravel(), z.ravel()
    n = A.size
    S, dA, dC, dz = np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n)
    far = z > _SERIES_MAX_Z
    if far.any():
        a, c, zz = A[far], C[far], z[far]
        S[far] = hyp2f1(a, 1.0, c, zz)
        ha, hc = 1e-6 * np.maximum(a, 1.0), 1e-6 * np.maximum(c, 1.0)
        dA[far] = (hyp2f1(a + ha, 1.0, c, zz) - hyp2f1(a - ha, 1.0, c, zz)) / (2 * ha)
        dC[far] = (hyp2f1(a, 1.0, c + hc, zz) - hyp2f1(a, 1.0, c - hc, zz)) / (2 * hc)
        dz[far] = a / c * hyp2f1(a + 1.0, 2.0, c + 1.0, zz)
    idx = np.flatnonzero(~far)
    a, c, zz = A[idx], C[idx], z[idx]
    term = np.ones(idx.size)  # term_k
    sA = np.zeros(idx.size)   # Σ_{j<k} 1/(A+j)
    sC = np.zeros(idx.size)   # Σ_{j<k} 1/(C+j)
    for k in range(1, _MAX_TERMS + 1):
        if idx.size == 0:
            break
        ratio = (a + k - 1) / (c + k - 1)
        base = term * ratio              # Π (A+j)/(C+j) z^(k-1): k·base summed is ∂H/∂z
        term = base * zz
        sA = sA + 1.0 / (a + k - 1)
        sC = sC + 1.0 / (c + k - 1)
        S[idx] += term
        dA[idx] += term * sA
        dC[idx] -= term * sC
        dz[idx] += k * base
        going = (base > _TOL * S[idx]) & (zz > 0)
        if not going.all():
            idx, term, sA, sC, a, c, zz = (v[going] for v in (idx, term, sA, sC, a, c, zz))
    else:
        raise ArithmeticError(f"2F1(A, 1; C; z) did not converge in {_MAX_TERMS} terms")
    return tuple(v.reshape(shape) for v in (S, dA, dC, dz))


def hyp2f1_value(A: np.ndarray, C: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``2F1(A, 1; C; z)`` alone: :func:`hyp2f1_one`'s series and stopping rule term for term
    (the same values), without the derivative sums. Rows that have converged add nothing more
    and are dropped from the arrays only once a quarter of them have (compaction is the cost)."""
    A, C, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (A, C, z)))
    shape = A.shape
    A, C, z = A.ravel(), C.ravel(), z.ravel()
    out = np.ones(A.size)
    far = z > _SERIES_MAX_Z
    if far.any():
        out[far] = hyp2f1(A[far], 1.0, C[far], z[far])
    idx = np.flatnonzero(~far)
    a, c, zz = A[idx], C[idx], z[idx]
    S, term = np.ones(idx.size), np.ones(idx.size)
    for k in range(1, _MAX_TERMS + 1):
        if idx.size == 0:
            break
        base = term * ((a + k - 1) / (c + k - 1))
        term = base * zz
        S += term
        going = (base > _TOL * S) & (zz > 0)
        n_going = int(np.count_nonzero(going))
        if n_going < 0.75 * going.size:
            out[idx[~going]] = S[~going]
            idx, S, term, a, c, zz = (v[going] for v in (idx, S, term, a, c, zz))
        elif n_going < going.size:
            term = np.where(going, term, 0.0)
    else:
        raise ArithmeticError(f"2F1(A, 1; C; z) did not converge in {_MAX_TERMS} terms")
    return out.reshape(shape)


def log_F(r: float, alpha: float, s: float, beta: float, x: np.ndarray, t: np.ndarray,
          grad: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """``ln F(t)`` (see the module docstring) and its gradient in ``(r, α, s, β)`` (rows × 4)."""
    a, b = r + x, s + 1.0
    c1 = a + b - 1.0
    if alpha >= beta:
        pM, pm, M, m = a, b, alpha, beta
    else:
        pM, pm, M, m = b, a, beta, alpha
    LM, Lm = np.log(M + t), np.log(m + t)
    z = (M - m) / (M + t)
    if not grad:  # the value alone: the series without its three derivative sums (scoring, intervals)
        return -pM * LM - (pm - 1.0) * Lm - np.log(c1) + np.log(hyp2f1_value(pM, pM + pm, z)), None
    H, dA, dC, dz = hyp2f1_one(pM, pM + pm, z)
    value = -pM * LM - (pm - 1.0) * Lm - np.log(c1) + np.log(H)
    hA, hC, hz = dA / H, dC / H, dz / H
    d_pM = -LM - 1.0 / c1 + hA + hC       # ∂/∂p_M (p_M enters A and C)
    d_pm = -Lm - 1.0 / c1 + hC            # ∂/∂p_m (enters C)
    d_M = -pM / (M + t) + hz * (m + t) / (M + t) ** 2
    d_m = -(pm - 1.0) / (m + t) - hz / (M + t)
    if alpha >= beta:
        g = np.stack([d_pM, d_M, d_pm, d_m], axis=1)
    else:
        g = np.stack([d_pm, d_m, d_pM, d_M], axis=1)
    return value, g  # columns: ∂/∂r (via a), ∂/∂α, ∂/∂s (via b), ∂/∂β


class _Data:
    """Distinct weighted rows, and the distinct ``(x, t)`` pairs ``F`` is needed at."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray):
        self.x, self.t_x, self.T, self.w = x, t_x, T, w
        (self.px, self.pt), _, inverse = compress(np.r_[x, x], np.r_[t_x, T], return_inverse=True)
        self.i_tx, self.i_T = inverse[:len(x)], inverse[len(x):]
        self.same = t_x >= T  # the integral from t_x to T is empty


def _terms(theta: np.ndarray, d: _Data, grad: bool = True):
    """Per row: ``ln L`` and (optionally) its gradient in ``(r, α, s, β)``; also ``l1 - l2``."""
    r, alpha, s, beta = np.exp(theta)
    x, T = d.x, d.T
    lF, gF = log_F(r, alpha, s, beta, d.px, d.pt, grad)
    lF_tx, lF_T = lF[d.i_tx], lF[d.i_T]
    c0 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    l1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    e = np.where(d.same, 1.0, np.exp(np.minimum(lF_T - lF_tx, 0.0)))
    with np.errstate(divide="ignore"):
        l2 = np.where(d.same, -np.inf, np.log(s) + lF_tx + np.log1p(-e))
    ll = c0 + np.logaddexp(l1, l2)
    if not grad:
        return ll, None, l1 - l2
    w2 = expit(l2 - l1)
    w1 = 1.0 - w2
    dc0 = np.stack([digamma(r + x) - digamma(r) + np.log(alpha), np.full_like(x, r / alpha),
                    np.full_like(x, np.log(beta)), np.full_like(x, s / beta)], axis=1)
    dl1 = np.stack([-np.log(alpha + T), -(r + x) / (alpha + T), -np.log(beta + T), -s / (beta + T)], axis=1)
    safe = np.where(d.same, 0.0, 1.0 - e)
    with np.errstate(divide="ignore", invalid="ignore"):
        dl2 = (gF[d.i_tx] - e[:, None] * gF[d.i_T]) / safe[:, None]
    dl2[:, 2] += 1.0 / s
    dl2[d.same] = 0.0
    g = dc0 + w1[:, None] * dl1 + w2[:, None] * dl2
    return ll, g * np.array([r, alpha, s, beta]), l1 - l2  # gradient in log-parameters


def _neg_ll_and_grad(theta: np.ndarray, d: _Data) -> tuple[float, np.ndarray]:
    ll, g, _ = _terms(theta, d)
    return -wsum(d.w, ll), -(wsum(d.w, g))


def log_likelihood(params: ParetoNbdParams, x, t_x, T, weights=None) -> float:
    """The total Pareto/NBD log-likelihood of (optionally weighted) summary rows."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    ll, _, _ = _terms(np.log(params.values()), _Data(x, t_x, T, w), grad=False)
    return wsum(w, ll)


def _start(x: np.ndarray, T: np.ndarray, w: np.ndarray) -> list[float]:
    """r = 1, α from the mean repeat rate; s = 1, β the mean observation time."""
    return [1.0, 1.0 / repeat_rate(x, T, w), 1.0, max(wsum(w, T) / float(w.sum()), 1.0)]


def fit(x, t_x, T, weights=None, *, min_repeat_customers: int = 1, max_iterations: int = 1000,
        start: ParetoNbdParams | None = None) -> FitResult:
    """Maximum-likelihood Pareto/NBD parameters (same contract as :func:`engine.clv.bgnbd.fit`).

    The caller passes valid rows only (:func:`engine.clv.validation.screen` says which are not).
    """
    return fit_family("pareto_nbd", x, t_x, T, weights, names=NAMES, make_data=_Data,
                      neg_ll_and_grad=_neg_ll_and_grad, start=start, default_start=_start,
                      min_repeat_customers=min_repeat_customers, max_iterations=max_iterations)


def p_alive(params: ParetoNbdParams, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) = first term / (first term + s·(F(t_x) - F(T))), as a logistic of logs."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    return prepare_p_alive(x, t_x, T)(params)


def prepare_p_alive(x: np.ndarray, t_x: np.ndarray, T: np.ndarray):
    """``params -> P(alive)`` for fixed, already valid rows: the distinct rows and ``(x, t)`` pairs
    are found once (interval sampling scores the same rows under 100 parameter sets)."""
    shape = np.shape(x)
    (xs, txs, Ts), _, inverse = compress(np.ravel(x), np.ravel(t_x), np.ravel(T), return_inverse=True)
    data = _Data(xs, txs, Ts, np.ones_like(xs))

    def score(params: ParetoNbdParams) -> np.ndarray:
        check_params(params)
        return expit(_log_odds_alive(params, data))[inverse].reshape(shape)
    return score


def _log_odds_alive(params: ParetoNbdParams, d: _Data) -> np.ndarray:
    """``l1 - l2`` of :func:`_terms` (ln of alive-at-T's share over gone-before-T's), without the
    factor both share: what P(alive) needs, at a fraction of the likelihood's cost."""
    r, alpha, s, beta = params.values()
    x, T = d.x, d.T
    lF, _ = log_F(r, alpha, s, beta, d.px, d.pt, grad=False)
    lF_tx, lF_T = lF[d.i_tx], lF[d.i_T]
    l1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    e = np.where(d.same, 1.0, np.exp(np.minimum(lF_T - lF_tx, 0.0)))
    with np.errstate(divide="ignore"):
        l2 = np.where(d.same, -np.inf, np.log(s) + lF_tx + np.log1p(-e))
    return l1 - l2


def growth(params: ParetoNbdParams, t, x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T] / P(alive) = (r+x)(β+T) / ((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)].

    Fader & Hardie (2005 note) eq. (24) without the P(alive) factor; the ``s → 1`` limit
    ``(r+x)(β+T)/(α+T) · ln((β+T+t)/(β+T))`` is taken smoothly (``expm1``).
    """
    check_params(params)
    t = check_horizon(t)
    x, T = check_x_T(x, T)
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    u = np.log(beta + T) - np.log(beta + T + t)  # <= 0
    k = s - 1.0
    scaled = -u if abs(k) < 1e-12 else -np.expm1(k * u) / k
    return (r + x) / (alpha + T) * (beta + T) * scaled


def expected_purchases(params: ParetoNbdParams, t) -> np.ndarray:
    """E[X(t)] of a new customer: rβ / (α(s-1)) · [1 - (β/(β+t))^(s-1)]."""
    t = np.asarray(t, dtype=float)
    return growth(params, t, np.zeros_like(t), np.zeros_like(t))


def conditional_expected_purchases(params: ParetoNbdParams, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: P(alive) × :func:`growth`."""
    x, t_x, T = arrays(x, t_x, T)
    return p_alive(params, x, t_x, T) * growth(params, t, x, T)


def future_if_alive(params: ParetoNbdParams, t: float, x: np.ndarray, T: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """One draw of the purchases in ``(T, T+t]`` of customers alive at ``T`` (the predictive
    distribution behind :func:`growth`).

    Given alive at ``T`` the history's likelihood is ``λ^x e^(-λT) · e^(-μT)``, so
    ``λ ~ Gamma(r+x, α+T)`` and ``μ ~ Gamma(s, β+T)``, independently; the remaining lifetime is
    exponential with rate ``μ`` (memoryless) and the count ``Poisson(λ · min(lifetime, t))``.
    """
    r, alpha, s, beta = params.values()
    lam = rng.gamma(r + x, 1.0 / (alpha + T))
    mu = rng.gamma(s, 1.0 / (beta + T))
    life = rng.exponential(1.0 / mu)
    return rng.poisson(lam * np.minimum(life, t)).astype(float)


def simulate(params: ParetoNbdParams, T, holdout: float = 0.0, seed: int | None = None) -> dict[str, np.ndarray]:
    """Customers drawn from the Pareto/NBD process (for tests): ``x, t_x, T, holdout_x, alive``."""
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    mu = rng.gamma(params.s, 1.0 / params.beta, n)
    life = rng.exponential(1.0 / mu)
    seen = np.minimum(life, T)
    x = rng.poisson(lam * seen)
    t_x = np.where(x > 0, seen * rng.beta(np.maximum(x, 1), 1.0), 0.0)  # the max of x uniforms
    alive = life > T
    hold = np.clip(np.minimum(life, T + holdout) - T, 0.0, None)
    return {"x": x.astype(float), "t_x": t_x, "T": T, "holdout_x": rng.poisson(lam * hold).astype(float),
            "alive": alive}
