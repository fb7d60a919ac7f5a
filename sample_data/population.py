"""Who orders when: BG/NBD customers, guests, bot-like accounts, DEVELOPMENT and Perks users.

Why a latent process: churn and predictive-CLV marts are only testable if the data has a known
truth. Each registered customer gets an order rate lambda ~ Gamma(r, alpha) and a dropout
probability p ~ Beta(a, b) (Fader, Hardie & Lee 2005): after each repeat order the customer
leaves with probability p. We draw the number N of Poisson events in the remaining window and
the geometric number K of repeats until dropout; the customer makes min(N, K) repeats and is
alive at the end iff N < K. Times of the first X of N uniform events are S_k / (S_X + G),
S = cumulative Exp(1), G ~ Gamma(N + 1 - X), so no discarded events are ever materialised.
The truth (rate, p, dropout date, alive) goes to ``ground_truth.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_data import params, timeline as tl

KIND_CUSTOMER, KIND_GUEST, KIND_BOT, KIND_DEV, KIND_PERKS = 0, 1, 2, 3, 4
FIRST_USER = "5de52888adb0d563417b23c8"   # the customer of the very first real order


@dataclass
class Block:
    """Orders of one population in one chunk, plus the users behind them."""
    t: np.ndarray            # order time, ms since epoch
    user: np.ndarray         # local user index into the users arrays, -1 for guests
    kind: int
    extra_mean: np.ndarray   # mean of (lines - 1) for each order
    users: dict              # arrays per user: gidx, birth, lam, p, dropout, alive, z, hour, id


def _stratified(rng, draw, n: int) -> np.ndarray:
    """n draws from a distribution, one per quantile stratum, in random order.

    Each value still has the distribution's marginal law, but a chunk of a few hundred
    customers gets its fair share of the heavy tail (a stratified, Latin-hypercube sample), so
    small scales are not at the mercy of one or two extreme customers.
    """
    pool = np.sort(draw(max(50 * n, 100_000)))
    u = (rng.permutation(n) + rng.random(n)) / max(n, 1)
    return pool[np.minimum((u * len(pool)).astype(np.int64), len(pool) - 1)]


def customers(rng, gidx: np.ndarray, p_birth: np.ndarray, first: bool) -> Block:
    r, alpha, a, b = (params.BGNBD[k] for k in ("r", "alpha", "a", "b"))
    n = len(gidx)
    f0 = (tl.START_MS % tl.DAY_MS) / tl.DAY_MS
    day = rng.choice(tl.NDAYS, size=n, p=p_birth)
    x0 = np.clip(day - f0 + rng.random(n), 0.0, tl.SPAN_DAYS - 1e-6)     # days since START
    if first:
        x0[0] = 0.0
    lam = _stratified(rng, lambda m: rng.gamma(r, 1.0 / alpha, m), n)
    p = _stratified(rng, lambda m: rng.beta(a, b, m), n)
    horizon = tl.SPAN_DAYS - x0
    events = rng.poisson(lam * horizon)
    k_drop = rng.geometric(np.clip(p, 1e-9, 1.0))
    x_rep = np.minimum(events, k_drop)
    alive = events < k_drop
    owner = np.repeat(np.arange(n), x_rep)
    gaps = rng.exponential(1.0, owner.size)
    cum = np.cumsum(gaps)
    starts = np.cumsum(x_rep) - x_rep
    base = np.repeat(np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0), x_rep)
    s = cum - base                                      # within-customer cumulative sums
    s_last = np.zeros(n)
    has = x_rep > 0
    s_last[has] = s[starts[has] + x_rep[has] - 1]
    denom = s_last + rng.gamma(np.maximum(events - x_rep + 1, 1).astype(float))
    x_orders = np.concatenate([x0, x0[owner] + horizon[owner] * s / denom[owner]])
    who = np.concatenate([np.arange(n), owner])
    hour = rng.choice(24, size=n, p=tl.HOUR_P)
    use_pref = rng.random(who.size) < params.PREFERRED_HOUR_SHARE
    ms = tl.START_MS + (x_orders * tl.DAY_MS).astype(np.int64)
    hours = np.where(use_pref, hour[who], rng.choice(24, who.size, p=tl.HOUR_P))
    t = tl.place_in_day(rng, ms // tl.DAY_MS, hours)
    if first:
        t[0] = tl.START_MS
    birth = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(birth, who, t)                        # same-day repeats may precede the birth
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, who, t)
    z = rng.gamma(params.BASKET_SHAPE, 1.0 / params.BASKET_SHAPE, n)
    users = dict(gidx=gidx, birth=birth, lam=lam, p=p, alive=alive,
                 dropout=np.where(alive, -1, last), z=z, hour=hour, ids=[None] * n)
    if first:
        users["ids"][0] = FIRST_USER
    return Block(t=t, user=who, kind=KIND_CUSTOMER, extra_mean=z[who], users=users)


def guests(rng, expected_per_day: np.ndarray) -> Block:
    counts = rng.poisson(expected_per_day)
    day = np.repeat(tl.DAY0 + np.arange(tl.NDAYS), counts)
    t = tl.place_in_day(rng, day)
    return Block(t=t, user=np.full(t.size, -1), kind=KIND_GUEST,
                 extra_mean=np.full(t.size, params.GUEST_BASKET), users={})


def _bot(rng, spec, gidx: int, volume: float) -> tuple[np.ndarray, dict]:
    """Sessions of rapid orders (40 s - 5 min apart) over the account's active window, plus one
    burst day (``max_day`` orders, in 2023 when the window allows, as the SME reported)."""
    uid, lines, orders, _locs, first, last, max_day = spec
    n = max(int(round(orders * volume)), 2)
    d0, d1 = tl.day_ms(first) // tl.DAY_MS, tl.day_ms(last) // tl.DAY_MS
    chain = rng.uniform(*params.BOT_CHAIN_SHARE)
    burst = int(round(max_day * volume)) if n > 3 * max_day * volume else 0
    n_rest = n - burst
    sessions = max(int(round(n_rest * (1 - chain))), 1)
    size = np.ones(sessions, dtype=np.int64)
    np.add.at(size, rng.integers(0, sessions, n_rest - sessions), 1)
    if burst:
        size = np.append(size, burst)
    day = rng.integers(d0, d1 + 1, size.size)
    y0, y1 = tl.day_ms("2023-01-01") // tl.DAY_MS, tl.day_ms("2023-12-31") // tl.DAY_MS
    if burst and d0 <= y1 and d1 >= y0:                  # the published burst days are in 2023
        day[-1] = rng.integers(max(d0, y0), min(d1, y1) + 1)
    start = tl.place_in_day(rng, day)
    if burst:                                            # a burst day starts early
        start[-1] = day[-1] * tl.DAY_MS + 11 * 3_600_000 + rng.integers(0, 600_000)
    step = rng.integers(40_000, 300_000, int(size.sum()))
    owner = np.repeat(np.arange(size.size), size)
    first_of = np.cumsum(size) - size
    offs = np.cumsum(step) - np.repeat(np.cumsum(step)[first_of] - step[first_of], size)
    t = np.minimum(start[owner] + offs - step[first_of][owner], tl.END_MS - 1)
    rate = n / max(d1 - d0, 1)
    user = dict(gidx=gidx, birth=int(t.min()), lam=rate, p=0.0, alive=last >= "2024-01-01",
                dropout=-1 if last >= "2024-01-01" else int(t.max()), z=1.0, hour=15, ids=uid,
                extra=lines / orders - 1)
    return t, user


def bots(rng, specs, gidx: np.ndarray, volume: float) -> Block:
    """The heavy bot-like accounts (``params.BOTS``), their order volume scaled by ``volume``."""
    ts, users = [], []
    for spec, g in zip(specs, gidx):
        t, u = _bot(rng, spec, int(g), volume)
        ts.append(t)
        users.append(u)
    if not ts:
        return _empty(KIND_BOT)
    who = np.concatenate([np.full(t.size, i) for i, t in enumerate(ts)])
    cols = {k: np.array([u[k] for u in users]) for k in ("gidx", "birth", "lam", "p", "alive",
                                                         "dropout", "z", "hour", "extra")}
    cols["ids"] = [u["ids"] for u in users]
    return Block(t=np.concatenate(ts), user=who, kind=KIND_BOT, extra_mean=cols["extra"][who],
                 users=cols)


def flat_users(rng, kind, gidx, n_orders, windows, weights, extra, pin) -> Block:
    """DEV / Perks users: Zipf-skewed users, order days from a mixture of date windows."""
    n_users = len(gidx)
    if n_users == 0 or n_orders <= 0:
        return _empty(kind)
    comp = rng.choice(len(windows), size=n_orders, p=np.array(weights) / sum(weights))
    lo = np.array([tl.day_ms(a) // tl.DAY_MS for a, _ in windows])[comp]
    hi = np.array([tl.day_ms(b) // tl.DAY_MS for _, b in windows])[comp]
    day = lo + (rng.random(n_orders) * (hi - lo + 1)).astype(np.int64)
    if pin:                                              # first and last published dates
        day[0], day[-1] = tl.day_ms(windows[0][0]) // tl.DAY_MS, tl.day_ms(pin) // tl.DAY_MS
    t = tl.place_in_day(rng, day)
    zipf = 1.0 / np.arange(1, n_users + 1) ** 0.9
    who = rng.choice(n_users, size=n_orders, p=zipf / zipf.sum())
    if n_orders >= n_users:                              # every user orders at least once
        who[:n_users] = rng.permutation(n_users)
    birth = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(birth, who, t)
    last = np.full(n_users, -1, dtype=np.int64)
    np.maximum.at(last, who, t)
    span = max(hi.max() - lo.min(), 1)
    cnt = np.bincount(who, minlength=n_users)
    ended = kind == KIND_PERKS
    users = dict(gidx=gidx, birth=birth, lam=cnt / span, p=np.zeros(n_users),
                 alive=np.full(n_users, not ended), dropout=np.where(ended, last, -1),
                 z=np.ones(n_users), hour=np.full(n_users, 15), ids=[None] * n_users)
    return Block(t=t, user=who, kind=kind, extra_mean=np.full(n_orders, extra), users=users)


def _empty(kind) -> Block:
    e = np.zeros(0, dtype=np.int64)
    return Block(t=e, user=e, kind=kind, extra_mean=np.zeros(0), users={})


def special_daily(scale_volume: float = 1.0) -> np.ndarray:
    """Expected orders per day of bots, DEV and Perks at scale 1 (for the births solve)."""
    out = np.zeros(tl.NDAYS)
    days = tl.DAY0 + np.arange(tl.NDAYS)

    def spread(total, a, b):
        sel = (days >= tl.day_ms(a) // tl.DAY_MS) & (days <= tl.day_ms(b) // tl.DAY_MS)
        out[sel] += total / max(sel.sum(), 1)

    for _, _, orders, _, a, b, _ in params.BOTS:
        spread(orders, a, b)
    for (a, b), w in zip(DEV_WINDOWS, DEV_WEIGHTS):
        spread(741 * w / sum(DEV_WEIGHTS), a, b)
    spread(1_076, "2021-07-06", "2023-03-13")
    return out * scale_volume


DEV_WINDOWS = (("2021-03-16", "2022-12-31"), ("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-02-12"))
DEV_WEIGHTS = (0.11, params.DEV_ROWS_2023_SHARE, 1 - 0.11 - params.DEV_ROWS_2023_SHARE)
PERKS_WINDOWS = (("2021-07-06", "2023-03-13"),)
