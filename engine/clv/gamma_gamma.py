"""The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013), fitted and scored in numpy.

A customer's transaction values are i.i.d. ``Gamma(p, ν)`` (shape ``p``, rate ``ν``) around their
own mean ``p/ν``; across customers ``ν ~ Gamma(q, γ)``. Only the number of (repeat)
transactions ``x`` and their average value ``m̄`` are needed. The model assumes spend is
independent of purchase frequency: :func:`fit` reports the correlation of ``x`` and ``m̄`` so a
reader can check.

Reference: P. S. Fader, B. G. S. Hardie, "The Gamma-Gamma Model of Monetary Value" (2013 note);
its equations (1) (the marginal density of ``m̄``), (4) (the population mean) and (5) (the
conditional mean) are below. On CDNOW (946 repeat customers) the note reports p = 6.25,
q = 3.74, γ = 15.44.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from engine.clv import FitResult, compress, minimize_log, skipped, wsum
from engine.clv.purchase import ModelParams
from engine.clv.validation import check_params, refuse

# influence warning: dropping the most influential 0.1% of customers (1 to 100) moves a parameter by > 25%
INFLUENTIAL_SHARE = 0.001
INFLUENTIAL_MAX = 100
INFLUENCE_LIMIT = 0.25

NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGammaParams(ModelParams):
    """``z ~ Gamma(p, ν)`` per transaction, ``ν ~ Gamma(q, γ)`` across customers."""

    p: float
    q: float
    gamma: float

    @property
    def population_mean(self) -> float:
        """E(M) = pγ / (q - 1), eq. (4); infinite when ``q <= 1``."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")


class _Data:
    """Weighted distinct ``(x, m̄)`` rows; terms in ``x`` alone are evaluated per distinct ``x``."""

    def __init__(self, x: np.ndarray, m: np.ndarray, w: np.ndarray):
        self.xs, inverse = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inverse.ravel(), weights=w, minlength=len(self.xs))
        self.x, self.m, self.w = x, m, w
        self.log_m = np.log(m)
        self.sum_w_x_log_m = wsum(w, x * self.log_m)
        self.sum_w_log_m = wsum(w, self.log_m)
        self.total = float(w.sum())


def _neg_ll_and_grad(theta: np.ndarray, d: _Data) -> tuple[float, np.ndarray]:
    """``-LL`` and its gradient in ``log(p, q, γ)``.

    Eq. (1): ``f(m̄ | x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m̄^(px-1) · x^(px) / (γ + x m̄)^(px+q)``.
    """
    p, q, g = np.exp(theta)
    xs, wx = d.xs, d.wx
    px = p * xs
    f = gammaln(px + q) - gammaln(px) - gammaln(q) + px * np.log(xs)
    log_den = np.log(g + d.x * d.m)
    coef = p * d.x + q
    ll = (wsum(wx, f) + d.total * q * np.log(g) + p * d.sum_w_x_log_m - d.sum_w_log_m
          - wsum(d.w, coef * log_den))
    psi_pxq = digamma(px + q)
    g_p = wsum(wx, xs * (psi_pxq - digamma(px) + np.log(xs))) + d.sum_w_x_log_m - wsum(d.w, d.x * log_den)
    g_q = wsum(wx, psi_pxq - digamma(q)) + d.total * np.log(g) - wsum(d.w, log_den)
    g_g = d.total * q / g - wsum(d.w, coef / (g + d.x * d.m))
    return -ll, -np.array([g_p * p, g_q * q, g_g * g])


def log_likelihood(params: GammaGammaParams, x, m, weights=None) -> float:
    """The total Gamma-Gamma log-likelihood, eq. (1), of customers with ``x > 0`` and ``m̄ > 0``."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    theta = np.log([params.p, params.q, params.gamma])
    return -_neg_ll_and_grad(theta, _Data(x, m, w))[0]


def usable(x, m) -> np.ndarray:
    """Rows the spend model can learn from: at least one repeat purchase, a positive finite mean."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & np.isfinite(m) & (x > 0) & (m > 0)


