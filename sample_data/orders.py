"""Order attributes: store, app, loyalty card, number of lines.

Why per order and not per line: in the real data an order has one timestamp, one store, one user
and one loyalty flag; only items vary by line. Loyalty is a state that evolves per customer
(join at some order after the programme launch, then occasionally forget the card), which is
what makes "customers who switch" appear, so it is computed over each customer's orders in
time order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_data import catalog, params, population as pop, timeline as tl
from sample_data.ids import card_numbers

APP_FRESH, APP_PERKS, APP_DEV = 0, 1, 2
LAUNCH_MS = tl.day_ms(params.LOYALTY_LAUNCH)


@dataclass
class Orders:
    t: np.ndarray          # ms
    user: np.ndarray       # global user index, -1 guest
    kind: np.ndarray       # population kind
    app: np.ndarray
    store: np.ndarray
    loyal: np.ndarray
    card: np.ndarray       # 0 when not loyal
    n_lines: np.ndarray
    z: np.ndarray          # basket propensity
    fav: np.ndarray        # favourite item of the user, -1
    local_user: np.ndarray  # index into the chunk's user table, -1 guest

    def __len__(self) -> int:
        return len(self.t)

    def take(self, idx: np.ndarray) -> "Orders":
        return Orders(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


def _store_table():
    st = catalog.stores()
    days = tl.DAY0 + np.arange(tl.NDAYS)
    open_ = (days[:, None] >= st.opens[None, :]) & (days[:, None] <= st.closes[None, :])
    w = st.weight[None, :] * open_
    w[:, st.dev] = 0.0
    return open_, np.cumsum(w, axis=1)


_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        _TABLE = _store_table()
    return _TABLE


def random_store(rng, t: np.ndarray) -> np.ndarray:
    """A store open on the order's day, drawn by attractiveness."""
    _, cum = _table()
    d = np.clip(t // tl.DAY_MS - tl.DAY0, 0, tl.NDAYS - 1)
    c = cum[d]
    u = rng.random(len(t)) * c[:, -1]
    return (c < u[:, None]).sum(1).astype(np.int16)


def is_open(store: np.ndarray, t: np.ndarray) -> np.ndarray:
    open_, _ = _table()
    d = np.clip(t // tl.DAY_MS - tl.DAY0, 0, tl.NDAYS - 1)
    return open_[d, store]


def assemble(rng, blocks: list[pop.Block], user_table: dict) -> Orders:
    """Concatenate population blocks into one order table and choose each order's store."""
    st = catalog.stores()
    parts = []
    offset = 0
    for b in blocks:
        n = len(b.t)
        local = np.where(b.user >= 0, b.user + offset, -1)
        gidx = b.users["gidx"][b.user] if len(b.users) and n else np.full(n, -1)
        parts.append((b, local, np.where(b.user >= 0, gidx, -1)))
        offset += len(b.users.get("gidx", []))
    t = np.concatenate([b.t for b, _, _ in parts]).astype(np.int64)
    kind = np.concatenate([np.full(len(b.t), b.kind, np.int8) for b, _, _ in parts])
    user = np.concatenate([g for _, _, g in parts]).astype(np.int64)
    local = np.concatenate([loc for _, loc, _ in parts]).astype(np.int64)
    extra = np.concatenate([b.extra_mean for b, _, _ in parts])
    n = len(t)
    app = np.full(n, APP_FRESH, np.int8)
    app[kind == pop.KIND_DEV] = APP_DEV
    app[kind == pop.KIND_PERKS] = APP_PERKS
    store = random_store(rng, t)
    home = user_table["home"][np.maximum(local, 0)]
    cust = kind == pop.KIND_CUSTOMER
    stay = cust & (rng.random(n) < params.HOME_LOYALTY) & is_open(home, t)
    store[stay] = home[stay]
    store[kind == pop.KIND_DEV] = st.dev
    perks = kind == pop.KIND_PERKS
    store[perks] = home[perks]
    bots = kind == pop.KIND_BOT
    if bots.any():
        table = user_table["bot_stores"]
        pick = table[local[bots], rng.integers(0, table.shape[1], bots.sum())]
        ok = is_open(pick, t[bots])
        store[np.flatnonzero(bots)[ok]] = pick[ok]
    years = tl.year_of_day(t // tl.DAY_MS)
    per_year = np.array([params.EXTRA_LINES[int(y)] for y in range(2020, 2025)])
    mu = np.where((kind == pop.KIND_CUSTOMER) | (kind == pop.KIND_GUEST),
                  per_year[np.clip(years - 2020, 0, 4)] * extra, extra)
    noise = rng.gamma(params.ORDER_BASKET_SHAPE, 1.0 / params.ORDER_BASKET_SHAPE, n)
    n_lines = np.minimum(1 + rng.poisson(mu * noise), 40).astype(np.int16)
    group = (rng.random(n) < params.GROUP_ORDER_P) & ((kind == pop.KIND_CUSTOMER) | (kind == pop.KIND_GUEST))
    n_lines[group] = rng.integers(11, 31, group.sum())
    z = np.where(local >= 0, user_table["z"][np.maximum(local, 0)], params.GUEST_BASKET)
    fav = np.where(local >= 0, user_table["fav"][np.maximum(local, 0)], -1)
    o = Orders(t=t, user=user, kind=kind, app=app, store=store.astype(np.int16),
               loyal=np.zeros(n, bool), card=np.zeros(n, np.int64), n_lines=n_lines,
               z=z.astype(np.float32), fav=fav.astype(np.int32), local_user=local)
    _loyalty(rng, o, user_table)
    return o


def _loyalty(rng, o: Orders, users: dict) -> None:
    """Members join at a random time after the launch (or sign up on their first order), then
    carry the card on each order with a high probability; so customers who ordered before
    joining show both kinds of orders, as 18 % of 2023 customers do in the real data."""
    n_users = len(users["z"])
    never = rng.random(n_users) < params.LOYALTY_NEVER
    at_first = rng.random(n_users) < params.LOYALTY_AT_FIRST / (1 - params.LOYALTY_NEVER)
    start = np.maximum(users["birth"], LAUNCH_MS)
    wait = rng.exponential(params.LOYALTY_JOIN_DAYS * tl.DAY_MS, n_users).astype(np.int64)
    join = np.where(never, np.iinfo(np.int64).max, np.where(at_first, start, start + wait))
    scan = rng.beta(*params.LOYALTY_SCAN, n_users)
    elig = (o.kind == pop.KIND_CUSTOMER) & (o.t >= LAUNCH_MS)
    idx = np.flatnonzero(elig)
    if not len(idx):
        return
    lu = o.local_user[idx]
    member = o.t[idx] >= join[lu]
    # the first order on or after the join time is the sign-up: it always carries the card
    first_member = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_member, lu[member], o.t[idx][member])
    loyal = member & ((rng.random(len(idx)) < scan[lu]) | (o.t[idx] == first_member[lu]))
    o.loyal[idx] = loyal
    cards = card_numbers(first_member[lu], users["gidx"][lu], LAUNCH_MS)
    o.card[idx] = np.where(loyal, cards, 0)
