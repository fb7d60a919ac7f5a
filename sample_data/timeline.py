"""Calendar of the synthetic world: order volume per day, hour-of-day, and customer births.

Why: volume is not drawn per order independently; it is the sum of many customers' purchase
processes. To reproduce the published volume per year while keeping a genuine BG/NBD process
per customer, we solve for how many customers must be *born* each day: expected orders on day d
= guests + special accounts + sum over earlier birth days j of births[j] * kernel[d - j], where
the kernel is the population-average BG/NBD purchase rate of a customer of age d - j. The system
is triangular, so forward substitution gives the births exactly (clipped at zero).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sample_data import params, published

DAY_MS = 86_400_000
START_MS = int(np.datetime64(params.START, "ms").astype(np.int64))
END_MS = int(np.datetime64(params.END, "ms").astype(np.int64))
ORPHAN_END_MS = int(np.datetime64(params.ORPHAN_END, "ms").astype(np.int64))
DAY0 = START_MS // DAY_MS                      # day number (since 1970) of the first order
NDAYS = END_MS // DAY_MS - DAY0 + 1
SPAN_DAYS = (END_MS - START_MS) / DAY_MS
HOUR_P = np.array(params.HOUR_WEIGHTS) / sum(params.HOUR_WEIGHTS)


def day_ms(day: str) -> int:
    return int(np.datetime64(day, "D").astype(np.int64)) * DAY_MS


def year_of_day(days: np.ndarray) -> np.ndarray:
    """Calendar year of day numbers (days since 1970)."""
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _window_fraction() -> np.ndarray:
    """Share of each day's hour mass that lies inside [START, END] (first/last days are partial)."""
    frac = np.ones(NDAYS)
    hours = np.arange(24)
    h0 = (START_MS % DAY_MS) / 3_600_000
    h1 = (END_MS % DAY_MS) / 3_600_000
    frac[0] = (HOUR_P * np.clip(hours + 1 - h0, 0, 1)).sum()
    frac[-1] = (HOUR_P * np.clip(h1 - hours, 0, 1)).sum()
    return frac


@lru_cache(maxsize=1)
def daily_orders() -> np.ndarray:
    """Expected orders per day at scale 1 (all apps, guests included), matching the year totals."""
    days = DAY0 + np.arange(NDAYS)
    kd = np.array([np.datetime64(d, "D").astype(np.int64) for d, _ in params.VOLUME_KNOTS], float)
    kv = np.array([v for _, v in params.VOLUME_KNOTS], float)
    rate = np.interp(days.astype(float), kd, kv) * _window_fraction()
    years = year_of_day(days)
    for year, total in published.ORDERS_BY_NY_YEAR.items():
        sel = years == year
        rate[sel] *= total / rate[sel].sum()
    return rate


def guest_share(days: np.ndarray) -> np.ndarray:
    years = year_of_day(days)
    return np.array([params.GUEST_ORDER_SHARE[int(y)] for y in years])


@lru_cache(maxsize=1)
def kernel() -> np.ndarray:
    """Expected orders on day k after the birth day, population average of BG/NBD.

    Expected repeats by age t: C(t) = E_p[(1 - (alpha / (alpha + p t))^r) / p] (gamma integrated
    in closed form, beta by a fixed Monte Carlo sample so the result does not depend on the
    user's seed). A birth falls mid-day on average, so day k gets C(k + 1/2) - C(k - 1/2).
    """
    r, alpha, a, b = (params.BGNBD[k] for k in ("r", "alpha", "a", "b"))
    p = np.random.default_rng(20240221).beta(a, b, 4000)
    edges = np.r_[0.0, np.arange(NDAYS) + 0.5]
    cum = ((1 - (alpha / (alpha + p[None, :] * edges[:, None])) ** r) / p[None, :]).mean(1)
    k = np.diff(cum)
    k[0] += 1.0
    return k


@lru_cache(maxsize=8)
def births(special_key: tuple) -> np.ndarray:
    """Customers to be born per day (scale 1) so that total expected volume meets the target.

    ``special_key`` is a tuple of the expected daily orders of bots, DEV and Perks accounts
    (hashable so the solve is cached).
    """
    special = np.array(special_key)
    days = DAY0 + np.arange(NDAYS)
    target = daily_orders() * (1 - guest_share(days)) - special
    k = kernel()
    out = np.zeros(NDAYS)
    acc = np.zeros(NDAYS)
    for d in range(NDAYS):
        need = target[d] - acc[d]
        if need > 0:
            out[d] = need / k[0]
            acc[d:] += out[d] * k[: NDAYS - d]
    return out


def sample_time_of_day(rng: np.random.Generator, n: int, hours: np.ndarray | None = None) -> np.ndarray:
    """Milliseconds after midnight UTC following the hour profile (or the given hours)."""
    h = rng.choice(24, size=n, p=HOUR_P) if hours is None else hours
    return h.astype(np.int64) * 3_600_000 + rng.integers(0, 3_600_000, n)


def place_in_day(rng: np.random.Generator, day: np.ndarray, hours: np.ndarray | None = None) -> np.ndarray:
    """Timestamps (ms) on the given day numbers, kept inside [START, END]."""
    t = day.astype(np.int64) * DAY_MS + sample_time_of_day(rng, len(day), hours)
    lo = t < START_MS
    t[lo] = START_MS + 1 + rng.integers(0, max(DAY_MS - START_MS % DAY_MS - 1, 1), lo.sum())
    hi = t >= END_MS
    t[hi] = END_MS - 1 - rng.integers(0, max(END_MS % DAY_MS, 1), hi.sum())
    return t


def dedupe_times(t: np.ndarray) -> np.ndarray:
    """Make timestamps unique by nudging collisions forward 1 ms (one timestamp per order)."""
    order = np.argsort(t, kind="stable")
    s = t[order]
    while True:
        dup = np.flatnonzero(np.diff(s) <= 0) + 1
        if not len(dup):
            break
        s[dup] = s[dup - 1] + 1
    out = np.empty_like(t)
    out[order] = s
    return out