def fit(x, m, weights=None, *, min_customers: int = 1, max_iterations: int = 1000,
        start: GammaGammaParams | None = None) -> FitResult:
    """Maximum-likelihood Gamma-Gamma parameters from repeat customers' ``(x, m̄)``.

    Rows with ``x = 0`` or a non-positive / missing ``m̄`` carry no information about spend and
    are left out (counted in the result). A fit with ``q <= 1`` has no finite population mean,
    so it is reported as unusable. ``extra["corr_x_m"]`` is the Pearson correlation of ``x``
    and ``m̄`` (the model assumes none).
    """
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = usable(x, m) & (w > 0)
    n_excluded = int(round(float(w[~keep & (w > 0)].sum())))
    x, m, w = x[keep], m[keep], w[keep]
    n = float(w.sum())
    if n < max(min_customers, 1):
        return skipped("gamma_gamma", f"too little data: {n:,.0f} repeat customer(s) with a positive spend "
                                      f"(the minimum is {max(min_customers, 1):,})",
                       n_customers=int(n), n_excluded=n_excluded)
    corr = _weighted_corr(x, m, w)
    (x, m), w = compress(x, m, weights=w)
    data = _Data(x, m, w)
    if start is None:
        mean_m = wsum(w, m) / n
        start = GammaGammaParams(1.0, 2.0, mean_m)  # population mean pγ/(q-1) = the sample mean
    result = minimize_log(lambda th: _neg_ll_and_grad(th, data), [start.p, start.q, start.gamma], NAMES,
                          total_weight=n, model="gamma_gamma", max_iterations=max_iterations,
                          n_customers=int(n), n_rows=len(x))
    if result.converged and result.params is not None and result.params["q"] <= 1.0:
        result.converged = False
        result.message = (f"unusable fit: q = {result.params['q']:.3g} <= 1, so the population mean spend "
                          "pγ/(q-1) is unbounded")
    result.extra.update(n_excluded=n_excluded, corr_x_m=corr)
    if result.converged and result.extra.get("covariance_log") is not None:
        result.extra["influence"] = influence(result, x, m, w)
        if result.extra["influence"]["warning"]:
            result.extra["warning"] = result.extra["influence"]["warning"]
    if result.params is not None and result.params["q"] > 1.0:
        result.extra["population_mean"] = GammaGammaParams.from_dict(result.params).population_mean
    return result


