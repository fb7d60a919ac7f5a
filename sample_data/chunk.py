"""Build one chunk: users -> orders -> lines -> options -> quirks -> ids -> text columns.

Why one function per chunk: a chunk is the unit of memory (about 400k lines) and of
determinism (its RNG streams are keyed by (seed, chunk, stream)), so generating chunk 7 never
depends on having generated chunks 0-6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sample_data import catalog, lines as lines_mod, options as options_mod, params, quirks
from sample_data import orders as orders_mod, population as pop, timeline as tl
from sample_data.ids import ORPHAN_CHUNK, format_ts, money, object_ids
from sample_data.plan import Plan, blocks

APPS = ("Alltown Fresh", "Alltown Neighborhood Perks", "Alltown Fresh - DEVELOPMENT")
KIND_NAMES = {pop.KIND_CUSTOMER: "customer", pop.KIND_BOT: "bot", pop.KIND_DEV: "development",
              pop.KIND_PERKS: "neighborhood_perks"}
HORIZON_DAYS = 365


@dataclass
class ChunkData:
    items: pd.DataFrame
    options: pd.DataFrame
    truth: pd.DataFrame
    counts: dict


def _user_table(rng, blks: list[pop.Block]) -> dict:
    st = catalog.stores()
    cols: dict = {k: [] for k in ("gidx", "birth", "lam", "p", "alive", "dropout", "z", "kind")}
    ids: list = []
    for b in blks:
        if not len(b.users):
            continue
        n = len(b.users["gidx"])
        for k in cols:
            cols[k].append(np.full(n, b.kind) if k == "kind" else np.asarray(b.users[k]))
        ids += list(b.users["ids"])
    tab = {k: np.concatenate(v) for k, v in cols.items()}
    tab["ids"] = ids
    n = len(tab["gidx"])
    home = orders_mod.random_store(rng, tab["birth"])
    perks = tab["kind"] == pop.KIND_PERKS
    home[perks] = rng.choice([st.ids.index(s) for s in params.PERKS_STORES], perks.sum())
    if ids and ids[0] == pop.FIRST_USER:                # the very first order was at the launch store
        home[0] = st.launch
    bot_stores = np.zeros((n, 20), np.int16)
    weight = st.weight.copy()
    weight[st.dev] = 0
    for i in np.flatnonzero(tab["kind"] == pop.KIND_BOT):
        spec = next(s for s in params.BOTS if s[0] == ids[i]) if ids[i] else None
        locs = spec[3] if spec else int(rng.integers(6, 21))
        subset = rng.choice(len(weight), size=min(locs, 27), replace=False, p=weight / weight.sum())
        bot_stores[i] = np.resize(subset, 20)
        home[i] = subset[0]
    tab.update(home=home, bot_stores=bot_stores, fav=lines_mod.favourites(rng, n))
    return tab


def build(plan: Plan, c: int) -> ChunkData:
    q = plan.quotas[c]
    blks = blocks(plan, c)
    users = _user_table(plan.rng(c, 6), blks)
    rng = plan.rng(c, 7)
    o = orders_mod.assemble(rng, blks, users)
    o = o.take(np.argsort(o.t, kind="stable"))
    user_ids = {u: i for i, u in enumerate(users["ids"]) if u}
    qp = quirks.plant_orders(rng, o, q, c == 0, user_ids)
    o.t = tl.dedupe_times(o.t)
    o.t = np.minimum(o.t, tl.END_MS - 1)
    if c == 0:
        o.t[np.argmax(o.t)] = tl.END_MS
    quirks.plant_cards(rng, o, q)
    ln = lines_mod.build(plan.rng(c, 8), o)
    quirks.plant_lines(rng, o, ln, q, qp)
    op = options_mod.build(plan.rng(c, 9), o, ln)
    op = quirks.plant_options(rng, o, ln, op, q, qp)
    return _format(plan, c, o, ln, op, users, qp, q)


def _format(plan, c, o, ln, op, users, qp, q) -> ChunkData:
    cat, st = catalog.load(), catalog.stores()
    rng = plan.rng(c, 10)
    n = len(o)
    rank = np.empty(n, np.int64)
    rank[np.argsort(o.t, kind="stable")] = np.arange(n)
    osec = o.t // 1000 - (rng.random(n) < 0.05)
    oid = object_ids(osec, rank, c)
    for i, fixed in qp.order_ids.items():
        oid[i] = fixed
    lsec = osec[ln.order] + ln.delay
    lrank = np.empty(len(ln), np.int64)
    lrank[np.lexsort((np.arange(len(ln)), lsec))] = np.arange(len(ln))
    lid = object_ids(lsec, lrank, c)
    for (i, pos), fixed in qp.line_ids.items():
        lid[quirks.line_index(o, ln, i, pos)] = fixed
    lid[ln.item < 0] = ""
    lag = _signup_lag(rng, len(users["gidx"]))
    usec = np.maximum(users["birth"] - lag, tl.day_ms("2019-06-01")) // 1000
    uid = object_ids(usec, np.arange(len(usec)), c)
    for i, fixed in enumerate(users["ids"]):
        if fixed:
            uid[i] = fixed
    # file order: orders shuffled, 2023 first (as in the real export); lines stay with their order
    perm = rng.permutation(n)
    in_2023 = tl.year_of_day(o.t[perm] // tl.DAY_MS) == 2023
    perm = np.concatenate([perm[in_2023], perm[~in_2023]])
    pos = np.empty(n, np.int64)
    pos[perm] = np.arange(n)
    lorder = np.lexsort((np.arange(len(ln)), pos[ln.order]))
    L = ln.take(lorder)
    ts_txt = format_ts(o.t)
    user_txt = np.where(o.local_user >= 0, np.asarray(uid, dtype=object)[np.maximum(o.local_user, 0)], "")
    card_txt = np.where(o.card > 0, o.card.astype(str).astype(object), "")
    names = np.asarray(cat.names + [""], dtype=object)
    labels = np.asarray(quirks.labels(), dtype=object)
    oo = L.order
    items = pd.DataFrame({
        "APP_NAME": np.asarray(APPS, dtype=object)[o.app[oo]],
        "RESTAURANT_ID": np.asarray(st.ids, dtype=object)[o.store[oo]],
        "CREATION_TIME_UTC": ts_txt[oo], "ORDER_ID": oid[oo], "USER_ID": user_txt[oo],
        "PRINTED_CARD_NUMBER": card_txt[oo],
        "IS_LOYALTY": np.where(o.loyal[oo], "TRUE", "FALSE"), "CURRENCY": "USD",
        "LINEITEM_ID": lid[lorder], "ITEM_CATEGORY": labels[L.label], "ITEM_NAME": names[L.name],
        "ITEM_PRICE": money(L.price), "ITEM_QUANTITY": L.qty.astype(str)}, dtype=object)
    # options follow their line's position in the file
    new_pos = np.empty(len(ln), np.int64)
    new_pos[lorder] = np.arange(len(ln))
    oorder = np.lexsort((np.arange(len(op)), new_pos[op.line]))
    P = op.take(oorder)
    opt = _option_frame(oid[ln.order[P.line]], lid[P.line], P)
    if c == 0:
        opt = pd.concat([opt, _orphans(plan.rng(c, 11), q)], ignore_index=True)
    truth = _truth(users, uid, o)
    counts = dict(items=len(items), orders=n, options=len(opt), users=len(users["gidx"]))
    return ChunkData(items=items, options=opt, truth=truth, counts=counts)


def _option_frame(order_ids, line_ids, P) -> pd.DataFrame:
    cat = catalog.load()
    return pd.DataFrame({
        "ORDER_ID": order_ids, "LINEITEM_ID": line_ids,
        "OPTION_GROUP_NAME": np.asarray(cat.group_names, dtype=object)[P.group],
        "OPTION_NAME": np.asarray(cat.opt_name, dtype=object)[P.entry],
        "OPTION_PRICE": money(P.price), "OPTION_QUANTITY": "1"}, dtype=object)


def _orphans(rng, q) -> pd.DataFrame:
    """Options of orders placed after the items extract was cut (ids absent from order_items)."""
    cat = catalog.load()
    n_o, n_k, n_r = q["orphan_orders"], q["orphan_keys"], q["orphan_rows"]
    t = np.sort(rng.integers(tl.END_MS + 60_000, tl.ORPHAN_END_MS, n_o))
    key_order = np.sort(np.r_[np.arange(n_o), rng.integers(0, n_o, n_k - n_o)])
    per_key = np.ones(n_k, np.int64)
    np.add.at(per_key, rng.integers(0, n_k, n_r - n_k), 1)
    oid = object_ids(t // 1000, np.arange(n_o), ORPHAN_CHUNK)
    lsec = t[key_order] // 1000 + rng.integers(0, 120, n_k)
    lid = object_ids(lsec, np.arange(n_k) + 1_000_000, ORPHAN_CHUNK)
    with_pool = [i for i, p in enumerate(cat.item_pool) if len(p) >= 6]
    items = rng.choice(with_pool, n_k)
    line, entry = options_mod.draw(rng, cat, np.arange(n_k), items, np.minimum(per_key, 6))
    short = n_r - len(line)                              # top up keys whose pool ran short
    if short > 0:
        line = np.r_[line, rng.integers(0, n_k, short)]
        entry = np.r_[entry, rng.choice(len(cat.opt_name), short, replace=False)]
    o = np.argsort(line, kind="stable")
    line, entry = line[o], entry[o]
    group = cat.opt_group_idx[entry]
    price = cat.opt_price[entry, 1]
    P = options_mod.Options(line=line, entry=entry, group=group, price=price)
    return _option_frame(oid[key_order[line]], lid[line], P)


def _signup_lag(rng, n: int) -> np.ndarray:
    """Account creation before the first order: minutes (at checkout), weeks, or years."""
    u = rng.random(n)
    return np.where(u < 0.55, rng.integers(20_000, 900_000, n),
                    np.where(u < 0.85, rng.integers(86_400_000, 90 * 86_400_000, n),
                             rng.integers(90 * 86_400_000, 700 * 86_400_000, n)))


def _truth(users: dict, uid, o) -> pd.DataFrame:
    n = len(users["gidx"])
    cnt = np.bincount(o.local_user[o.local_user >= 0], minlength=n)
    lam, p, alive = users["lam"].astype(float), users["p"].astype(float), users["alive"].astype(bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        future = np.where(p > 0, (1 - np.exp(-lam * p * HORIZON_DAYS)) / p, lam * HORIZON_DAYS)
    future = np.where(alive, future, 0.0)
    # first/last order from the final orders (planted quirks may have moved a few): a BG/NBD
    # customer drops out right after a purchase, so the dropout date is the last order's date
    has = o.local_user >= 0
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, o.local_user[has], o.t[has])
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, o.local_user[has], o.t[has])
    drop = np.where(users["dropout"] >= 0, last, -1)
    return pd.DataFrame({
        "user_id": uid, "kind": [KIND_NAMES[int(k)] for k in users["kind"]],
        "first_order_utc": format_ts(first),
        "true_rate_per_day": np.round(lam, 6), "dropout_prob": np.round(p, 6),
        "alive_at_end": np.where(alive, "TRUE", "FALSE"),
        "dropout_date": np.where(drop >= 0, np.datetime_as_string(
            np.maximum(drop, 0).astype("datetime64[ms]"), unit="D"), ""),
        "orders": cnt, "basket_propensity": np.round(users["z"].astype(float), 4),
        "expected_orders_next_365d": np.round(future, 4),
    })
