"""The menu (items, options) and the store table as numpy arrays the generator can index.

Why: every line item is drawn by index (category -> item -> name variant -> price), so the
catalog is loaded once into flat arrays. The menu itself lives in two package-data CSVs
(``menu_items.csv``, ``menu_options.csv``) so that the 396 items and 637 option names are data,
not code; their row weights encode the published category and item shares.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from sample_data import params

SPECIAL = ("Burgers & Sandwiches", "Pizza", "BBQ Plates", "Test Items")
# dirty category spellings (value written, clean category it replaces); counts are in published
URLS = {
    "BBQ Plates": "BBQ Plateshttps://order.pxsweb.com/alltown-fresh/menu/bbq-plates#",
    "Drip Coffee": "Drip Chttps://www.opendining.net/menu/5c8a1e/category/drip-coffee#offee",
    "Kid's": "Kid'shttps://www.opendining.net/menu/5c8a1e/category/kids-menu#",
}
MISSPELT = {"Bowls": "Bowls0", "Sandwiches": "Sandwiches`1", "Salads": "Sqalads"}
GROUP_ALIASES = {  # group -> (alias, probability per line, or None when switched by date)
    "Bottle Deposit": ("BOTTLE DEPOSIT", 0.086),
    "Bacon Egg And Cheese Options": ("CT Bacon Egg And Cheese Options", 0.0036),
    "Shakshuka Options": ("Shakshuka", 0.18),
}
SW_GROUP, SW_ALIAS, SW_ALIAS_FROM = ("SW Sausage Egg & Cheese Options",
                                     "Southwest Sausage Egg And Cheese Options", "2023-09-01")


def _read(name: str) -> list[dict[str, str]]:
    # next to this module rather than importlib.resources: under pytest a tests/sample_data
    # folder can shadow the package name as a namespace package
    text = (Path(__file__).resolve().parent / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@dataclass
class Catalog:
    """Flat arrays over categories, items, item names, option entries and stores."""
    categories: list[str]
    cat_rows: np.ndarray                 # published/target rows per category at scale 1
    item_cat: np.ndarray                 # item -> category index
    item_weight: np.ndarray
    item_name: np.ndarray                # item -> index into names
    item_upper: np.ndarray               # item -> index into names of its UPPER variant, or -1
    item_price: np.ndarray               # (items, 2) cents: old, new
    item_attach: np.ndarray
    names: list[str]
    item_pool: list[np.ndarray] = field(default_factory=list)    # item -> option entry indices
    item_pool_w: list[np.ndarray] = field(default_factory=list)
    opt_group: list[str] = field(default_factory=list)
    opt_name: list[str] = field(default_factory=list)
    opt_price: np.ndarray = None         # (entries, 2) cents: old, new
    opt_group_idx: np.ndarray = None
    group_names: list[str] = field(default_factory=list)

    def cat(self, name: str) -> int:
        return self.categories.index(name)

    def item(self, name: str) -> int:
        return self.names.index(name) if name in self.names else -1


@lru_cache(maxsize=1)
def load() -> Catalog:
    items = _read("menu_items.csv")
    cats: list[str] = []
    cat_rows: list[float] = []
    names: list[str] = []
    rows = []
    for r in items:
        if r["category"] not in cats:
            cats.append(r["category"])
            cat_rows.append(float(r["category_rows"]))
        rows.append(r)
    n = len(rows)
    item_cat = np.array([cats.index(r["category"]) for r in rows], dtype=np.int16)
    item_weight = np.array([float(r["weight"]) for r in rows])
    names = [r["name"] for r in rows]
    item_name = np.arange(n, dtype=np.int32)
    item_upper = np.full(n, -1, dtype=np.int32)
    for i, r in enumerate(rows):
        if r["upper"] == "1":
            item_upper[i] = len(names)
            names.append(r["name"].upper())
    price = np.array([[round(float(r["price_old"]) * 100), round(float(r["price_new"]) * 100)]
                      for r in rows], dtype=np.int64)
    attach = np.array([float(r["attach"]) for r in rows])

    opts = _read("menu_options.csv")
    group_names: list[str] = []
    for o in opts:
        if o["group"] not in group_names:
            group_names.append(o["group"])
    aliases = [a for a, _ in GROUP_ALIASES.values()] + [SW_ALIAS]
    group_names += [a for a in aliases if a not in group_names]
    by_group: dict[str, list[int]] = {}
    gw = {}
    for k, o in enumerate(opts):
        by_group.setdefault(o["group"], []).append(k)
        gw[o["group"]] = float(o["group_weight"])
    w = np.array([float(o["weight"]) for o in opts])
    cat = Catalog(categories=cats, cat_rows=np.array(cat_rows), item_cat=item_cat,
                  item_weight=item_weight, item_name=item_name, item_upper=item_upper,
                  item_price=price, item_attach=attach, names=names)
    cat.opt_group = [o["group"] for o in opts]
    cat.opt_name = [o["name"] for o in opts]
    cat.opt_price = np.array([[round(float(o["price_old"]) * 100), round(float(o["price"]) * 100)]
                              for o in opts], dtype=np.int64)
    cat.opt_group_idx = np.array([group_names.index(g) for g in cat.opt_group], dtype=np.int16)
    cat.group_names = group_names
    for r in rows:
        idx, wt = [], []
        for g in filter(None, r["option_groups"].split(";")):
            members = by_group[g]
            share = w[members] / w[members].sum()
            idx.extend(members)
            wt.extend(gw[g] * share)
        cat.item_pool.append(np.array(idx, dtype=np.int32))
        cat.item_pool_w.append(np.array(wt))
    return cat


@dataclass(frozen=True)
class Stores:
    """Store table: ids, open/close as day numbers since 1970, weights and flags."""
    ids: list[str]
    opens: np.ndarray
    closes: np.ndarray
    weight: np.ndarray
    bbq: np.ndarray
    launch: int
    dev: int
    pos: np.ndarray
    kids_alias: np.ndarray
    switch_day: np.ndarray          # day the store moves to new menu prices


def _day(s: str) -> int:
    return int(np.datetime64(s, "D").astype(np.int64))


@lru_cache(maxsize=1)
def stores() -> Stores:
    st = params.STORES
    opens = np.array([_day(s.opens) for s in st])
    closes = np.array([_day(s.closes) if s.closes else 10**6 for s in st])
    spread = params.PRICE_SWITCH_SPREAD_DAYS
    switch = np.array([max(_day(params.PRICE_SWITCH) + (i * 37) % spread, o)
                       for i, o in enumerate(opens)])
    return Stores(ids=[s.id for s in st], opens=opens, closes=closes,
                  weight=np.array(params.STORE_WEIGHTS, dtype=float),
                  bbq=np.array([s.bbq for s in st]), launch=[s.launch for s in st].index(True),
                  dev=[s.dev for s in st].index(True), pos=np.array([s.pos for s in st]),
                  kids_alias=np.array([s.kids_alias for s in st]), switch_day=switch)
