"""Second half of the profile table: items, prices, quantities, options, quirks, 2023 scope.

Split from ``stats`` only to keep modules short; see there for what the columns mean.
"""

from __future__ import annotations

from sample_data import published as pub
from sample_data.stats import FULL, OR, R, Stat, _count, _quota, _share

I, P, Q, O, D, Y = "items", "prices", "quantity", "options", "quirks", "2023 scope"
TOP5_PRICE_SHARE = sum(pub.TOP_PRICES.values()) / pub.ITEM_RECORDS

MORE: list[Stat] = [
    Stat(I, "currency other than USD", "currency_not_usd", 0, ("exact",)),
    Stat(I, "non-empty categories", "categories_non_empty", pub.CATEGORIES_NON_EMPTY, ("exact",), **FULL),
    *[_share(I, f"rows in {c}", f"category_share_{c}", v / pub.ITEM_RECORDS, 0.01, R, noise=0.6)
      for c, v in pub.TOP_CATEGORIES.items()],
    # below scale 0.2 (~400 customers) one regular's favourite item moves these by > 50 %
    _count(I, "rows in Kid's / Kids", "kids_rows", pub.KIDS_ROWS, 0.15, min_scale=0.2),
    Stat(I, "distinct item names", "item_names", pub.ITEM_NAMES, ("range", 425, 431), **FULL),
    Stat(I, "distinct item names, lowercased", "item_names_lower", pub.ITEM_NAMES_LOWER, ("range", 390, 396), **FULL),
    Stat(I, "names with casing variants", "item_names_case_groups", 36, ("range", 33, 36), **FULL),
    _count(I, "names ending with *", "star_rows", pub.STAR_ROWS, 0.05),
    *[_count(I, f"rows of {n}", f"item_rows_{n}", v, 0.12, noise=0.3, min_scale=0.2)
      for n, v in pub.TOP_ITEMS.items()],
    Stat(P, "distinct ITEM_PRICE values", "price_distinct", pub.PRICE["distinct"], ("rel", 0.2), min_scale=0.8,
         max_scale=1.5),
    Stat(P, "minimum price", "price_min", 0.0, ("exact",)),
    Stat(P, "maximum price", "price_max", 5000.0, ("exact",), min_scale=1.0),
    Stat(P, "negative prices", "price_negative", 0, ("exact",)),
    Stat(P, "mean price", "price_mean", pub.PRICE["mean"], ("rel", 0.06), noise=1.5),
    Stat(P, "price standard deviation (the $5,000 line is planted from scale 1)", "price_std", pub.PRICE["std"],
         ("rel", 0.25), min_scale=1.0, max_scale=2.0),
    *[Stat(P, f"price P{k}", f"price_p{k}", v, ("abs", {1: 0.3, 5: 0.4, 10: 0.5, 25: 0.35, 50: 0.5, 75: 0.5,
                                                        90: 0.6, 95: 1.0, 99: 3.0}[k]), noise=0.2)
      for k, v in pub.PRICE_PCTL.items()],
    _count(P, "rows priced above $50", "price_over50", pub.PRICE["over50"], 0.2),
    _count(P, "rows priced above $100", "price_over100", pub.PRICE["over100"], 0.25),
    _count(P, "sum of ITEM_PRICE", "price_total", pub.PRICE["total"], 0.04, noise=1.0),
    _share(P, "rows at the 5 commonest published prices", "top_prices_share", TOP5_PRICE_SHARE, 0.04, R),
    Stat(P, "max price in 2023", "max_price_2023", pub.MAX_PRICE_2023, ("range", 150, 269.73), **FULL),
    *[_share(Q, f"rows with quantity {k}", f"qty_{k}", v / pub.ITEM_RECORDS,
             {"1": 0.005, "2": 0.004, "3": 0.002, "4": 0.0012, "5": 0.001, "6-10": 0.0007}[k], R)
      for k, v in pub.QUANTITY.items() if k in ("1", "2", "3", "4", "5", "6-10")],
    _count(Q, "rows with quantity 11-50", "qty_11-50_rows", 68, 0.3),
    _quota(Q, "rows with quantity 51-500 (bulk)", "qty_51-500_rows", "bulk"),
    _quota(Q, "rows with quantity 0 (the malformed line)", "qty_0_rows", "malformed"),
    Stat(Q, "distinct quantities", "qty_distinct", pub.QUANTITY_DISTINCT, ("range", 33, 45), min_scale=0.5,
         max_scale=1.5),
    _count(Q, "multi-quantity rows", "multi_qty_rows", pub.MULTI_QTY_ROWS, 0.05),
    Stat(Q, "multi-qty rows whose price is the unit price", "multi_qty_unit_match", 0.0, ("max", 0.01), pct=True),
    _share(Q, "multi-qty rows = qty x modal unit price", "multi_qty_total_match",
           pub.LINE_TOTAL_MATCH / pub.MULTI_QTY_ROWS, 0.13, "multi"),
    Stat(Q, "max quantity in 2023", "max_qty_2023", pub.MAX_QTY_2023, ("range", 18, 27), **FULL),
    Stat(Q, "bulk lines (qty >= 100) outside Alltown Fresh 2020-22", "bulk_violations", 0, ("exact",)),
    _count(O, "option rows", "option_rows", pub.OPTION_ROWS, 0.04),
    _count(O, "distinct ORDER_ID in options", "option_orders", pub.OPTION_ORDERS, 0.04),
    _count(O, "distinct (order, line) keys in options", "option_keys", pub.OPTION_KEYS, 0.04),
    Stat(O, "null option fields", "option_null_fields", 0, ("exact",)),
    Stat(O, "OPTION_QUANTITY other than 1", "option_qty_not_1", 0, ("exact",)),
    Stat(O, "distinct OPTION_PRICE values", "option_price_values", 16, ("exact",), **FULL),
    Stat(O, "negative option prices", "option_price_negative", 0, ("exact",)),
    *[_share(O, f"option rows at ${v:g}", f"option_price_{v:g}", c / pub.OPTION_ROWS,
             {0.0: 0.015, 1.0: 0.015, 2.0: 0.01}.get(v, 0.003), "options")
      for v, c in pub.OPTION_PRICES.items()],
    _share(O, "option rows at the 9 rarer prices", "option_price_others", 413 / pub.OPTION_ROWS, 0.0015, "options"),
    Stat(O, "option groups", "option_groups", pub.OPTION_GROUPS, ("range", 128, 133), **FULL),
    Stat(O, "option names", "option_names", pub.OPTION_NAMES, ("range", 600, 645), **FULL),
    Stat(O, "option names ever at $0", "names_ever_zero", 567, ("rel", 0.05), **FULL),
    Stat(O, "option names ever paid", "names_ever_paid", 136, ("rel", 0.08), **FULL),
    Stat(O, "option names both free and paid", "names_both", 66, ("rel", 0.15), **FULL),
    Stat(O, "option names with a quoted comma", "option_names_with_comma", 1, ("min", 1)),
    _share(O, "rows in Milk Options (top group)", "top_group_share",
           pub.TOP_OPTION_GROUP[1] / pub.OPTION_ROWS, 0.02, "options"),
    _share(O, "lines with options", "optioned_lines_share", pub.OPTIONED_LINES / pub.ITEM_RECORDS, 0.02, R),
    _share(O, "orders with options", "optioned_orders_share", pub.OPTIONED_ORDERS / pub.ORDERS, 0.025, OR),
    *[_share(O, f"optioned lines with {k} options", f"options_per_line_{k}", v,
             0.015 if v > 0.05 else 0.004, "optioned")
      for k, v in pub.OPTIONS_PER_LINE.items()],
    Stat(O, "options per optioned line, mean", "options_per_line_mean", pub.OPTIONS_PER_LINE_MEAN, ("abs", 0.06), noise=0.3),
    Stat(O, "most options on one line", "options_per_line_max", pub.OPTIONS_PER_LINE_MAX, ("exact",), min_scale=0.5),
    _count(O, "sum of OPTION_PRICE (once per line)", "option_total", pub.OPTION_TOTAL, 0.08, noise=0.5),
    Stat(O, "average order value (items + options)", "aov", pub.AOV, ("abs", 0.6), noise=1.0),
    _share(O, "orders with a paid option", "paid_option_order_share", pub.PAID_OPTION_ORDER_SHARE, 0.03, OR),
    _quota(D, "exact duplicate option rows (extra copies)", "dup_extra_rows", "dup_extra"),
    _quota(D, "duplicate option groups", "dup_groups", "dup_groups"),
    Stat(D, "most copies of one option row", "dup_max_copies", pub.DUPLICATES["max_copies"], ("exact",), min_scale=0.5),
    Stat(D, "duplicate option rows in 2023", "dup_rows_2023", 0, ("exact",)),
    _quota(D, "orphan option rows", "orphan_rows", "orphan_rows"),
    _quota(D, "orphan (order, line) keys", "orphan_keys", "orphan_keys"),
    _quota(D, "orphan orders", "orphan_orders", "orphan_orders"),
    Stat(D, "orphans come after the last order", "orphans_after_last_order", True, ("exact",)),
    _quota(D, "malformed line (blank ids, qty 0)", "malformed_rows", "malformed"),
    Stat(D, "malformed line has blank category and name", "malformed_blank_fields", True, ("exact",)),
    _quota(D, "blank LINEITEM_ID", "lineitem_blank", "malformed"),
    _quota(D, "category 'BBQ Plates' + URL", "url_bbq", "url_bbq"),
    _quota(D, "category 'Drip C' + URL + 'offee'", "url_drip", "url_drip"),
    _quota(D, "category 'Kid's' + URL", "url_kids", "url_kids"),
    Stat(D, "removing https?://...# restores a real category", "url_restore_ok", True, ("exact",)),
    Stat(D, "restaurants with URL categories", "url_stores", 3, ("exact",), min_scale=0.5),
    _quota(D, "category 'Bowls0'", "bowls0", "bowls0"),
    _quota(D, "category 'Sandwiches`1'", "sandwiches1", "sandwiches1"),
    _quota(D, "category 'Sqalads'", "sqalads", "sqalads"),
    _quota(D, "category 'Test Items'", "test", "test"),
    _quota(D, "blank category", "blank_category", "malformed"),
    _quota(D, "rows priced $0", "price_zero", "zero"),
    _count(Y, "2023 lines (NY, no DEVELOPMENT)", "s23_lines", pub.SCOPE_2023["lines"], 0.05),
    _count(Y, "2023 orders", "s23_orders", pub.SCOPE_2023["orders"], 0.05),
    _count(Y, "2023 customers", "s23_customers", pub.SCOPE_2023["customers"], 0.08),
    _count(Y, "2023 guest lines", "s23_guest_lines", pub.SCOPE_2023["guest_lines"], 0.1),
    Stat(Y, "2023 locations", "s23_locations", pub.SCOPE_2023["locations"], ("exact",), min_scale=0.1),
    _count(Y, "2023 loyalty lines", "s23_loyalty_lines", pub.SCOPE_2023["loyalty_lines"], 0.08, noise=0.5),
]
