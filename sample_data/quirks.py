"""The real files' defects, planted at their published counts (scaled).

Why plant instead of simulate: these are one-off accidents of the source system (a malformed
line, URL text pasted into a category, exact duplicate option rows, orders cut off by the
extract). Their *counts* are what analysts published and what a pipeline's quality rules must
find, so each is placed exactly ``round(count * scale)`` times (at least once where that makes
sense at small scales). Orders get planted first (their size, time or store changes before
lines exist), then lines, then options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sample_data import catalog, params, published as pub, timeline as tl
from sample_data.ids import id_seconds
from sample_data.lines import Lines
from sample_data.options import Options, finish
from sample_data.orders import APP_FRESH, Orders, random_store
from sample_data.population import KIND_BOT, KIND_CUSTOMER, KIND_GUEST

EXTRA_LABELS = ["Kids", catalog.URLS["BBQ Plates"], catalog.URLS["Drip Coffee"], catalog.URLS["Kid's"],
                "Bowls0", "Sandwiches`1", "Sqalads", ""]
BULK_EXTRA_QTY = (52, 60, 64, 72, 75, 80, 99)       # the 7 other lines with 51 <= qty <= 99
MIN1 = {"newline", "malformed", "url_bbq", "url_drip", "url_kids", "bowls0", "sandwiches1",
        "sqalads", "test", "zero", "bulk", "dup_groups", "dup_extra", "orphan_rows", "orphan_keys",
        "orphan_orders", "shared_cards", "guest_loyal"}


def labels() -> list[str]:
    return catalog.load().categories + EXTRA_LABELS


def totals(scale: float) -> dict[str, int]:
    base = dict(newline=pub.NEWLINE_RECORDS, malformed=1, url_bbq=70, url_drip=26, url_kids=2,
                bowls0=52, sandwiches1=30, sqalads=8, test=1, zero=pub.PRICE["zero"],
                bulk=pub.QUANTITY["51-500"], big=3, opt152=1, dup_groups=pub.DUPLICATES["groups"],
                dup_extra=pub.DUPLICATES["extra_rows"], orphan_rows=pub.ORPHANS["rows"],
                orphan_keys=pub.ORPHANS["keys"], orphan_orders=pub.ORPHANS["orders"],
                shared_cards=pub.SHARED_CARDS, guest_loyal=pub.LOYALTY_GUEST_ROWS)
    out = {k: int(math.floor(v * scale + 0.5)) for k, v in base.items()}   # half up, not banker's
    for k in MIN1:
        out[k] = max(out[k], 1)
    out["test"] = 1 if scale < 50 else out["test"]
    out["dup_extra"] = max(out["dup_extra"], out["dup_groups"])
    out["orphan_keys"] = max(out["orphan_keys"], out["orphan_orders"])
    out["orphan_rows"] = max(out["orphan_rows"], out["orphan_keys"])
    return out


def split(total: dict[str, int], weights: np.ndarray, rng) -> list[dict[str, int]]:
    """Distribute quirk counts over chunks (orphans all in chunk 0); each chunk gets an exact int."""
    n = len(weights)
    per = [dict.fromkeys(total, 0) for _ in range(n)]
    for k, v in total.items():
        if k.startswith("orphan") or n == 1:
            per[0][k] = v
            continue
        for c, x in enumerate(rng.multinomial(v, weights / weights.sum())):
            per[c][k] = int(x)
    return per


@dataclass
class Plan:
    """What the order phase decided, for the line and option phases."""
    order_ids: dict = field(default_factory=dict)     # order index -> fixed ObjectId
    line_ids: dict = field(default_factory=dict)      # (order index, position) -> fixed id
    lines: list = field(default_factory=list)         # (order, pos, item name, qty, cents)
    malformed: list = field(default_factory=list)     # order indices (last line malformed)
    opt152: list = field(default_factory=list)        # (order, pos)
    used: set = field(default_factory=set)


def _ts_ms(hex_id: str, rng) -> int:
    return int(id_seconds(np.array([hex_id]))[0]) * 1000 + int(rng.integers(0, 1000))


def _pick(rng, o: Orders, plan: Plan, mask: np.ndarray, k: int = 1) -> np.ndarray:
    cand = np.flatnonzero(mask)
    cand = cand[~np.isin(cand, list(plan.used))] if plan.used else cand
    if len(cand) == 0:
        cand = np.setdiff1d(np.flatnonzero((o.app == APP_FRESH) & (o.kind != KIND_BOT)),
                            list(plan.used))
    got = rng.choice(cand, size=min(k, len(cand)), replace=False)
    plan.used.update(int(x) for x in got)
    return got


def _window(o: Orders, a: str, b: str) -> np.ndarray:
    return (o.t >= tl.day_ms(a)) & (o.t < tl.day_ms(b))


def plant_orders(rng, o: Orders, q: dict, first_chunk: bool, user_ids: dict) -> Plan:
    """Big orders, the malformed order, bulk-line orders and the 152-option line's order."""
    st = catalog.stores()
    plan = Plan()
    fresh_cust = (o.app == APP_FRESH) & (o.kind == KIND_CUSTOMER)
    named_big = list(pub.LARGEST_ORDERS.items())[:3]
    for k in range(q["big"]):
        size = named_big[k % 3][1]
        i = _pick(rng, o, plan, fresh_cust & _window(o, "2020-09-01", "2022-09-01"))[0]
        o.n_lines[i] = size
        if first_chunk and k < 3:
            o.t[i] = _ts_ms(named_big[k][0], rng)
            o.store[i] = random_store(rng, o.t[i:i + 1])[0]
            plan.order_ids[i] = named_big[k][0]
    mal_user = user_ids.get(pub.MALFORMED["user"])
    for k in range(q["malformed"]):
        if first_chunk and k == 0 and mal_user is not None:
            i = _pick(rng, o, plan, o.local_user == mal_user)[0]
            o.t[i] = int(np.datetime64(pub.MALFORMED["ts"][:-1], "ms").astype(np.int64))
            o.store[i] = st.ids.index(pub.MALFORMED["restaurant"])
            o.n_lines[i] = pub.MALFORMED["other_lines"] + 1
            plan.order_ids[i] = pub.MALFORMED["order"]
        else:
            i = _pick(rng, o, plan, fresh_cust | (o.kind == KIND_BOT))[0]
            o.n_lines[i] += 1
        plan.malformed.append(int(i))
    _plant_bulk(rng, o, q, plan, first_chunk)
    for k in range(q["opt152"]):
        i = _pick(rng, o, plan, fresh_cust & _window(o, "2020-05-25", "2020-12-31"))[0]
        if first_chunk and k == 0:
            o.t[i] = _ts_ms("5ed7ab59505ee96c0f7b23c8", rng) - 45_000
            plan.line_ids[(int(i), 0)] = "5ed7ab59505ee96c0f7b23c8"
        o.store[i] = random_store(rng, o.t[i:i + 1])[0]
        if o.store[i] == st.launch:
            o.store[i] = st.ids.index("5e7e35ec902ad5ac017b242a")
        plan.opt152.append((int(i), 0))
        plan.lines.append((int(i), 0, "Chop Salad", 1, None))
    return plan


