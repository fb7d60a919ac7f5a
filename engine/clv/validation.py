"""Strict inputs for the CLV models: which summaries are unusable, why, and an example of each.

A model fitted on silently dropped rows reports "converged" about data it never saw; a
scoring function fed NaN returns P(alive) = 1. So the fits and the scoring functions refuse
invalid summaries (:class:`engine.errors.InvalidSummaryError`, a count and an example per
reason), and callers that must go on — the Spark step, the backtest — screen first with
:func:`screen`, report the counts and pass only the valid rows.

Reasons, first match wins (in this order):

- ``missing``: NaN, null or infinite frequency, recency or T;
- ``negative``: frequency, recency or T below 0;
- ``fractional frequency``: frequency not a whole number;
- ``recency > T``: the last purchase after the end of observation;
- ``recency without repeats`` / ``repeats without recency``: ``t_x > 0`` exactly when ``x > 0``;
- ``T = 0`` is valid for scoring (a customer first seen on the as-of date) but carries no
  information, so :func:`screen` counts it apart (``zero_T``) and fits leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import InvalidSummaryError

REASONS = ("missing", "negative", "fractional frequency", "recency > T", "recency without repeats",
           "repeats without recency")


def arrays(*values: Any) -> list[np.ndarray]:
    """Float arrays of the given values (``None`` becomes NaN)."""
    return [np.asarray(np.nan if v is None else v, dtype=float) for v in values]


@dataclass
class Screen:
    """Which rows are valid, and for each reason how many are not (with the first example)."""

    valid: np.ndarray
    zero_T: np.ndarray
    reasons: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def n_invalid(self) -> int:
        return int(sum(r["count"] for r in self.reasons.values()))

    def as_dict(self) -> dict[str, Any]:
        """For the run record: ``{"invalid": n, "reasons": {reason: {count, example}}}``."""
        return {"invalid": self.n_invalid, "reasons": self.reasons}

    def message(self) -> str:
        """``3 invalid summaries: negative 2 (e.g. x=-1, t_x=0, T=5); recency > T 1 (...)``."""
        parts = [f"{name} {info['count']:,} (e.g. " + ", ".join(f"{k}={v}" for k, v in info["example"].items()) + ")"
                 for name, info in self.reasons.items()]
        return f"{self.n_invalid:,} invalid summar{'y' if self.n_invalid == 1 else 'ies'}: " + "; ".join(parts)


def _example(row: int, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> dict[str, Any]:
    def show(v: float) -> Any:
        return None if np.isnan(v) else (int(v) if float(v).is_integer() and abs(v) < 1e15 else float(v))
    return {"x": show(x[row]), "t_x": show(t_x[row]), "T": show(T[row])}


def screen(x, t_x, T, weights=None) -> Screen:
    """Classify summary rows (``weights``: customers per row, default 1 each)."""
    x, t_x, T = np.broadcast_arrays(*arrays(x, t_x, T))
    w = np.ones(x.shape) if weights is None else np.asarray(weights, dtype=float)
    with np.errstate(invalid="ignore"):
        tests = {
            "missing": ~(np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T)),
            "negative": (x < 0) | (t_x < 0) | (T < 0),
            "fractional frequency": x != np.round(x),
            "recency > T": t_x > T,
            "recency without repeats": (x == 0) & (t_x > 0),
            "repeats without recency": (x > 0) & (t_x == 0),
        }
    taken = np.zeros(x.shape, dtype=bool)
    reasons: dict[str, dict[str, Any]] = {}
    for name in REASONS:
        hit = tests[name] & ~taken
        if hit.any():
            first = int(np.flatnonzero(hit.ravel())[0])
            reasons[name] = {"count": int(round(float(w.ravel()[hit.ravel()].sum()))),
                             "example": _example(first, x.ravel(), t_x.ravel(), T.ravel())}
        taken |= hit
    valid = ~taken
    with np.errstate(invalid="ignore"):
        zero_T = valid & (T == 0)
    return Screen(valid, zero_T, reasons)


def require_valid(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arrays, broadcast; :class:`InvalidSummaryError` when any row is invalid."""
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    found = screen(x, t_x, T)
    if found.n_invalid:
        raise InvalidSummaryError(found.message())
    return x, t_x, T


def check_params(params: Any) -> None:
    """Every model parameter finite and positive (a dataclass of floats)."""
    bad = {k: v for k, v in vars(params).items() if not (np.isfinite(v) and v > 0)}
    if bad:
        raise ValueError(f"{type(params).__name__}: parameters must be finite and positive, got "
                         + ", ".join(f"{k}={v}" for k, v in bad.items()))


def check_horizon(t: Any) -> np.ndarray:
    """A prediction horizon: finite and >= 0."""
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"the horizon must be finite and >= 0, got {t if t.ndim == 0 else t[~(np.isfinite(t) & (t >= 0))][:3]}")
    return t


def refuse(bad: np.ndarray, what: str, **columns: np.ndarray) -> None:
    """:class:`InvalidSummaryError` with the count of ``bad`` rows and the first one's values."""
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        example = ", ".join(f"{k}={v.ravel()[i]}" for k, v in columns.items())
        raise InvalidSummaryError(f"{int(bad.sum()):,} {what} (e.g. {example})")


def check_spend(x, m) -> tuple[np.ndarray, np.ndarray]:
    """Gamma-Gamma inputs: whole ``x >= 0``; ``m̄`` positive and finite wherever ``x > 0``."""
    x, m = np.broadcast_arrays(*arrays(x, m))
    with np.errstate(invalid="ignore"):
        bad_x = ~np.isfinite(x) | (x < 0) | (x != np.round(x))
        bad_m = (x > 0) & ~(np.isfinite(m) & (m > 0))
    refuse(bad_x, "invalid spend row(s): frequency must be a whole number >= 0", x=x, m=m)
    refuse(bad_m, "invalid spend row(s): mean spend must be positive and finite for customers with repeats", x=x, m=m)
    return x, m


def check_x_T(x, T) -> tuple[np.ndarray, np.ndarray]:
    """The part of a summary that growth terms use: whole ``x >= 0`` and ``T >= 0``, finite."""
    x, T = np.broadcast_arrays(*arrays(x, T))
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(x) & np.isfinite(T)) | (x < 0) | (T < 0) | (x != np.round(x))
    refuse(bad, "invalid (x, T) row(s): x must be a whole number >= 0 and T >= 0, both finite", x=x, T=T)
    return x, T
