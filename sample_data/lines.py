"""Line items: category, item, name spelling, quantity and price for every line of every order.

Why this shape: category shares are published globally, but menus differ by store (the 2020
launch store sold only burgers and pizza; BBQ Plates exist at five stores), so the category is
drawn from the line's menu and the weights of store-specific categories are boosted to keep the
global share. ``ITEM_PRICE`` is the *line total* (unit price x quantity), the unit price being
the store's menu price at the time (old menu until the store's switch date, then new), which is
why multi-quantity lines never equal a unit price and only some equal qty x the modal price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_data import catalog, params, published, timeline as tl
from sample_data.orders import APP_DEV, APP_PERKS, Orders

MENU_GENERAL, MENU_BBQ, MENU_LAUNCH, MENU_DEV, MENU_PERKS = range(5)
BBQ_SHARE_AT_BBQ_STORES = 0.105
DEV_BREAKFAST = published.DEV["breakfast_share"]
PERKS_BOOST = {"Breakfast": 1.5, "Drip Coffee": 6.0, "Bakery": 3.0, "Espresso": 2.0, "Sandwiches": 0.55,
               "Bowls": 0.5, "Salads": 0.5}


@dataclass
class Lines:
    order: np.ndarray      # index into the chunk's orders
    cat: np.ndarray        # category index
    item: np.ndarray       # item index, -1 for the malformed line
    name: np.ndarray       # index into catalog names (variant spelling), -1 = blank
    qty: np.ndarray
    price: np.ndarray      # cents, line total
    delay: np.ndarray      # seconds between order id and line id timestamps
    label: np.ndarray      # category label written: index into quirks.labels()

    def __len__(self) -> int:
        return len(self.order)

    def take(self, idx: np.ndarray) -> "Lines":
        return Lines(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


def _menu_weights() -> np.ndarray:
    cat = catalog.load()
    w = cat.cat_rows.astype(float).copy()
    special = np.array([c in catalog.SPECIAL for c in cat.categories])
    general = np.where(special, 0.0, w)
    menus = np.zeros((5, len(w)))
    menus[MENU_GENERAL] = general
    bbq = general.copy()
    i_bbq = cat.cat("BBQ Plates")
    bbq[i_bbq] = general.sum() * BBQ_SHARE_AT_BBQ_STORES / (1 - BBQ_SHARE_AT_BBQ_STORES)
    menus[MENU_BBQ] = bbq
    for c in ("Burgers & Sandwiches", "Pizza"):
        menus[MENU_LAUNCH, cat.cat(c)] = w[cat.cat(c)]
    dev = general.copy()
    ib = cat.cat("Breakfast")
    dev[ib] = 0.0
    dev *= (1 - DEV_BREAKFAST) / dev.sum()
    dev[ib] = DEV_BREAKFAST
    menus[MENU_DEV] = dev
    perks = general.copy()
    for c, f in PERKS_BOOST.items():
        perks[cat.cat(c)] *= f
    menus[MENU_PERKS] = perks
    return menus / menus.sum(1, keepdims=True)


_MENUS = None
_QTY = None


def _draw_quantity(rng, n: int, t: np.ndarray) -> np.ndarray:
    global _QTY
    if _QTY is None:
        vals = list(params.QUANTITY)
        probs = [float(params.QUANTITY[v]) for v in vals]
        tail = np.arange(11, 51)
        tw = 1.0 / (tail - 9.0) ** 1.6
        tw *= params.QUANTITY_11_50 / tw.sum()
        _QTY = (np.array(vals + list(tail)), np.array(probs + list(tw)) / (sum(probs) + tw.sum()))
    vals, p = _QTY
    q = rng.choice(vals, size=n, p=p)
    late = (t >= tl.day_ms("2023-01-01")) & (q > published.MAX_QTY_2023)
    q[late] = rng.integers(11, published.MAX_QTY_2023 + 1, late.sum())
    return q


def build(rng, o: Orders) -> Lines:
    global _MENUS
    if _MENUS is None:
        _MENUS = _menu_weights()
    cat, st = catalog.load(), catalog.stores()
    n_lines = o.n_lines.astype(np.int64)
    order = np.repeat(np.arange(len(o)), n_lines).astype(np.int32)
    n = len(order)
    t, store, app = o.t[order], o.store[order], o.app[order]
    menu = np.full(n, MENU_GENERAL, np.int8)
    menu[st.bbq[store] & (t >= tl.day_ms(params.BBQ_FROM))] = MENU_BBQ
    menu[store == st.launch] = MENU_LAUNCH
    menu[app == APP_DEV] = MENU_DEV
    menu[app == APP_PERKS] = MENU_PERKS
    c = np.zeros(n, np.int16)
    for m in range(5):
        sel = np.flatnonzero(menu == m)
        if len(sel):
            c[sel] = rng.choice(len(cat.categories), size=len(sel), p=_MENUS[m])
    item = np.zeros(n, np.int32)
    for k in np.unique(c):
        sel = np.flatnonzero(c == k)
        members = np.flatnonzero(cat.item_cat == k)
        w = cat.item_weight[members]
        if w.sum() <= 0:
            w = np.ones(len(members))
        item[sel] = members[rng.choice(len(members), size=len(sel), p=w / w.sum())]
    fav = o.fav[order]
    use = (fav >= 0) & (rng.random(n) < params.FAVOURITE_ITEM_SHARE) & (menu != MENU_DEV) & (menu != MENU_PERKS)
    use &= _MENUS[menu, cat.item_cat[np.maximum(fav, 0)]] > 0
    item[use] = fav[use]
    c[use] = cat.item_cat[fav[use]]
    name = cat.item_name[item].copy()
    upper = st.pos[store] & (cat.item_upper[item] >= 0)
    name[upper] = cat.item_upper[item[upper]]
    qty = _draw_quantity(rng, n, t)
    new_menu = t >= st.switch_day[store] * tl.DAY_MS
    unit = cat.item_price[item, new_menu.astype(np.int64)]
    _cheap_bulk(rng, qty, unit)
    late = (t >= tl.day_ms("2023-01-01")) & (unit * qty > round(published.MAX_PRICE_2023 * 100))
    qty[late] = np.maximum(round(published.MAX_PRICE_2023 * 100) // unit[late], 1)
    delay = np.where(rng.random(n) < 0.3, 0,
                     np.minimum(rng.lognormal(np.log(60), 1.2, n), 1800)).astype(np.int64)
    return Lines(order=order, cat=c, item=item, name=name, qty=qty.astype(np.int32),
                 price=unit * qty, delay=delay, label=c.astype(np.int16).copy())


def _cheap_bulk(rng, qty: np.ndarray, unit: np.ndarray) -> None:
    """People buy three coffees more often than three sandwiches: half of the quantities >= 3
    (up to 10) drawn for dear items (> $8.50) are swapped with quantity-1 lines of cheap items (< $4.50),
    which keeps the overall quantity distribution exact."""
    dear = np.flatnonzero((qty >= 3) & (qty <= 10) & (unit > 850))
    dear = dear[rng.random(len(dear)) < 0.5]
    cheap = np.flatnonzero((qty == 1) & (unit < 450))
    k = min(len(dear), len(cheap))
    if k:
        to = rng.choice(cheap, size=k, replace=False)
        qty[to], qty[dear[:k]] = qty[dear[:k]], 1


def favourites(rng, n: int) -> np.ndarray:
    """Each user's favourite item, drawn from the general menu's item distribution."""
    global _MENUS
    if _MENUS is None:
        _MENUS = _menu_weights()
    cat = catalog.load()
    p = _MENUS[MENU_GENERAL][cat.item_cat] * cat.item_weight
    per_cat = np.bincount(cat.item_cat, weights=cat.item_weight, minlength=len(cat.categories))
    p = np.where(per_cat[cat.item_cat] > 0, p / np.maximum(per_cat[cat.item_cat], 1e-12), 0)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int32)