def _plant_bulk(rng, o: Orders, q: dict, plan: Plan, first_chunk: bool) -> None:
    st = catalog.stores()
    # the 7 lines of 51-99 units first, then the published ones from the cheapest: a small
    # scale that plants only a few bulk lines does not carry the $5,000 one
    specs = [(None, None, None, x, "x") for x in BULK_EXTRA_QTY] + sorted(pub.BULK_LINES, key=lambda b: b[2])
    n = q["bulk"]
    todo = [specs[k % len(specs)] + (k >= len(specs) or not first_chunk,) for k in range(n)]
    groups: dict = {}
    for s in todo:
        key = (s[4], s[5]) if s[4] in ("m", "g") else (s[4] + str(len(groups)), s[5])
        groups.setdefault(key, []).append(s)
    early = _window(o, "2020-05-25", "2022-12-31") & (o.app == APP_FRESH) & (o.store != st.launch)
    for (tag, anonymous), lines in groups.items():
        kind_ok = (o.kind == KIND_GUEST) if tag == "g" else (o.kind == KIND_CUSTOMER)
        mask = early & kind_ok
        if tag.startswith("c"):
            mask &= st.bbq[o.store] & _window(o, params.BBQ_FROM, "2022-12-31")
        if tag == "g":
            mask &= o.store == st.ids.index("5fece84aadb0d51509c36f22")
            mask &= _window(o, "2021-09-15", "2021-11-15")
        i = int(_pick(rng, o, plan, mask)[0])
        if tag == "m" and not anonymous:
            o.t[i] = _ts_ms("5ed7972a4f5ee90547011c03", rng)
            o.store[i] = st.ids.index("5e7e35ec902ad5ac017b242a")
            plan.order_ids[i] = "5ed7972a4f5ee90547011c03"
        o.n_lines[i] = max(int(o.n_lines[i]), len(lines))
        for pos, (item, _cat, price, qty, _g, _a) in enumerate(lines):
            cents = None if price is None else int(round(price * 100))
            plan.lines.append((i, pos, item, int(qty), cents))


