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
from scipy.special import expit

from engine.clv import FitResult, bgnbd
from engine.clv.purchase import fit_family
from engine.clv.validation import arrays, check_params, require_valid

NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class MbgNbdParams(bgnbd.BgNbdParams):
    """``λ ~ Gamma(r, α)``, dropout probability after each purchase ``p ~ Beta(a, b)`` (BG/NBD's fields)."""


class _Data(bgnbd._Data):
    """BG/NBD's layout with the dropout term on every row (a one-time buyer may be gone)."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray):
        super().__init__(x, t_x, T, w, all_can_drop=True)


def _neg_ll_and_grad(theta: np.ndarray, d: _Data) -> tuple[float, np.ndarray]:
    """``-LL`` and its exact gradient in ``log(r, α, a, b)``: BG/NBD's with ``b + x`` for ``b + x - 1``."""
    return bgnbd._neg_ll_and_grad(theta, d, shift=1.0)


def log_likelihood(params: MbgNbdParams, x, t_x, T, weights=None) -> float:
    """The total MBG/NBD log-likelihood of (optionally weighted) summary rows."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    return -_neg_ll_and_grad(np.log(params.values()), _Data(x, t_x, T, w))[0]


def fit(x, t_x, T, weights=None, *, min_repeat_customers: int = 1, max_iterations: int = 1000,
        start: MbgNbdParams | None = None) -> FitResult:
    """Maximum-likelihood MBG/NBD parameters (same contract as :func:`engine.clv.bgnbd.fit`)."""
    return fit_family("mbgnbd", x, t_x, T, weights, names=NAMES, make_data=_Data, neg_ll_and_grad=_neg_ll_and_grad,
                      start=start, default_start=bgnbd.start_guess, min_repeat_customers=min_repeat_customers,
                      max_iterations=max_iterations)


def p_alive(params: MbgNbdParams, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x)), a logistic of the log odds."""
    x, t_x, T = require_valid(*arrays(x, t_x, T))
    return _p_alive(params, x, t_x, T)


def _p_alive(params: MbgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """:func:`p_alive` on rows already validated."""
    check_params(params)
    return expit(-bgnbd.log_odds_dead(params, x, t_x, T, shift=1.0))


def growth(params: MbgNbdParams, t, x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T] / P(alive): BG/NBD's :func:`engine.clv.bgnbd.growth` with ``b + 1``."""
    check_params(params)
    return bgnbd.growth(bgnbd.BgNbdParams(params.r, params.alpha, params.a, params.b + 1.0), t, x, T)


def future_if_alive(params: MbgNbdParams, t: float, x: np.ndarray, T: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """One draw of the purchases in ``(T, T+t]`` of customers alive at ``T``: BG/NBD's with
    ``p ~ Beta(a, b+x+1)`` (the first purchase was survived too)."""
    return bgnbd.future_if_alive(params, t, x, T, rng, shift=1.0)


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
