"""The global plan of a run: how many customers, how chunks divide them, quirk quotas.

Why a plan: memory must stay bounded at scale 100 (20M+ lines), so the data is produced in
chunks that never see each other. Everything global is decided here, cheaply and
deterministically from (scale, seed): the customer count from the births solve, which users
belong to which chunk (customers by index range, special accounts round-robin), and how many
of each quirk each chunk plants. A chunk then only needs its own slice and its own RNG streams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sample_data import params, published as pub, population as pop, quirks, timeline as tl

CHUNK_LINES = 400_000          # lines per chunk; chunk count stays < 255 even at scale 100


@dataclass
class Plan:
    scale: float
    seed: int
    n_chunks: int
    cust_bounds: np.ndarray       # customer global index range per chunk
    p_birth: np.ndarray           # birth-day distribution
    bots: list                    # (spec, gidx, chunk)
    bot_volume: float
    dev: tuple                    # (first gidx, users, orders)
    perks: tuple
    guests_per_day: np.ndarray    # expected guest orders per day for one chunk
    quotas: list                  # per chunk quirk counts

    @property
    def n_customers(self) -> int:
        return int(self.cust_bounds[-1])

    def rng(self, chunk: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, chunk, stream])


def make_plan(scale: float, seed: int) -> Plan:
    if not (0.01 <= scale <= 100):
        raise ValueError(f"scale must be between 0.01 and 100, got {scale}")
    special = pop.special_daily()
    births = tl.births(tuple(np.round(special, 9))) * params.BIRTHS_FACTOR
    n_cust = max(int(round(births.sum() * scale)), 2)
    n_chunks = max(1, math.ceil(pub.ITEM_RECORDS * scale / CHUNK_LINES))
    bounds = np.linspace(0, n_cust, n_chunks + 1).round().astype(np.int64)
    replicas = max(1, int(round(scale))) if scale >= 1 else 1
    specs = [s if r == 0 else (None,) + tuple(s[1:]) for r in range(replicas) for s in params.BOTS]
    bots = [(s, n_cust + i, i % n_chunks) for i, s in enumerate(specs)]
    g = n_cust + len(bots)
    dev_users = max(2, int(round(pub.DEV["users"] * scale)))
    dev = (g, dev_users, max(2, int(round(pub.DEV["orders"] * scale))))
    g += dev_users
    perks_users = max(2, int(round(pub.PERKS["customers"] * scale)))
    perks = (g, perks_users, max(2, int(round(pub.PERKS["orders"] * scale))))
    days = tl.DAY0 + np.arange(tl.NDAYS)
    guests = tl.daily_orders() * tl.guest_share(days) * scale / n_chunks
    rng = np.random.default_rng([seed, 999_999])
    quotas = quirks.split(quirks.totals(scale), np.ones(n_chunks), rng)
    return Plan(scale=scale, seed=seed, n_chunks=n_chunks, cust_bounds=bounds,
                p_birth=births / births.sum(), bots=bots, bot_volume=min(scale, 1.0), dev=dev,
                perks=perks, guests_per_day=guests, quotas=quotas)


def split_range(first: int, n: int, parts: int, k: int) -> tuple[int, int]:
    """Start and size of part k when n items starting at ``first`` are split evenly."""
    b = np.linspace(0, n, parts + 1).round().astype(np.int64)
    return first + int(b[k]), int(b[k + 1] - b[k])


def blocks(plan: Plan, c: int) -> list[pop.Block]:
    """The population blocks of chunk c: customers, guests, bots, DEV users, Perks users."""
    lo, hi = int(plan.cust_bounds[c]), int(plan.cust_bounds[c + 1])
    out = [pop.customers(plan.rng(c, 1), np.arange(lo, hi), plan.p_birth, first=(c == 0)),
           pop.guests(plan.rng(c, 2), plan.guests_per_day)]
    mine = [(s, g) for s, g, ch in plan.bots if ch == c]
    out.append(pop.bots(plan.rng(c, 3), [s for s, _ in mine], np.array([g for _, g in mine]),
                         plan.bot_volume))
    for kind, (first, users, orders), windows, weights, extra, pin, stream in (
            (pop.KIND_DEV, plan.dev, pop.DEV_WINDOWS, pop.DEV_WEIGHTS,
             params.DEV_LINES_PER_ORDER - 1, pub.DEV["last"], 4),
            (pop.KIND_PERKS, plan.perks, pop.PERKS_WINDOWS, (1.0,),
             params.PERKS_LINES_PER_ORDER - 1, pub.PERKS["last"], 5)):
        start, n_users = split_range(first, users, plan.n_chunks, c)
        _, n_orders = split_range(0, orders, plan.n_chunks, c)
        out.append(pop.flat_users(plan.rng(c, stream), kind, np.arange(start, start + n_users),
                             n_orders, windows, weights, extra, pin if c == 0 else None))
    return out