def _row_gradients(params: GammaGammaParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each row's gradient of its log-likelihood, eq. (1), in ``log(p, q, γ)`` (rows × 3)."""
    p, q, g = params.p, params.q, params.gamma
    px = p * x
    log_den = np.log(g + x * m)
    psi = digamma(px + q)
    d_p = x * (psi - digamma(px) + np.log(x) + np.log(m) - log_den)
    d_q = psi - digamma(q) + np.log(g) - log_den
    d_g = q / g - (px + q) / (g + x * m)
    return np.stack([d_p * p, d_q * q, d_g * g], axis=1)


def influence(result: FitResult, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> dict:
    """How far the few most influential customers move the estimate.

    Customers are ranked by ``g_i' · cov · g_i`` (their score through the inverse information:
    the one-step leave-out distance); the top ``INFLUENTIAL_SHARE`` of them (at least one, at
    most ``INFLUENTIAL_MAX``) are dropped and the model refitted. A warning is returned when
    that changes any parameter by more than ``INFLUENCE_LIMIT``: a handful of customers then
    carry an outsized share of the likelihood (a single $1e9 order day does, by far).
    """
    params = GammaGammaParams.from_dict(result.params)
    cov = np.asarray(result.extra["covariance_log"])
    g = _row_gradients(params, x, m)
    distance = np.einsum("ij,jk,ik->i", g, cov, g)
    n = float(w.sum())
    k = int(min(max(1, np.ceil(INFLUENTIAL_SHARE * n)), INFLUENTIAL_MAX))
    order = np.argsort(-distance, kind="stable")
    keep_w = w.copy()
    left = float(k)
    for i in order:
        take = min(keep_w[i], left)
        keep_w[i] -= take
        left -= take
        if left <= 0:
            break
    worst = int(order[0])
    out = {"customers": k, "share_of_customers": k / max(n, 1.0),
           "most_influential": {"x": float(x[worst]), "m": float(m[worst])}, "parameter_change": None,
           "warning": None}
    keep = keep_w > 0
    data = _Data(x[keep], m[keep], keep_w[keep])
    refit = minimize_log(lambda th: _neg_ll_and_grad(th, data), list(result.params.values()), NAMES,
                         total_weight=float(keep_w.sum()), model="gamma_gamma", n_customers=int(keep_w.sum()))
    if refit.params is None:
        return out
    change = {name: refit.params[name] / result.params[name] - 1.0 for name in NAMES}
    out["parameter_change"] = change
    if any(abs(v) > INFLUENCE_LIMIT for v in change.values()):
        moves = "/".join(f"{v:+.0%}" for v in change.values())
        out["warning"] = (f"influence: without its {k:,} most influential customer(s) ({k / n:.2%}) the spend model's "
                          f"p/q/gamma move by {moves} (limit ±{INFLUENCE_LIMIT:.0%}); the most influential has "
                          f"x={x[worst]:g}, mean spend {m[worst]:,.2f}: check them before trusting predicted CLV")
    return out


def _weighted_corr(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> float | None:
    if len(x) < 2:
        return None
    mx, mm = wsum(w, x) / w.sum(), wsum(w, m) / w.sum()
    cov = wsum(w, (x - mx) * (m - mm))
    var = wsum(w, (x - mx) ** 2) * wsum(w, (m - mm) ** 2)
    return float(cov / np.sqrt(var)) if var > 0 else None


def conditional_expected_value(params: GammaGammaParams, x, m) -> np.ndarray:
    """E(M | p, q, γ, m̄, x) = p (γ + x m̄) / (p x + q - 1), eq. (5).

    A weighted average of the population mean ``pγ/(q-1)`` and the customer's own ``m̄``, with
    weight ``px/(px+q-1)`` on ``m̄``. Customers the model cannot score from their own spend
    (no repeat purchase, or ``m̄`` missing or not positive) get the population mean.
    """
    check_params(params)
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(m, dtype=float))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(x) | (x < 0) | (x != np.round(x)) | ((x > 0) & np.isfinite(m) & (m < 0))
    refuse(bad, "invalid spend row(s): frequency must be a whole number >= 0 and mean spend not negative", x=x, m=m)
    own = usable(x, m)
    with np.errstate(all="ignore"):
        value = params.p * (params.gamma + x * m) / (params.p * x + params.q - 1.0)
    return np.where(own, value, params.population_mean)


def future_spend(params: GammaGammaParams, x: np.ndarray, m: np.ndarray, counts: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """One draw of the total spent on ``counts`` future transactions, given each customer's history.

    The history ``x`` transactions of mean ``m̄`` makes ``ν ~ Gamma(q + px, γ + x m̄)`` (the
    population's ``Gamma(q, γ)`` without a usable spend); a sum of ``n`` values ``Gamma(p, ν)`` is
    ``Gamma(pn, ν)`` (0 when ``n = 0``). Its mean is ``n`` × :func:`conditional_expected_value`.
    """
    own = usable(x, m)
    xs, ms = np.where(own, x, 0.0), np.where(own, m, 0.0)
    nu = rng.gamma(params.q + params.p * xs, 1.0 / (params.gamma + xs * ms))
    n = np.asarray(counts, dtype=float)
    return np.where(n > 0, rng.gamma(params.p * np.maximum(n, 1.0), 1.0 / nu), 0.0)


def simulate(params: GammaGammaParams, x, seed: int | None = None) -> np.ndarray:
    """Average spend ``m̄`` of customers with ``x`` transactions, drawn from the model
    (``ν ~ Gamma(q, γ)``; the mean of ``x`` draws of ``Gamma(p, ν)`` is ``Gamma(px, xν)``); NaN for ``x = 0``."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=float)
    nu = rng.gamma(params.q, 1.0 / params.gamma, len(x))
    safe = np.maximum(x, 1.0)
    return np.where(x > 0, rng.gamma(params.p * safe, 1.0 / (safe * nu)), np.nan)
