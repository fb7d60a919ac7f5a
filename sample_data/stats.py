"""The statistics the profile report checks: published target, tolerance, and where each applies.

Why a table: one row per published statistic keeps "what we promise" reviewable in one place.
Modes: ``fixed`` (same target at every scale: shares, prices, format facts), ``count``
(target x scale), ``planned`` (max(2, round(target x scale)), as the plan sizes the DEVELOPMENT
and Perks populations), ``quota`` (the planted quirk count for the scale, see ``quirks.totals``).
Tolerances: ``exact``, ``rel`` (relative), ``abs`` (absolute; shares in fractions, shown in pp),
``range``/``max``/``min``. ``basis`` names the population a share is taken over, used to widen
the tolerance by sampling noise at small scales; ``noise`` widens heavy-tailed statistics by
``sqrt(1/scale)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sample_data import published as pub

INF = float("inf")


@dataclass(frozen=True)
class Stat:
    section: str
    label: str
    key: str
    target: object
    tol: tuple
    mode: str = "fixed"
    quota: str | None = None
    min_scale: float = 0.0
    max_scale: float = INF
    basis: str | None = None
    pct: bool = False
    noise: float = 0.0
    unit: float | None = None
    poisson: bool = True         # counts: add 3/sqrt(target) for sampling noise


def _share(section, label, key, target, tol, basis, **kw):
    return Stat(section, label, key, target, ("abs", tol), basis=basis, pct=True, **kw)


def _count(section, label, key, target, rel, **kw):
    kw.setdefault("noise", 1.0)        # volumes of a few hundred heavy-tailed customers vary a lot
    return Stat(section, label, key, float(target), ("rel", rel), mode="count", **kw)


def _planned(section, label, key, target, **kw):
    """Counts the generator plans exactly: max(2, round(target * scale))."""
    return Stat(section, label, key, float(target), ("exact",), mode="planned", **kw)


def _quota(section, label, key, quota, **kw):
    return Stat(section, label, key, None, ("exact",), mode="quota", quota=quota, **kw)


F, V, A, S, C, L, I, P, Q, O, D, Y = ("format", "volume", "apps", "stores", "customers", "loyalty",
                                      "items", "prices", "quantity", "options", "quirks", "2023 scope")
FULL = dict(min_scale=0.5, max_scale=2.0)      # distinct counts and maxima of a full-size file
R, U, OR = "records", "users", "orders"

STATS: list[Stat] = [
    Stat(F, "order_items header", "items_header", True, ("exact",)),
    Stat(F, "order_item_options header", "options_header", True, ("exact",)),
    Stat(F, "date_dim.csv sha256 (real file, CRLF)", "date_dim_sha256", pub.DATE_DIM_SHA256, ("exact",)),
    Stat(F, "order files use LF, not CRLF", "items_crlf", False, ("exact",)),
    _count(F, "order_items logical records", "records", pub.ITEM_RECORDS, 0.03),
    _quota(F, "records with an embedded newline", "newline_records", "newline"),
    Stat(F, "booleans are TRUE/FALSE", "bool_values_ok", True, ("exact",)),
    _share(F, "timestamps without fraction", "fraction_digits_0", 187 / pub.ITEM_RECORDS, 0.0004, R, noise=0.3),
    _share(F, "timestamps with 1 fraction digit", "fraction_digits_1", 1853 / pub.ITEM_RECORDS, 0.0015, R, noise=0.3),
    _share(F, "timestamps with 2 fraction digits", "fraction_digits_2", 18131 / pub.ITEM_RECORDS, 0.005, R, noise=0.3),
    _share(F, "timestamps with 3 fraction digits", "fraction_digits_3", 183348 / pub.ITEM_RECORDS, 0.006, R, noise=0.3),
    Stat(F, "bytes per item record", "bytes_per_record", pub.ITEM_BYTES / pub.ITEM_RECORDS, ("rel", 0.04)),
    Stat(F, "bytes per option row", "bytes_per_option", pub.OPTION_BYTES / pub.OPTION_ROWS, ("rel", 0.05)),
    _share(F, "adjacent records out of time order", "not_time_ordered", 0.5, 0.3, None),
    Stat(F, "malformed ids (not 24-hex)", "bad_ids", 0, ("exact",)),
    Stat(F, "order ids dated within 2 s of creation", "order_id_ts_within_2s", 1.0, ("exact",)),
    Stat(F, "line ids dated 0-60 min after their order id", "line_id_ts_after_order_1h", 1.0, ("exact",)),
    Stat(F, "user ids dated before the first order", "user_id_ts_before_first_order", 1.0, ("min", 0.999)),
    Stat(F, "duplicate LINEITEM_IDs", "lineitem_duplicates", 0, ("exact",)),
    Stat(V, "first CREATION_TIME_UTC", "first_ts", pub.FIRST_TS, ("exact",)),
    Stat(V, "last CREATION_TIME_UTC", "last_ts", pub.LAST_TS, ("exact",)),
    _count(V, "orders (distinct ORDER_ID)", "orders", pub.ORDERS, 0.03),
    Stat(V, "one CREATION_TIME_UTC per order", "ts_per_order_max", 1, ("exact",)),
    Stat(V, "distinct timestamps = orders", "ts_equals_orders", True, ("exact",), max_scale=2.0),
    Stat(V, "lines per order, mean", "lines_per_order_mean", 1.55, ("abs", 0.04), noise=0.3),
    *[_share(V, f"orders with {k} lines", f"lines_per_order_{k}", v / pub.ORDERS,
             {"1": 0.015, "2": 0.015, "3": 0.01, "4-5": 0.006, "6-10": 0.0025, "11+": 0.0003}[k], OR)
      for k, v in pub.LINES_PER_ORDER.items()],
    Stat(V, "largest order (lines)", "lines_per_order_max", 61, ("range", 55, 61), **FULL),
    *[_count(V, f"lines in {y} (UTC)", f"lines_utc_{y}", v, 0.05 if y != 2024 else 0.08, noise=1.0)
      for y, v in pub.LINES_BY_UTC_YEAR.items()],
    *[_count(V, f"orders in {y} (New York)", f"orders_ny_{y}", v, 0.05 if y != 2024 else 0.08, noise=1.0)
      for y, v in pub.ORDERS_BY_NY_YEAR.items()],
    *[_share(V, f"rows at {h:02d}h UTC", f"hour_{h}", v, 0.008, R, noise=0.6) for h, v in pub.HOUR_SHARE.items()],
    Stat(V, "busiest minor hour (0-9h, 20-23h)", "minor_hour_max", pub.MINOR_HOUR_MAX, ("max", 0.0175),
         pct=True, min_scale=0.5),
    *[_count(A, f"rows of '{a}'", f"app_rows_{a}", v, 0.03 if v > 10_000 else 0.06, poisson=v > 10_000)
      for a, v in pub.APP_ROWS.items()],
    _count(A, "Alltown Fresh orders", "fresh_orders", pub.FRESH["orders"], 0.03),
    _count(A, "Alltown Fresh customers", "fresh_customers", pub.FRESH["customers"], 0.05),
    _count(A, "Alltown Fresh item revenue", "fresh_revenue", pub.FRESH["revenue"], 0.04),
    _planned(A, "DEVELOPMENT orders", "dev_orders", pub.DEV["orders"]),
    _planned(A, "DEVELOPMENT users", "dev_users", pub.DEV["users"]),
    _count(A, "DEVELOPMENT item revenue", "dev_revenue", pub.DEV["revenue"], 0.15, noise=0.3),
    Stat(A, "DEVELOPMENT uses only its own restaurant", "dev_store_is_published", True, ("exact",)),
    Stat(A, "rows of other apps at the DEVELOPMENT restaurant", "dev_store_used_by_others", 0, ("exact",)),
    Stat(A, "DEVELOPMENT loyalty rows", "dev_loyalty_rows", 0, ("exact",)),
    _share(A, "DEVELOPMENT rows in Breakfast", "dev_breakfast_share", pub.DEV["breakfast_share"], 0.05, "dev"),
    _share(A, "DEVELOPMENT rows in 2023", "dev_rows_2023_share", 700 / 826, 0.05, "dev"),
    Stat(A, "DEVELOPMENT first day", "dev_first", pub.DEV["first"], ("exact",)),
    Stat(A, "DEVELOPMENT last day", "dev_last", pub.DEV["last"], ("exact",)),
    _planned(A, "Neighborhood Perks orders", "perks_orders", pub.PERKS["orders"]),
    _planned(A, "Neighborhood Perks customers", "perks_users", pub.PERKS["customers"]),
    _count(A, "Neighborhood Perks item revenue", "perks_revenue", pub.PERKS["revenue"], 0.15, noise=0.3),
    Stat(A, "Neighborhood Perks restaurants", "perks_restaurants", 3, ("exact",), min_scale=0.2),
    Stat(A, "Neighborhood Perks loyalty rows", "perks_loyalty_rows", 0, ("exact",)),
    Stat(A, "Neighborhood Perks first day", "perks_first", pub.PERKS["first"], ("exact",)),
    Stat(A, "Neighborhood Perks last day", "perks_last", pub.PERKS["last"], ("exact",)),
    Stat(S, "restaurants", "restaurants", pub.RESTAURANTS, ("exact",), min_scale=0.1),
    _share(S, "rows at the top restaurant", "top_store_share", 32_459 / pub.ITEM_RECORDS, 0.015, None, noise=0.5),
    _share(S, "rows at the top 4 restaurants", "top4_share", pub.TOP4_SHARE, 0.02, None, noise=0.5),
    _share(S, "rows at the top 10 restaurants", "top10_share", 161_618 / pub.ITEM_RECORDS, 0.025, None, noise=0.5),
    Stat(S, "published top-10 ids among our top 10", "top10_published_ids", 10, ("min", 8), min_scale=0.5),
    Stat(S, "restaurants active in 2023 (NY)", "active_2023", pub.ACTIVE_2023, ("exact",), min_scale=0.1),
    _count(C, "customers (distinct USER_ID)", "users", pub.USERS, 0.05),
    _share(C, "guest lines (blank USER_ID)", "guest_line_share", pub.GUEST_LINES / pub.ITEM_RECORDS, 0.005, R),
    _share(C, "guest orders", "guest_order_share", pub.GUEST_ORDERS / pub.ORDERS, 0.006, OR),
    *[_share(C, f"customers with {k} orders", f"orders_per_customer_{k}", v / pub.USERS,
             {"1": 0.025, "2": 0.015, "3-5": 0.015, "6-10": 0.012, "11-20": 0.01, "21-50": 0.008,
              "51-100": 0.0035, "101+": 0.002}[k], U)
      for k, v in pub.ORDERS_PER_CUSTOMER.items()],
    Stat(C, "orders per customer, mean", "orders_per_customer_mean", pub.ORDERS_PER_CUSTOMER_MEAN, ("rel", 0.08), noise=0.5),
    Stat(C, "orders per customer, median (50.0 % have one: a knife edge)", "orders_per_customer_median",
         1.0, ("range", 1, 2)),
    Stat(C, "orders of the busiest customer", "orders_per_customer_max", pub.ORDERS_PER_CUSTOMER_MAX,
         ("exact",), min_scale=1.0),
    Stat(C, "spend per customer, mean", "spend_mean", pub.SPEND_PER_CUSTOMER["mean"], ("rel", 0.1), noise=0.5),
    Stat(C, "spend per customer, median", "spend_median", pub.SPEND_PER_CUSTOMER["median"], ("rel", 0.15), noise=0.3),
    Stat(C, "spend per customer, p90", "spend_p90", pub.SPEND_PER_CUSTOMER["p90"], ("rel", 0.1), noise=0.5),
    Stat(C, "spend per customer, p99", "spend_p99", pub.SPEND_PER_CUSTOMER["p99"], ("rel", 0.15), noise=1.0),
    Stat(C, "lines per customer, median", "lines_per_customer_median", 3.0, ("range", 2, 3)),
    Stat(C, "lines per customer, p99", "lines_per_customer_p99", 98.0, ("rel", 0.15), noise=1.0),
    Stat(C, "heavy accounts (>= 900 lines)", "accounts_900_lines", 6, ("exact",), min_scale=1.0, max_scale=1.0),
    Stat(C, "bot-like accounts (a day with > 20 orders)", "accounts_over_20_per_day",
         pub.BOT_LIKE_ACCOUNTS, ("range", 12, 17), min_scale=1.0, max_scale=1.0),
    Stat(C, "most orders by one account in a day", "max_orders_user_day",
         pub.BOT_MAX_ORDERS_PER_DAY, ("range", 140, 170), min_scale=1.0),
    Stat(C, "ground truth covers every customer", "truth_missing_users", 0, ("exact",)),
    _share(L, "loyalty lines (IS_LOYALTY TRUE)", "loyalty_line_share", pub.LOYALTY_LINES / pub.ITEM_RECORDS, 0.015, R, noise=0.5),
    Stat(L, "card blank exactly when not loyalty (violations)", "card_iff_loyalty_violations", 0, ("exact",)),
    Stat(L, "cards not 12 digits starting 6780", "card_format_violations", 0, ("exact",)),
    _count(L, "distinct card numbers", "cards", pub.CARDS, 0.1, noise=0.3),
    _quota(L, "cards used by more than one user", "cards_multi_user", "shared_cards"),
    _quota(L, "loyalty rows without a user", "loyalty_rows_no_user", "guest_loyal"),
    _share(L, "2023 customers with loyal and non-loyal orders", "switchers_2023_share", 0.182, 0.03, "s23users", noise=0.5),
    _share(L, "of those, started non-loyal", "switchers_started_non_loyal", 1808 / 1913, 0.05, None, noise=0.5),
    Stat(L, "most loyalty switches by one customer (2023)", "max_switches", 9, ("range", 4, 12), **FULL),
]
