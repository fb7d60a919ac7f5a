"""Options of line items (``order_item_options.csv``): which lines get options, how many, which.

Why: options are recorded once per line regardless of quantity, about half of all lines carry
any, and the count per optioned line follows the published distribution (49.8 % one, 31.4 %
two, ...). Each item has a pool of option entries (its option groups); a line draws its options
from that pool without replacement (Gumbel top-k on the entry weights), so a line never lists the
same option twice except through the planted exact duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_data import catalog, params, timeline as tl
from sample_data.lines import Lines
from sample_data.orders import Orders

COUNTS = np.arange(1, 21)
_P = np.array([0.498, 0.314, 0.112, 0.040, 0.019, 0.0045, 0.0045] + [0.0] * 13)
_tail = 0.55 ** np.arange(13)
_P[7:] = 0.008 * _tail / _tail.sum()
COUNT_P = _P / _P.sum()


@dataclass
class Options:
    line: np.ndarray       # index into the chunk's lines
    entry: np.ndarray      # option entry: index into catalog.opt_name / opt_price
    group: np.ndarray      # index into catalog.group_names (aliases applied)
    price: np.ndarray      # cents

    def __len__(self) -> int:
        return len(self.line)

    def take(self, idx: np.ndarray) -> "Options":
        return Options(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})

    @staticmethod
    def concat(parts: list["Options"]) -> "Options":
        return Options(**{k: np.concatenate([getattr(p, k) for p in parts])
                          for k in Options.__dataclass_fields__})


def draw(rng, cat, line_idx: np.ndarray, items: np.ndarray, counts: np.ndarray):
    """Entries for lines of possibly different items, ``counts[i]`` distinct entries each."""
    out_line, out_entry = [], []
    for it in np.unique(items):
        sel = np.flatnonzero(items == it)
        pool, w = cat.item_pool[it], cat.item_pool_w[it]
        if not len(pool):
            continue
        m = np.minimum(counts[sel], len(pool))
        keys = np.log(w)[None, :] - np.log(-np.log(rng.random((len(sel), len(pool)))))
        top = np.argsort(-keys, axis=1)[:, : m.max()]
        keep = np.arange(top.shape[1])[None, :] < m[:, None]
        out_line.append(np.repeat(line_idx[sel], m))
        out_entry.append(pool[top[keep]])
    if not out_line:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    return np.concatenate(out_line), np.concatenate(out_entry).astype(np.int32)


def build(rng, o: Orders, ln: Lines) -> Options:
    cat = catalog.load()
    valid = ln.item >= 0
    attach = np.zeros(len(ln))
    attach[valid] = np.minimum(cat.item_attach[ln.item[valid]] * params.ATTACH_FACTOR, 1.0)
    has = np.flatnonzero(rng.random(len(ln)) < attach)
    counts = rng.choice(COUNTS, size=len(has), p=COUNT_P)
    line, entry = draw(rng, cat, has, ln.item[has], counts)
    order = np.argsort(line, kind="stable")
    line, entry = line[order], entry[order]
    return finish(rng, o, ln, line, entry)


def finish(rng, o: Orders, ln: Lines, line: np.ndarray, entry: np.ndarray) -> Options:
    """Prices by era and group spellings (aliases per line, the SW rename by date)."""
    cat = catalog.load()
    t = o.t[ln.order[line]]
    new = t >= tl.day_ms(params.OPTION_PRICE_SWITCH)
    price = cat.opt_price[entry, new.astype(np.int64)]
    group = cat.opt_group_idx[entry].copy()
    u = rng.random(len(ln))[line]
    for g, (alias, prob) in catalog.GROUP_ALIASES.items():
        gi, ai = cat.group_names.index(g), cat.group_names.index(alias)
        group[(group == gi) & (u < prob)] = ai
    sw, swa = cat.group_names.index(catalog.SW_GROUP), cat.group_names.index(catalog.SW_ALIAS)
    group[(group == sw) & (t >= tl.day_ms(catalog.SW_ALIAS_FROM))] = swa
    return Options(line=line, entry=entry, group=group.astype(np.int16), price=price)
