"""Calibration / holdout summaries and the metrics of the backtest (:mod:`engine.clv.compare`).

Pure functions over pandas frames and numpy arrays (the CLI reads the data and prints the
result). The measures:

- naive baseline: the customer's past repeat rate times the holdout length,
  ``frequency / T × holdout`` (0 for a customer first seen on the calibration end, ``T = 0``);
- aggregate: total predicted vs actual repeat purchases in the holdout, and the error in %;
- per customer: mean absolute error, and the normalized Gini of the ranking (1 = orders
  customers exactly as the actual holdout purchases do, 0 = no better than random);
- by calibration frequency: actual and predicted holdout means per ``x`` (the paper's
  conditional-expectation check);
- when the true alive state is known (simulated data), the AUC of ``p_alive`` against it, next
  to the AUC of the naive "days since the last purchase" ranking.

Purchases are counted at the grain of the summary: at day grain a "purchase" is an order day
(several orders on one day count once), in calibration and holdout alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata



def summarise(orders: pd.DataFrame, *, customer: str, date: str, value: str | None = None,
              as_of: Any = None) -> pd.DataFrame:
    """Day-grain BG/NBD summary per customer from order rows dated on or before ``as_of``.

    ``frequency = order days - 1``, ``recency = last - first order day``, ``T = as_of - first
    order day`` (days), ``monetary = mean order-day value over the repeat days`` (the first day
    excluded; NaN without a repeat day or without a value column). ``as_of`` defaults to the
    last order date. Indexed by customer.
    """
    frame = orders[[customer, date] + ([value] if value else [])].copy()
    frame[date] = pd.to_datetime(frame[date]).dt.normalize()
    as_of = frame[date].max() if as_of is None else pd.Timestamp(as_of).normalize()
    frame = frame[frame[customer].notna() & (frame[date] <= as_of)]
    days = frame.groupby([customer, date], sort=True)
    daily = (days[value].sum() if value else days.size()).rename("v").reset_index()
    first = daily.groupby(customer)[date].transform("min")
    daily["repeat_value"] = np.where(daily[date] > first, daily["v"], np.nan)
    per = daily.groupby(customer).agg(first=(date, "min"), last=(date, "max"), order_days=(date, "size"),
                                      repeat_value=("repeat_value", "mean"))
    out = pd.DataFrame({
        "frequency": (per["order_days"] - 1).astype(float),
        "recency": (per["last"] - per["first"]).dt.days.astype(float),
        "T": (as_of - per["first"]).dt.days.astype(float),
        "monetary": per["repeat_value"].astype(float) if value else np.nan,
    }, index=per.index)
    return out


def calibration_holdout(orders: pd.DataFrame, *, customer: str, date: str, calibration_end: Any,
                        holdout_days: int | None = None, value: str | None = None) -> tuple[pd.DataFrame, int]:
    """The calibration summary (as of ``calibration_end``) with the holdout's repeat purchases.

    Customers are those with an order on or before ``calibration_end``; ``actual`` is their
    number of distinct order days in ``(calibration_end, calibration_end + holdout_days]``
    (default: up to the last order date) and, with ``value``, ``actual_value`` their revenue
    there. Returns the frame and the holdout length in days.
    """
    end = pd.Timestamp(calibration_end).normalize()
    dates = pd.to_datetime(orders[date]).dt.normalize()
    stop = dates.max() if holdout_days is None else end + pd.Timedelta(days=int(holdout_days))
    if stop <= end:
        raise ValueError(f"no holdout: the data end on {dates.max().date()}, not after the calibration end {end.date()}")
    summary = summarise(orders, customer=customer, date=date, value=value, as_of=end)
    window = (dates > end) & (dates <= stop)
    later = orders.loc[window, [customer]].assign(_day=dates[window])
    actual = later.drop_duplicates().groupby(customer).size()
    summary["actual"] = actual.reindex(summary.index).fillna(0).astype(float)
    if value:
        revenue = orders.loc[window].groupby(customer)[value].sum()
        summary["actual_value"] = revenue.reindex(summary.index).fillna(0.0).astype(float)
    return summary, int((stop - end).days)


def true_alive_at(alive_at_end, dropout_date, when: Any) -> np.ndarray:
    """Alive at ``when`` from simulated ground truth: alive at the end of the data, or dropped
    out later than ``when`` (a BG/NBD customer drops out right after their last purchase, so
    ``dropout_date`` is that purchase's date; empty when they never dropped out)."""
    alive = np.asarray(pd.Series(alive_at_end).astype(str).str.upper().isin(["TRUE", "1", "T", "YES"]))
    drop = pd.to_datetime(pd.Series(dropout_date).replace("", None), errors="coerce")
    later = np.asarray(drop > pd.Timestamp(when)).astype(bool)
    return alive | later


def normalized_gini(actual, score) -> float | None:
    """Gini of ``actual`` ranked by ``score``, divided by the Gini of the perfect ranking.

    Customers are ranked by ``score`` descending; tied scores share their segment of the
    Lorenz curve linearly (the expectation over random tie-breaking), so a constant score is
    exactly 0 and the result does not depend on row order. None when nothing was bought.
    """
    actual, score = np.asarray(actual, dtype=float), np.asarray(score, dtype=float)
    if len(actual) == 0 or actual.sum() <= 0:
        return None
    best = _gini(actual, actual)
    return _gini(actual, score) / best if best > 0 else None


def _gini(actual: np.ndarray, score: np.ndarray) -> float:
    order = np.argsort(-score, kind="stable")
    s, a = score[order], actual[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last index of each tied group
    cum_pop = np.r_[0.0, (ends + 1) / len(a)]
    cum_act = np.r_[0.0, np.cumsum(a)[ends] / a.sum()]
    area = np.sum(np.diff(cum_pop) * (cum_act[1:] + cum_act[:-1]) / 2.0)
    return 2.0 * area - 1.0


def auc(labels, score) -> float | None:
    """Area under the ROC curve of ``score`` for boolean ``labels`` (ties count half)."""
    labels, score = np.asarray(labels, dtype=bool), np.asarray(score, dtype=float)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def naive_prediction(frequency, T, horizon: float) -> np.ndarray:
    """Past repeat rate × horizon: ``frequency / T × horizon`` (0 when ``T = 0``)."""
    frequency, T = np.asarray(frequency, dtype=float), np.asarray(T, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(T > 0, frequency / T * horizon, 0.0)
