"""Measure a folder of raw CSVs: every statistic the published profile states, as a flat dict.

Why separate from the report: measuring is plain pandas over the files as they are on disk (the
same view a pipeline gets), with no knowledge of how they were generated; ``profile`` then
compares these numbers with the published targets. Works on real files too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from sample_data import published as pub

ITEMS, OPTIONS = "order_items.csv", "order_item_options.csv"
DATE_DIM, TRUTH = "date_dim.csv", "ground_truth.csv"


def _epoch_s(ts: pd.Series) -> np.ndarray:
    """Seconds since 1970 of a tz-aware datetime series."""
    return ts.dt.tz_convert(None).to_numpy().astype("datetime64[s]").astype(np.int64)


def _share(mask) -> float:
    return float(np.mean(mask)) if len(mask) else float("nan")


def _bucket_shares(values: pd.Series, buckets: dict) -> dict:
    out = {}
    for label in buckets:
        if label.endswith("+"):
            lo, hi = int(label[:-1]), 10**9
        elif "-" in label:
            lo, hi = (int(x) for x in label.split("-"))
        else:
            lo = hi = int(label)
        out[label] = _share((values >= lo) & (values <= hi))
    return out


def read(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    kw = dict(dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    return pd.read_csv(folder / ITEMS, **kw), pd.read_csv(folder / OPTIONS, **kw)


def measure(folder: Path) -> dict:
    folder = Path(folder)
    m: dict = {}
    raw = (folder / ITEMS).read_bytes()
    m["items_header"] = raw.split(b"\n", 1)[0].decode() == pub.ITEMS_HEADER
    m["physical_lines"] = raw.count(b"\n")
    m["items_crlf"] = b"\r\n" in raw
    m["items_bytes"] = len(raw)
    del raw
    oraw = (folder / OPTIONS).read_bytes()
    m["options_header"] = oraw.split(b"\n", 1)[0].decode() == pub.OPTIONS_HEADER
    m["options_bytes"] = len(oraw)
    del oraw
    dd = folder / DATE_DIM
    m["date_dim_sha256"] = hashlib.sha256(dd.read_bytes()).hexdigest() if dd.exists() else ""
    it, op = read(folder)
    _items(m, it)
    _options(m, it, op)
    _scope_2023(m, it)
    m["bytes_per_record"] = m["items_bytes"] / max(m["records"], 1)
    m["bytes_per_option"] = m["options_bytes"] / max(m["option_rows"], 1)
    m["bad_ids"] = sum(m.pop(k) for k in [k for k in m if k.startswith("bad_")])
    m["ts_equals_orders"] = m["distinct_ts"] == m["orders"]
    if (folder / TRUTH).exists():
        truth = pd.read_csv(folder / TRUTH, dtype=str, keep_default_na=False)
        users = set(it.loc[it.USER_ID != "", "USER_ID"])
        m["truth_missing_users"] = len(users - set(truth.user_id))
        m["truth_rows"] = len(truth)
    return m


def _items(m: dict, it: pd.DataFrame) -> None:
    n = len(it)
    m["records"] = n
    nl = np.zeros(n, bool)
    for col in it.columns:
        nl |= it[col].str.contains("\n", regex=False).values
    m["newline_records"] = int(nl.sum())
    ts = it.CREATION_TIME_UTC
    frac = ts.str.extract(r"\.(\d+)Z$", expand=False).fillna("")
    for d in range(4):
        m[f"fraction_digits_{d}"] = _share(frac.str.len() == d)
    utc = pd.to_datetime(ts, format="ISO8601", utc=True)
    it["_utc"] = utc
    it["_ny"] = utc.dt.tz_convert("America/New_York")
    it["_price"] = it.ITEM_PRICE.astype(float)
    it["_qty"] = it.ITEM_QUANTITY.astype(int)
    m["first_ts"], m["last_ts"] = ts[utc.idxmin()], ts[utc.idxmax()]
    m["not_time_ordered"] = _share(np.diff(utc.dt.tz_convert(None).to_numpy().astype(np.int64)) < 0)
    orders = it.groupby("ORDER_ID", sort=False)
    m["orders"] = orders.ngroups
    m["distinct_ts"] = ts.nunique()
    m["ts_per_order_max"] = int(orders.CREATION_TIME_UTC.nunique().max())
    lpo = orders.size()
    m["lines_per_order_mean"] = float(lpo.mean())
    m["lines_per_order_max"] = int(lpo.max())
    for k, v in _bucket_shares(lpo, pub.LINES_PER_ORDER).items():
        m[f"lines_per_order_{k}"] = v
    for y in pub.LINES_BY_UTC_YEAR:
        m[f"lines_utc_{y}"] = int((utc.dt.year == y).sum())
    first = it.drop_duplicates("ORDER_ID")
    for y in pub.ORDERS_BY_NY_YEAR:
        m[f"orders_ny_{y}"] = int((first._ny.dt.year == y).sum())
    hours = utc.dt.hour.value_counts(normalize=True).reindex(range(24), fill_value=0)
    for h in pub.HOUR_SHARE:
        m[f"hour_{h}"] = float(hours[h])
    m["minor_hour_max"] = float(hours.drop(list(pub.HOUR_SHARE) + [19]).max())
    for app, rows in pub.APP_ROWS.items():
        m[f"app_rows_{app}"] = int((it.APP_NAME == app).sum())
    m["currency_not_usd"] = int((it.CURRENCY != "USD").sum())
    _apps(m, it)
    _stores(m, it)
    _customers(m, it, first)
    _loyalty(m, it)
    _catalog(m, it)
    _prices(m, it)
    _ids(m, it)


def _apps(m: dict, it: pd.DataFrame) -> None:
    for key, app in (("dev", pub.APP_DEV), ("perks", pub.APP_PERKS)):
        a = it[it.APP_NAME == app]
        m[f"{key}_orders"] = a.ORDER_ID.nunique()
        m[f"{key}_users"] = a.loc[a.USER_ID != "", "USER_ID"].nunique()
        m[f"{key}_revenue"] = float(a._price.sum())
        m[f"{key}_restaurants"] = a.RESTAURANT_ID.nunique()
        m[f"{key}_loyalty_rows"] = int((a.IS_LOYALTY == "TRUE").sum())
        m[f"{key}_first"] = str(a._utc.min().date()) if len(a) else ""
        m[f"{key}_last"] = str(a._utc.max().date()) if len(a) else ""
    fresh = it[it.APP_NAME == pub.APP_FRESH]
    m["fresh_orders"] = fresh.ORDER_ID.nunique()
    m["fresh_customers"] = fresh.loc[fresh.USER_ID != "", "USER_ID"].nunique()
    m["fresh_revenue"] = float(fresh._price.sum())
    dev = it[it.APP_NAME == pub.APP_DEV]
    dev_stores = set(dev.RESTAURANT_ID)
    m["dev_store_is_published"] = dev_stores == {pub.DEV["restaurant"]}
    others = (it.APP_NAME != pub.APP_DEV) & it.RESTAURANT_ID.isin(dev_stores)
    m["dev_store_used_by_others"] = int(others.sum())
    m["dev_breakfast_share"] = _share(dev.ITEM_CATEGORY == "Breakfast")
    m["dev_rows_2023_share"] = _share(dev._utc.dt.year == 2023)


def _stores(m: dict, it: pd.DataFrame) -> None:
    rows = it.RESTAURANT_ID.value_counts()
    m["restaurants"] = len(rows)
    m["top_store_share"] = float(rows.iloc[0] / len(it))
    m["top4_share"] = float(rows.iloc[:4].sum() / len(it))
    m["top10_share"] = float(rows.iloc[:10].sum() / len(it))
    m["top10_published_ids"] = len(set(rows.index[:10]) & set(pub.TOP10_ROWS))
    m["active_2023"] = it.loc[it._ny.dt.year == 2023, "RESTAURANT_ID"].nunique()


def _customers(m: dict, it: pd.DataFrame, first: pd.DataFrame) -> None:
    guest = it.USER_ID == ""
    m["guest_line_share"] = _share(guest)
    m["guest_order_share"] = _share(first.USER_ID == "")
    reg = it[~guest]
    m["users"] = reg.USER_ID.nunique()
    per = reg.groupby("USER_ID").agg(orders=("ORDER_ID", "nunique"), lines=("ORDER_ID", "size"),
                                     spend=("_price", "sum"))
    for k, v in _bucket_shares(per.orders, pub.ORDERS_PER_CUSTOMER).items():
        m[f"orders_per_customer_{k}"] = v
    m["orders_per_customer_mean"] = float(per.orders.mean())
    m["orders_per_customer_median"] = float(per.orders.median())
    m["orders_per_customer_max"] = int(per.orders.max())
    for q, name in ((None, "mean"), (0.5, "median"), (0.9, "p90"), (0.99, "p99")):
        m[f"spend_{name}"] = float(per.spend.mean() if q is None else per.spend.quantile(q))
    m["lines_per_customer_median"] = float(per.lines.median())
    m["lines_per_customer_p99"] = float(per.lines.quantile(0.99))
    m["accounts_900_lines"] = int((per.lines >= 900).sum())
    days = reg.drop_duplicates("ORDER_ID").assign(_d=lambda d: d._ny.dt.date)
    per_day = days.groupby(["USER_ID", "_d"]).size()
    m["max_orders_user_day"] = int(per_day.max()) if len(per_day) else 0
    m["accounts_over_20_per_day"] = int((per_day > 20).groupby(level=0).any().sum())


def _loyalty(m: dict, it: pd.DataFrame) -> None:
    loyal = it.IS_LOYALTY == "TRUE"
    card = it.PRINTED_CARD_NUMBER
    m["loyalty_line_share"] = _share(loyal)
    m["bool_values_ok"] = bool(it.IS_LOYALTY.isin(["TRUE", "FALSE"]).all())
    m["card_iff_loyalty_violations"] = int(((card != "") != loyal).sum())
    m["card_format_violations"] = int((~card[card != ""].str.fullmatch(r"6780\d{8}")).sum())
    m["cards"] = card[card != ""].nunique()
    users_per_card = it[(card != "") & (it.USER_ID != "")].groupby("PRINTED_CARD_NUMBER").USER_ID.nunique()
    m["cards_multi_user"] = int((users_per_card > 1).sum())
    m["loyalty_rows_no_user"] = int((loyal & (it.USER_ID == "")).sum())
    s = it[(it._ny.dt.year == 2023) & (it.APP_NAME != pub.APP_DEV) & (it.USER_ID != "")]
    s = s.drop_duplicates("ORDER_ID").sort_values("_utc")
    g = s.groupby("USER_ID").IS_LOYALTY
    both = g.nunique() > 1
    m["switchers_2023_share"] = float(both.mean()) if len(both) else float("nan")
    started = g.first()[both] == "FALSE"
    m["switchers_started_non_loyal"] = float(started.mean()) if both.any() else float("nan")
    flips = s.assign(_f=s.IS_LOYALTY.ne(s.groupby("USER_ID").IS_LOYALTY.shift()) & s.USER_ID.duplicated())
    m["max_switches"] = int(flips.groupby("USER_ID")._f.sum().max()) if len(flips) else 0


def _catalog(m: dict, it: pd.DataFrame) -> None:
    catv = it.ITEM_CATEGORY
    m["categories_non_empty"] = catv[catv != ""].nunique()
    for c in pub.TOP_CATEGORIES:
        m[f"category_share_{c}"] = _share(catv == c)
    m["kids_rows"] = int(catv.isin(["Kid's", "Kids"]).sum())
    m["url_rows"] = int(catv.str.contains("http", regex=False).sum())
    for label, key in (("BBQ Plateshttps", "url_bbq"), ("Drip Chttps", "url_drip"), ("Kid'shttps", "url_kids")):
        m[key] = int(catv.str.startswith(label).sum())
    m["url_stores"] = it.loc[catv.str.contains("http", regex=False), "RESTAURANT_ID"].nunique()
    for label, key in (("Bowls0", "bowls0"), ("Sandwiches`1", "sandwiches1"), ("Sqalads", "sqalads"),
                       ("Test Items", "test"), ("", "blank_category")):
        m[key] = int((catv == label).sum())
    restored = catv.str.replace(r"https?://\S*?#", "", regex=True)
    m["url_restore_ok"] = bool(restored[catv.str.contains("http", regex=False)].isin(set(catv)).all())
    names = it.ITEM_NAME[it.ITEM_NAME != ""]
    m["item_names"] = names.nunique()
    m["item_names_lower"] = names.str.lower().nunique()
    low = pd.Series(names.unique()).str.lower().value_counts()
    m["item_names_case_groups"] = int((low > 1).sum())
    m["star_rows"] = int(names.str.endswith("*").sum())
    for name in pub.TOP_ITEMS:
        m[f"item_rows_{name}"] = int((it.ITEM_NAME == name).sum())


def _prices(m: dict, it: pd.DataFrame) -> None:
    p, q = it._price, it._qty
    m["price_distinct"] = p.nunique()
    m["price_min"], m["price_max"] = float(p.min()), float(p.max())
    m["price_mean"], m["price_std"] = float(p.mean()), float(p.std())
    for k in pub.PRICE_PCTL:
        m[f"price_p{k}"] = float(p.quantile(k / 100))
    m["price_zero"] = int((p == 0).sum())
    m["price_negative"] = int((p < 0).sum())
    m["price_over50"], m["price_over100"] = int((p > 50).sum()), int((p > 100).sum())
    m["price_total"] = float(p.sum())
    m["top_prices_share"] = _share(p.round(2).isin(list(pub.TOP_PRICES)))
    for k in ("1", "2", "3", "4", "5"):
        m[f"qty_{k}"] = _share(q == int(k))
    m["qty_6-10"] = _share((q >= 6) & (q <= 10))
    m["qty_11-50_rows"] = int(((q >= 11) & (q <= 50)).sum())
    m["qty_51-500_rows"] = int(((q >= 51) & (q <= 500)).sum())
    m["qty_0_rows"] = int((q == 0).sum())
    m["qty_distinct"] = q.nunique()
    multi = it[q >= 2]
    m["multi_qty_rows"] = len(multi)
    ref = it[q == 1].groupby("ITEM_NAME")._price.agg(lambda s: s.mode().iloc[0])
    unit = multi.ITEM_NAME.map(ref)
    m["multi_qty_unit_match"] = _share((multi._price - unit).abs() < 0.005)
    m["multi_qty_total_match"] = _share((multi._price - unit * multi._qty).abs() < 0.005)
    y23 = it._utc.dt.year == 2023
    m["max_qty_2023"] = int(q[y23].max()) if y23.any() else 0
    m["max_price_2023"] = float(p[y23].max()) if y23.any() else 0.0
    bulk = it[q >= 100]
    m["bulk_violations"] = int(((bulk._utc.dt.year > 2022) | (bulk.APP_NAME != pub.APP_FRESH)).sum())
    mal = it[(it.LINEITEM_ID == "") & (q == 0)]
    m["malformed_rows"] = len(mal)
    m["malformed_blank_fields"] = bool(((mal.ITEM_CATEGORY == "") & (mal.ITEM_NAME == "")).all())


def _ids(m: dict, it: pd.DataFrame) -> None:
    hexre = r"[0-9a-f]{24}"
    for col in ("RESTAURANT_ID", "ORDER_ID", "LINEITEM_ID", "USER_ID"):
        v = it[col][it[col] != ""]
        m[f"bad_{col.lower()}"] = int((~v.str.fullmatch(hexre)).sum())
    lid = it.LINEITEM_ID[it.LINEITEM_ID != ""]
    m["lineitem_duplicates"] = int(lid.duplicated().sum())
    m["lineitem_blank"] = int((it.LINEITEM_ID == "").sum())
    secs = _epoch_s(it._utc)
    oid = it.ORDER_ID.str[:8].apply(int, base=16).values
    m["order_id_ts_within_2s"] = _share(np.abs(oid - secs) <= 2)
    ok = it.LINEITEM_ID != ""
    lsec = it.LINEITEM_ID[ok].str[:8].apply(int, base=16).values
    m["line_id_ts_after_order_1h"] = _share((lsec >= oid[ok.values] - 1) & (lsec <= oid[ok.values] + 3600))
    reg = it[it.USER_ID != ""]
    first = reg.groupby("USER_ID")._utc.min()
    usec = first.index.str[:8].map(lambda h: int(h, 16)).values
    m["user_id_ts_before_first_order"] = _share(usec <= _epoch_s(first) + 2)


def _options(m: dict, it: pd.DataFrame, op: pd.DataFrame) -> None:
    m["option_rows"] = len(op)
    m["option_orders"] = op.ORDER_ID.nunique()
    keys = op.ORDER_ID + "|" + op.LINEITEM_ID
    m["option_keys"] = keys.nunique()
    price = op.OPTION_PRICE.astype(float)
    m["option_price_values"] = price.nunique()
    m["option_price_negative"] = int((price < 0).sum())
    for v in pub.OPTION_PRICES:
        m[f"option_price_{v:g}"] = _share(price == v)
    m["option_price_others"] = _share(~price.isin(list(pub.OPTION_PRICES)))
    m["option_qty_not_1"] = int((op.OPTION_QUANTITY != "1").sum())
    m["option_null_fields"] = int((op == "").sum().sum())
    m["option_groups"] = op.OPTION_GROUP_NAME.nunique()
    m["option_names"] = op.OPTION_NAME.nunique()
    m["top_group_share"] = _share(op.OPTION_GROUP_NAME == pub.TOP_OPTION_GROUP[0])
    m["option_names_with_comma"] = int(op.OPTION_NAME[op.OPTION_NAME.str.contains(",", regex=False)].nunique())
    zero_names = set(op.OPTION_NAME[price == 0])
    paid_names = set(op.OPTION_NAME[price > 0])
    m["names_ever_zero"], m["names_ever_paid"] = len(zero_names), len(paid_names)
    m["names_both"] = len(zero_names & paid_names)
    dup = op.duplicated(keep="first")
    m["dup_extra_rows"] = int(dup.sum())
    groups = op[op.duplicated(keep=False)].groupby(list(op.columns)).size()
    m["dup_groups"], m["dup_max_copies"] = len(groups), int(groups.max()) if len(groups) else 0
    item_keys = set(it.ORDER_ID + "|" + it.LINEITEM_ID)
    orphan = ~keys.isin(item_keys)
    m["orphan_rows"], m["orphan_keys"] = int(orphan.sum()), keys[orphan].nunique()
    m["orphan_orders"] = op.ORDER_ID[orphan].nunique()
    last_item = it.ORDER_ID.str[:8].apply(int, base=16).max()
    osec = op.ORDER_ID[orphan].str[:8].apply(int, base=16)
    m["orphans_after_last_order"] = bool((osec >= last_item).all())
    when = op.ORDER_ID.map(it.drop_duplicates("ORDER_ID").set_index("ORDER_ID")._utc)
    m["dup_rows_2023"] = int((dup & (when.dt.year == 2023)).sum())
    per_line = keys[~orphan].value_counts()
    m["optioned_lines_share"] = len(per_line) / max(len(it), 1)
    m["optioned_orders_share"] = op.ORDER_ID[~orphan].nunique() / max(it.ORDER_ID.nunique(), 1)
    for k, v in _bucket_shares(per_line, pub.OPTIONS_PER_LINE).items():
        m[f"options_per_line_{k}"] = v
    m["options_per_line_mean"] = float(keys.value_counts().mean())
    m["options_per_line_max"] = int(per_line.max()) if len(per_line) else 0
    valid = op[~orphan]
    m["option_total"] = float(price[~orphan].sum())
    m["aov"] = (it._price.sum() + m["option_total"]) / max(it.ORDER_ID.nunique(), 1)
    paid_orders = valid.ORDER_ID[price[~orphan] > 0].nunique()
    m["paid_option_order_share"] = paid_orders / max(it.ORDER_ID.nunique(), 1)


def _scope_2023(m: dict, it: pd.DataFrame) -> None:
    s = it[(it._ny.dt.year == 2023) & (it.APP_NAME != pub.APP_DEV)]
    m["s23_lines"], m["s23_orders"] = len(s), s.ORDER_ID.nunique()
    m["s23_customers"] = s.loc[s.USER_ID != "", "USER_ID"].nunique()
    m["s23_guest_lines"] = int((s.USER_ID == "").sum())
    m["s23_locations"] = s.RESTAURANT_ID.nunique()
    m["s23_loyalty_lines"] = int((s.IS_LOYALTY == "TRUE").sum())