def line_index(o: Orders, ln: Lines, order: int, pos: int) -> int:
    starts = np.cumsum(o.n_lines.astype(np.int64)) - o.n_lines
    return int(starts[order] + pos)


def plant_lines(rng, o: Orders, ln: Lines, q: dict, plan: Plan) -> set:
    """Item-level quirks; returns the set of planted line indices."""
    cat, st = catalog.load(), catalog.stores()
    lab = labels()
    used: set = set()
    for order, pos, item, qty, cents in plan.lines:
        j = line_index(o, ln, order, pos)
        if item is None:                                  # an ordinary item in bulk
            item = cat.names[int(ln.item[j])]
        it = cat.names.index(item)
        ln.item[j], ln.cat[j], ln.name[j], ln.label[j] = it, cat.item_cat[it], it, cat.item_cat[it]
        ln.qty[j] = qty
        unit = cat.item_price[it, int(o.t[order] >= st.switch_day[o.store[order]] * tl.DAY_MS)]
        ln.price[j] = unit * qty if cents is None else cents
        used.add(j)
    for order in plan.malformed:
        j = line_index(o, ln, order, int(o.n_lines[order]) - 1)
        ln.item[j], ln.name[j], ln.label[j] = -1, -1, lab.index("")
        ln.qty[j], ln.price[j] = 0, int(round(pub.MALFORMED["price"] * 100))
        used.add(j)
    fresh = o.app[ln.order] == APP_FRESH
    store = o.store[ln.order]

    def choose(masks, k):
        for m in masks:
            cand = np.setdiff1d(np.flatnonzero(m & fresh), list(used))
            if len(cand) >= k or m is masks[-1]:
                got = rng.choice(cand, size=min(k, len(cand)), replace=False)
                used.update(int(x) for x in got)
                return got
        return np.zeros(0, np.int64)

    def sid(s):
        return st.ids.index(s)

    urls = (("url_bbq", "BBQ Plates", "622289bc6863d23d066d56ff"),
            ("url_drip", "Drip Coffee", "62f2ce9824813746ce6f5140"),
            ("url_kids", "Kid's", "6054db3295b70198148b456d"))
    for key, c, s in urls:
        m_cat = ln.cat == cat.cat(c)
        got = choose([m_cat & (store == sid(s)), m_cat], q[key])
        ln.label[got] = lab.index(catalog.URLS[c])
    for key, c in (("bowls0", "Bowls"), ("sandwiches1", "Sandwiches"), ("sqalads", "Salads")):
        got = choose([ln.cat == cat.cat(c)], q[key])
        ln.label[got] = lab.index(catalog.MISSPELT[c])
    nl_items = [i for i, n in enumerate(cat.names[: len(cat.item_cat)]) if "\n" in n]
    got = choose([ln.qty == 1], q["newline"])
    for k, j in enumerate(got):
        it = nl_items[k % len(nl_items)]
        ln.item[j], ln.name[j], ln.cat[j], ln.label[j] = it, it, cat.item_cat[it], cat.item_cat[it]
        ln.price[j] = cat.item_price[it, 1]
    got = choose([ln.qty == 1], q["test"])
    it = cat.names.index("Test Item")
    ln.item[got], ln.name[got], ln.cat[got], ln.label[got] = it, it, cat.item_cat[it], cat.item_cat[it]
    ln.price[got] = cat.item_price[it, 0]
    got = choose([(ln.qty == 1) & (ln.item >= 0)], q["zero"])
    ln.price[got] = 0
    kids = (ln.cat == cat.cat("Kid's")) & st.kids_alias[store] & (ln.label == ln.cat)
    ln.label[kids] = lab.index("Kids")
    return used


def plant_options(rng, o: Orders, ln: Lines, op: Options, q: dict, plan: Plan) -> Options:
    """The 152-option line, then exact duplicate rows (never in 2023, on quantity-1 lines)."""
    cat = catalog.load()
    for order, pos in plan.opt152:
        j = line_index(o, ln, order, pos)
        keep = op.line != j
        entries = rng.choice(len(cat.opt_name), size=pub.OPTIONS_PER_LINE_MAX, replace=False)
        extra = finish(rng, o, ln, np.full(len(entries), j), entries.astype(np.int32))
        op = Options.concat([op.take(np.flatnonzero(keep)), extra])
    t = o.t[ln.order[op.line]]
    fresh = o.app[ln.order[op.line]] == APP_FRESH
    cand = np.flatnonzero((t < tl.day_ms("2022-06-01")) & (ln.qty[op.line] == 1) & fresh)
    cand = cand[~np.isin(op.line[cand], [line_index(o, ln, a, b) for a, b in plan.opt152])]
    g = min(q["dup_groups"], len(cand))
    if g == 0:
        return op
    rows = rng.choice(cand, size=g, replace=False)
    extra = _copies(rng, g, q["dup_extra"])
    dup = op.take(np.repeat(rows, extra))
    return Options.concat([op, dup])


def _copies(rng, groups: int, extra: int) -> np.ndarray:
    """Extra copies per duplicated row: 1..9 each (2..10 copies), summing exactly to ``extra``."""
    c = np.minimum(rng.geometric(1 / max(extra / groups, 1.0), groups), 9)
    if groups >= 50:
        c[0] = 9
    while c.sum() != extra:
        if c.sum() > extra:
            i = rng.choice(np.flatnonzero(c > 1) if (c > 1).any() else [0])
            c[i] -= 1
        else:
            i = rng.choice(np.flatnonzero(c < 9) if (c < 9).any() else [0])
            c[i] += 1
    return c


def plant_cards(rng, o: Orders, q: dict) -> None:
    """Cards shared by two users, and guest lines scanned with a member's card."""
    loyal_users = np.unique(o.local_user[o.loyal & (o.local_user >= 0)])
    if len(loyal_users) >= 2 * q["shared_cards"]:
        pairs = rng.choice(loyal_users, size=(q["shared_cards"], 2), replace=False)
        for a, b in pairs:
            card_a = o.card[(o.local_user == a) & o.loyal][0]
            o.card[(o.local_user == b) & o.loyal] = card_a
    cards = o.card[o.loyal]
    if not len(cards):
        return
    after = o.t >= tl.day_ms(params.LOYALTY_LAUNCH)
    guests = np.flatnonzero((o.kind == KIND_GUEST) & after & (o.n_lines == 1))
    got = rng.choice(guests, size=min(q["guest_loyal"], len(guests)), replace=False)
    o.loyal[got] = True
    o.card[got] = rng.choice(cards, size=len(got))
