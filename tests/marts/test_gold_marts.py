"""The gold marts on a hand-made raw dataset where every expected value is worked out by hand.

The fixture (tests/cases/gold/raw) is 40 raw lines in 32 orders: 9 customers C1..C9, 4 guest
orders and one line of the test app (filtered in silver). The as-of date is "latest": the local
date of the latest order, 2024-02-20. The run sets bot_max_orders_per_day=2, so three orders in
one day make a suspected bot while two (C1 on 2024-02-17) do not. Everything else is default:
timezone America/New_York, option_charge per_line, rfm_lookback_days 365, at_risk_days 45,
churned_days 90, lift_window_days 90.

"d" below is days before the as-of date (2024-02-20 is d0). Restaurants: RA 5fece84a…,
RB 6054db34…, RC 5e7e35ec… (RC's last order is d180: inactive). Items: BEC = "Bacon Egg &
Cheese*" (Breakfast; 5.99 at RA until October 2023, 6.49 from November), CT = "Chipotle Turkey"
(Sandwiches, 9.89), GM = "Green Machine" (Smoothies, 7.49), COF = "ALLTOWN FRESH HOT COFFEE 16OZ"
(Drip Coffee, 2.49), CCB = "Chili Chicken Bowl" (Bowls, 7.50). Options: Add Egg / Add Protein
1.00, Add Almond Milk 0.60, free ones 0.00 and one "$1 Off Coupon" at -1.00 (a discount).

Orders (local time; revenue = Σ item_price + Σ options, options once per line):
  C1 always member, Champion, 2 orders on one day (not a bot):
    O01 d400 2023-01-16 08:30 RA  BEC 5.99 (+Add Egg 1.00, No Onion 0.00), COF 2.49    = 9.48
    O06 d84  2023-11-28 08:20 RA  BEC 6.49 (+Add Egg 1.00)                              = 7.49
    O05 d70  2023-12-12 12:40 RB  CT 9.89, GM 7.49 (+Add Protein 1.00, Almond Milk 0.60) = 18.98
    O02 d20  2024-01-31 12:15 RB  CT 9.89 (+$1 Off Coupon -1.00)                        = 8.89
    O03 d3   2024-02-17 08:05 RA  BEC 6.49                                               = 6.49
    O04 d3   2024-02-17 17:40 RA  GM 7.49 (+Add Protein 1.00)                            = 8.49
  C2 joined (N N L L N: switches twice, still one class), Loyal:
    O07 d250 2023-06-15 12:30 RB  N  CT 9.89, GM 7.49 (+Add Protein 1.00, No Ice 0.00)  = 18.38
    O08 d150 2023-09-23 07:45 RA  N  BEC 5.99                                            = 5.99
    O09 d130 2023-10-13 09:10 RA  L  BEC 5.99 (+Add Egg 1.00)   <- first loyalty order   = 6.99
    O10 d100 2023-11-12 12:05 RB  L  CT 9.89, GM 14.98 x2 (+Add Protein 1.00)            = 25.87
    O11 d7   2024-02-13 08:15 RA  N  BEC 6.49                                            = 6.49
  C3 never member, at_risk (d46), multi-quantity lines:
    O12 d180 2023-08-24 13:00 RC  CT 19.78 x2                                            = 19.78
    O13 d138 2023-10-05 08:40 RA  BEC 11.98 x2 (+Add Egg 1.00, once for the line)        = 12.98
    O14 d46  2024-01-05 18:30 RB  GM 7.49                                                = 7.49
  C4 never member, churned (d91):
    O15 d500 2022-10-08 11:20 RC  CT 9.89 ; O16 d158 2023-09-15 07:30 RA BEC 5.99 ;
    O17 d91  2023-11-21 10:55 RA  BEC 6.49                                   total 22.37
  C5 always member, one order, New:  O18 d2 2024-02-18 14:30 RB GM 7.49 (+1.00 +0.60)  = 9.09
  C6 never member, suspected bot: O19, O20, O21 d25 2024-01-26 07:00/07:02/07:05 RA COF 2.49,
    COF 0.00 (a $0 comp), COF 2.49 ; O22 d1 2024-02-19 07:10 RA COF 2.49     total 7.47
  C7 lapsed member (L then N), at_risk (d90):
    O23 d300 2023-04-26 12:00 RC L CT 9.89 ; O24 d90 2023-11-22 16:00 RB N "GREEN MACHINE" 7.49
  C8 joined, active at the boundary (d45):
    O25 d365 2023-02-20 12:10 RB N CT 9.89 (+No Mayo 0.00)
    O26 d45  2024-01-06 21:10 RA L GM 7.49, COF 2.49 = 9.98 (2024-01-07T02:10Z: the previous local day)
  C9 never member, churned long ago (no order in the RFM window):
    O27 d420 2022-12-27 12:00 RC CT 9.89, GM 7.49                                        = 17.38
  Guests: O28 d60 RB CT 9.89, COF 4.98 x2 = 14.87 ; O29 d120 RA CCB 750.00 x100 (bulk) ;
    O30 d14 RA BEC 6.49 with a loyalty card (a member order without an account) ;
    O31 2024-02-21T00:30Z = 2024-02-20 19:30 local, RB GM 7.49, CCB 7.50 = 14.99 (the latest order)
  Test app: O32 2024-02-21T15:00Z, user C1, BEC 5.00 (+Add Egg) - filtered, must change nothing.

Totals: items 1,034.50 + options 9.20 = revenue 1,043.70 over 31 orders and 39 lines;
customers 257.35, guests 786.35 (750.00 + 6.49 + 14.87 + 14.99).
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.cli import main
from engine.spec.yaml_source import load_yaml_file

pytestmark = pytest.mark.slow  # runs the whole pipeline

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "tests" / "cases" / "gold" / "raw"

RA, RB, RC = "5fece84aadb0d51509c36f22", "6054db3495b70198148b456f", "5e7e35ec902ad5ac017b242a"
BEC, CT, GM, COF, CCB = ("bacon egg & cheese", "chipotle turkey", "green machine",
                         "alltown fresh hot coffee 16oz", "chili chicken bowl")


def user(k: int) -> str:
    return f"6522{'0' * 18}c{k}"


def order(n: int) -> str:
    return f"6500{'0' * 18}{n:02d}"


C = {f"C{k}": user(k) for k in range(1, 10)}
# the gold tables of marts/ (each spec file is named after its table); the run builds these and
# everything upstream of them
GOLD_TABLES = ["as_of", "order_facts", "customer_lifetime_value", "clv_cohort_curves", "customer_segments",
               "churn_indicators",
               "sales_trends", "customer_loyalty", "loyalty_impact", "loyalty_customer_classes",
               "loyalty_enrollment_lift", "location_performance", "price_change_events", "pricing_effectiveness"]
AS_OF = date(2024, 2, 20)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("gold") / "lake"
    code = main(["run", "--project-dir", str(ROOT), "--var", f"raw_dir={RAW}", "--var", f"lake_dir={lake}",
                 "--var", "as_of=latest", "--var", "bot_max_orders_per_day=2",
                 "--select", " ".join(f"+gold.{t}" for t in GOLD_TABLES)])
    assert code == 0
    return lake


def query(lake: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def same(actual: object, expected: object) -> bool:
    """Money is written as text and compared exactly; ratios as floats, to 1e-9."""
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(actual, Decimal):
        return actual == Decimal(str(expected))
    if isinstance(actual, float):
        return actual == pytest.approx(expected, rel=1e-9, abs=1e-12)
    return actual == expected


def check_table(lake: Path, table: str, keys: list[str], columns: list[str], expected: dict) -> None:
    """Every row and every listed column of ``table`` equals the hand-computed value."""
    rows = query(lake, f"select {', '.join(keys + columns)} from {table}")
    got = {r[:len(keys)] if len(keys) > 1 else r[0]: r[len(keys):] for r in rows}
    assert len(got) == len(rows), f"{table}: duplicate keys"
    assert sorted(got, key=str) == sorted(expected, key=str), f"{table}: keys differ"
    problems = []
    for key, want in expected.items():
        assert len(want) == len(columns), f"{table} {key}: expected {len(columns)} values"
        for name, a, w in zip(columns, got[key], want):
            if not same(a, w):
                problems.append(f"{key} {name}: got {a!r}, expected {w!r}")
    assert not problems, f"{table}:\n  " + "\n  ".join(problems)


def test_columns_cover_the_whole_table(lake):
    """The tests below name every column of every mart; this pins that list to the tables."""
    for table, columns in MART_COLUMNS.items():
        got = [r[0] for r in query(lake, f"select column_name from information_schema.columns where "
                                         f"table_schema = 'gold' and table_name = '{table}' order by ordinal_position")]
        assert set(got) == set(columns), f"gold.{table}: {sorted(set(got) ^ set(columns))}"


# --- as-of date and the shared order table ----------------------------------------------------------

def test_as_of_is_the_latest_local_order_date(lake):
    # The latest order is O31 at 2024-02-21T00:30Z = 19:30 on 2024-02-20 in New York; the test-app
    # row at 2024-02-21T15:00Z is filtered in silver. Neither the UTC date nor the wall clock counts.
    assert query(lake, "select as_of, as_of_variable, data_first_order_date, data_last_order_date "
                       "from gold.as_of") == [(AS_OF, "latest", date(2022, 10, 8), AS_OF)]


def test_order_facts(lake):
    assert query(lake, "select count(*), count(distinct order_id) from gold.order_facts") == [(31, 31)]
    assert query(lake, f"select count(*) from gold.order_facts where order_id = '{order(32)}'") == [(0,)]  # test app
    got = {r[0]: r[1:] for r in query(lake, "select order_id, order_date, daypart, loyalty_group, is_guest, "
                                            "days_before_as_of, is_weekend from gold.order_facts")}
    # O26 is 2024-01-07T02:10Z: 21:10 on January 6 locally - Late, 45 days before as_of
    assert got[order(26)] == (date(2024, 1, 6), "Late", "member order", False, 45, True)
    # O30: a guest with a loyalty card is a member order
    assert got[order(30)] == (date(2024, 2, 6), "Breakfast", "member order", True, 14, False)
    assert got[order(31)] == (AS_OF, "Dinner", "guest", True, 0, False)
    assert got[order(18)] == (date(2024, 2, 18), "Afternoon", "member order", False, 2, True)
    assert got[order(24)] == (date(2023, 11, 22), "Afternoon", "non-member order", False, 90, False)
    assert got[order(13)] == (date(2023, 10, 5), "Breakfast", "non-member order", False, 138, False)
    assert got[order(12)] == (date(2023, 8, 24), "Lunch", "non-member order", False, 180, False)


# --- 1. Customer Lifetime Value -------------------------------------------------------------------

CLV_COLUMNS = ["as_of", "first_order_date", "last_order_date", "orders", "order_days", "lines", "items_revenue",
               "options_revenue", "total_revenue", "avg_order_value", "tenure_days", "max_orders_per_day",
               "is_suspected_bot", "revenue_percent_rank", "clv_tier", "clv_tier_excl_bots", "revenue_rank",
               "revenue_rank_excl_bots", "repeat_order_days", "recency_days", "avg_repeat_day_revenue"]
# the model's columns: null on this fixture (too few repeat customers to fit, see below)
CLV_MODEL_COLUMNS = ["clv_model", "p_alive", "expected_orders_365", "expected_orders_365_low",
                     "expected_orders_365_high", "expected_order_value", "predicted_clv_365", "predicted_clv_365_low",
                     "predicted_clv_365_high"]
# Ascending total revenue: C6 7.47, C5 9.09, C7 = C9 17.38, C8 19.87, C4 22.37, C3 40.25, C1 59.82,
# C2 63.72. percent_rank = (rank - 1) / 8: 0, 1/8, 2/8 (tie), 4/8, 5/8, 6/8, 7/8, 1.
# High >= 0.8: C1, C2; Low <= 0.2: C6, C5. Without the bot C6, (rank - 1) / 7: C5 0,
# C7 = C9 1/7 (Low), C8 3/7, C4 4/7, C3 5/7, C1 6/7, C2 1.
CLV = {
    # first, last, orders, order days, lines, items, options, total, AOV, tenure, max/day, bot, prank, tiers, ranks,
    # then the model summary: repeat order days = order days - 1, recency = last - first (days),
    # mean revenue of the repeat days = (total - first day's revenue) / repeat days
    #     C1 summary: first day O01 9.48; 2023-01-16 .. 2024-02-17 = 397 days
    # C1: items 5.99+2.49+9.89+6.49+7.49+9.89+7.49+6.49 = 56.22; options 1.00-1.00+1.00+1.60+1.00 = 3.60;
    #     AOV 59.82/6 = 9.97; tenure 2023-01-16 .. 2024-02-20 = 400; two orders on 2024-02-17
    "C1": (AS_OF, date(2023, 1, 16), date(2024, 2, 17), 6, 5, 8, "56.22", "3.60", "59.82", "9.97", 400, 2, False,
           7 / 8, "High", "High", 2, 2, 4, 397, 50.34 / 4),
    # C2: items 9.89+7.49+5.99+5.99+9.89+14.98+6.49 = 60.72; options 3 x 1.00; AOV 63.72/5 = 12.744
    "C2": (AS_OF, date(2023, 6, 15), date(2024, 2, 13), 5, 5, 7, "60.72", "3.00", "63.72", "12.74", 250, 1, False,
           1.0, "High", "High", 1, 1, 4, 243, (63.72 - 18.38) / 4),
    # C3: items 19.78+11.98+7.49 = 39.25 (line totals; never price x quantity); AOV 40.25/3 = 13.4166..
    "C3": (AS_OF, date(2023, 8, 24), date(2024, 1, 5), 3, 3, 3, "39.25", "1.00", "40.25", "13.42", 180, 1, False,
           6 / 8, "Medium", "Medium", 3, 3, 2, 134, (40.25 - 19.78) / 2),
    # C4: 9.89+5.99+6.49 = 22.37; AOV 7.4566..
    "C4": (AS_OF, date(2022, 10, 8), date(2023, 11, 21), 3, 3, 3, "22.37", "0.00", "22.37", "7.46", 500, 1, False,
           5 / 8, "Medium", "Medium", 4, 4, 2, 409, (22.37 - 9.89) / 2),
    "C5": (AS_OF, date(2024, 2, 18), date(2024, 2, 18), 1, 1, 1, "7.49", "1.60", "9.09", "9.09", 2, 1, False,
           1 / 8, "Low", "Low", 8, 8, 0, 0, None),
    # C6: 2.49+0.00+2.49+2.49 = 7.47 over 4 orders = 1.8675; three orders on 2024-01-26 > 2: suspected bot;
    #     summary: day 1 = O19+O20+O21 = 4.98, the repeat day O22 2.49
    "C6": (AS_OF, date(2024, 1, 26), date(2024, 2, 19), 4, 2, 4, "7.47", "0.00", "7.47", "1.87", 25, 3, True,
           0.0, "Low", None, 9, None, 1, 24, 2.49),
    "C7": (AS_OF, date(2023, 4, 26), date(2023, 11, 22), 2, 2, 2, "17.38", "0.00", "17.38", "8.69", 300, 1, False,
           2 / 8, "Medium", "Low", 6, 6, 1, 210, 7.49),
    # C8: 9.89 + 7.49 + 2.49 = 19.87 over 2 orders = 9.935 -> 9.94 (half up)
    "C8": (AS_OF, date(2023, 2, 20), date(2024, 1, 6), 2, 2, 3, "19.87", "0.00", "19.87", "9.94", 365, 1, False,
           4 / 8, "Medium", "Medium", 5, 5, 1, 320, 9.98),
    "C9": (AS_OF, date(2022, 12, 27), date(2022, 12, 27), 1, 1, 2, "17.38", "0.00", "17.38", "17.38", 420, 1, False,
           2 / 8, "Medium", "Low", 6, 6, 0, 0, None),
}


def test_customer_lifetime_value(lake):
    check_table(lake, "gold.customer_lifetime_value", ["user_id"], CLV_COLUMNS,
                {C[k]: v for k, v in CLV.items()})


def test_clv_model_too_little_data_publishes_nulls_and_says_why(lake):
    # 7 customers repeat, 6 without the suspected bot C6: far below min_repeat_customers (100), so
    # the historical columns publish, the predictive ones are null, and the run record says why
    nulls = query(lake, "select count(*) from gold.customer_lifetime_value where "
                        + " and ".join(f"{c} is null" for c in CLV_MODEL_COLUMNS))
    assert nulls == [(9,)]
    assert query(lake, "select count(*) from gold.churn_indicators "
                       "where p_alive is null and churn_risk_score is null") == [(9,)]
    records = sorted((lake / "_runs").glob("*.json"))
    record = json.loads(records[-1].read_text())
    spec = next(s for s in record["specs"] if s["spec"] == "gold.customer_lifetime_value")
    (report,) = spec["artefacts"]
    assert report["kind"] == "clv_model" and report["status"] == "not_fitted"
    assert report["purchase_model"]["converged"] is False and report["model_setting"] == "auto"
    assert "too little data: 6 repeat customer(s) of 8" in report["purchase_model"]["message"]
    assert report["model_reason"].startswith("no family could be fitted on the calibration window")
    assert report["excluded_from_fit"] == 1 and report["customers"] == 9
    assert report["summary"].startswith("clv_model not_fitted: BG/NBD not used (too little data")


COHORT_COLUMNS = ["month", "cohort_customers", "active_customers", "active_share", "revenue", "cumulative_revenue",
                  "cumulative_revenue_per_customer"]


def test_clv_cohort_curves(lake):
    # one customer per cohort (first order month): C4 2022-10, C9 2022-12, C1 2023-01, C8 2023-02,
    # C7 2023-04, C2 2023-06, C3 2023-08, C6 2024-01, C5 2024-02; every cohort runs to the as-of
    # month 2024-02: 17 + 15 + 14 + 13 + 11 + 9 + 7 + 2 + 1 rows, months without orders included
    assert query(lake, "select count(*) from gold.clv_cohort_curves") == [(89,)]
    assert query(lake, "select count(distinct cohort_month), min(cohort_customers), max(cohort_customers) "
                       "from gold.clv_cohort_curves") == [(9, 1, 1)]
    expected = {
        # C1: O01 9.48 in 2023-01; nothing until O06 7.49 in 2023-11 (month 10), O05 18.98 in 2023-12,
        # O02 8.89 in 2024-01, O03 + O04 = 14.98 in 2024-02
        ("2023-01-01", 0): (date(2023, 1, 1), 1, 1, 1.0, "9.48", "9.48", "9.48"),
        ("2023-01-01", 5): (date(2023, 6, 1), 1, 0, 0.0, "0.00", "9.48", "9.48"),
        ("2023-01-01", 10): (date(2023, 11, 1), 1, 1, 1.0, "7.49", "16.97", "16.97"),
        ("2023-01-01", 11): (date(2023, 12, 1), 1, 1, 1.0, "18.98", "35.95", "35.95"),
        ("2023-01-01", 13): (date(2024, 2, 1), 1, 1, 1.0, "14.98", "59.82", "59.82"),
        # C4: O15 9.89 in 2022-10, O16 5.99 in 2023-09 (month 11), O17 6.49 in 2023-11 (month 13)
        ("2022-10-01", 11): (date(2023, 9, 1), 1, 1, 1.0, "5.99", "15.88", "15.88"),
        ("2022-10-01", 16): (date(2024, 2, 1), 1, 0, 0.0, "0.00", "22.37", "22.37"),
        # C6 (the bot, kept): O19-O21 4.98 in 2024-01, O22 2.49 in 2024-02
        ("2024-01-01", 1): (date(2024, 2, 1), 1, 1, 1.0, "2.49", "7.47", "7.47"),
    }
    rows = query(lake, "select cast(cohort_month as varchar), months_since_first_order, "
                       + ", ".join(COHORT_COLUMNS) + " from gold.clv_cohort_curves")
    got = {(r[0], r[1]): r[2:] for r in rows}
    for key, want in expected.items():
        assert all(same(a, w) for a, w in zip(got[key], want)), (key, got[key], want)


# --- 2. Customer Segmentation & Behaviour -----------------------------------------------------------

SEGMENT_COLUMNS = ["as_of", "recency_days", "frequency", "monetary", "first_order_in_window", "r_score", "f_score",
                   "m_score", "rfm_cell", "segment", "orders", "preferred_daypart", "preferred_category",
                   "preferred_restaurant_id", "locations_visited", "loyalty_order_share", "weekend_order_share",
                   "avg_lines_per_order", "option_attach_rate", "paid_option_share", "is_suspected_bot"]
# Window = the 365 days ending at as_of (d0..d364).
# R: ntile(5) over 9 customers by recency descending, buckets of 2,2,2,2,1:
#    C9 420, C4 91 -> 1 | C7 90, C3 46 -> 2 | C8 45, C2 7 -> 3 | C1 3, C5 2 -> 4 | C6 1 -> 5.
# F: ntile(5) over the 8 customers with an order in the window (C9 has none: F = M = 1), buckets
#    2,2,2,1,1 by frequency: C5 1, C8 1 -> 1 | C4 2, C7 2 -> 2 | C3 3, C6 4 -> 3 | C1 5 -> 4 | C2 5 -> 5;
#    C1 and C2 tie at 5 orders, so both take the lower quintile: 4.
# M: by window revenue: C6 7.47, C5 9.09 -> 1 | C8 9.98, C4 12.48 -> 2 | C7 17.38, C3 40.25 -> 3 |
#    C1 50.34 -> 4 | C2 63.72 -> 5.
# Segments (first match): C1 444 Champions; C2 345 Loyal (F>=4); C3 233 At Risk (R<=2, F>=3);
#    C4 122, C7 223, C9 111 Hibernating; C5 411 New (first order d2 is inside the window);
#    C6 531 Promising (R>=4, F 2-3); C8 312 Need Attention (its first order, d365, is outside).
SEGMENTS = {
    # C1: 5 window orders (O01 is d400) = 59.82 - 9.48 = 50.34; dayparts B,L,B,D,L,B -> Breakfast 3;
    #     lines: Breakfast 3 (L01, L04, L08), Sandwiches 2, Smoothies 2, Drip Coffee 1; RA 4 orders vs RB 2;
    #     weekend: the two Saturday orders of 2024-02-17 of 6; 8 lines / 6 orders; options on 5 of 8
    #     lines; 7 options of which 5 paid (the coupon and "No Onion" are not).
    "C1": (AS_OF, 3, 5, "50.34", False, 4, 4, 4, "444", "Champions", 6, "Breakfast", "Breakfast", RA, 2,
           1.0, 2 / 6, 8 / 6, 5 / 8, 5 / 7, False),
    # C2: dayparts L,B,B,L,B -> Breakfast; lines Breakfast 3, Sandwiches 2, Smoothies 2; RA 3 vs RB 2;
    #     loyal 2/5; weekend Sat 09-23 and Sun 11-12: 2/5; 7 lines / 5; options on L10, L12, L39 of 7 lines;
    #     4 options (Add Protein, No Ice, Add Egg, Add Protein), 3 paid
    "C2": (AS_OF, 7, 5, "63.72", True, 3, 4, 5, "345", "Loyal", 5, "Breakfast", "Breakfast", RA, 2,
           0.4, 0.4, 1.4, 3 / 7, 0.75, False),
    # C3: one order per daypart, category and location: the tie goes to more revenue -> the 19.78
    #     Sandwiches lunch at RC
    "C3": (AS_OF, 46, 3, "40.25", True, 2, 3, 3, "233", "At Risk", 3, "Lunch", "Sandwiches", RC, 3,
           0.0, 0.0, 1.0, 1 / 3, 1.0, False),
    # C4: window orders O16, O17 = 5.99 + 6.49; O15 was on Saturday 2022-10-08; no options
    "C4": (AS_OF, 91, 2, "12.48", False, 1, 2, 2, "122", "Hibernating", 3, "Breakfast", "Breakfast", RA, 2,
           0.0, 1 / 3, 1.0, 0.0, None, False),
    "C5": (AS_OF, 2, 1, "9.09", True, 4, 1, 1, "411", "New", 1, "Afternoon", "Smoothies", RB, 1,
           1.0, 1.0, 1.0, 1.0, 1.0, False),
    "C6": (AS_OF, 1, 4, "7.47", True, 5, 3, 1, "531", "Promising", 4, "Breakfast", "Drip Coffee", RA, 1,
           0.0, 0.0, 1.0, 0.0, None, True),
    # C7: Lunch 9.89 at RC vs Afternoon 7.49 at RB: revenue breaks the tie
    "C7": (AS_OF, 90, 2, "17.38", True, 2, 2, 3, "223", "Hibernating", 2, "Lunch", "Sandwiches", RC, 2,
           0.5, 0.0, 1.0, 0.0, None, False),
    # C8: Lunch 9.89 (RB) vs Late 9.98 (RA) -> Late, RA; lines one each -> Sandwiches 9.89; 3 lines / 2;
    #     one option (No Mayo, free) on 3 lines
    "C8": (AS_OF, 45, 1, "9.98", False, 3, 1, 2, "312", "Need Attention", 2, "Late", "Sandwiches", RA, 2,
           0.5, 0.5, 1.5, 1 / 3, 0.0, False),
    "C9": (AS_OF, 420, 0, "0.00", False, 1, 1, 1, "111", "Hibernating", 1, "Lunch", "Sandwiches", RC, 1,
           0.0, 0.0, 2.0, 0.0, None, False),
}


def test_customer_segments(lake):
    check_table(lake, "gold.customer_segments", ["user_id"], SEGMENT_COLUMNS,
                {C[k]: v for k, v in SEGMENTS.items()})


# --- 3. Churn Indicators ---------------------------------------------------------------------------

CHURN_COLUMNS = ["as_of", "last_order_date", "days_since_last_order", "churn_status", "rule_status", "order_days",
                 "avg_days_between_orders", "stddev_days_between_orders", "overdue_ratio", "orders_last_90d",
                 "revenue_last_90d", "revenue_prev_90d", "spend_change_pct", "revenue_last_365d",
                 "revenue_prev_365d", "yoy_revenue_change_pct", "is_suspected_bot"]
# null on this fixture (see test_clv_model_too_little_data…): churn_status is then the rule's
CHURN_MODEL_COLUMNS = ["clv_model", "p_alive", "churn_risk_score", "churn_status_basis"]
# Last 90 days = d0..d89, previous 90 = d90..d179, last year d0..d364, the year before d365..d729.
CHURN = {
    # gaps between order days d400, d84, d70, d20, d3: 316, 14, 50, 17 -> mean 99.25;
    # squared deviations 216.75² + 85.25² + 49.25² + 82.25² = 63438.75
    # year: 50.34 vs O01 9.48 -> 40.86 / 9.48
    "C1": (AS_OF, date(2024, 2, 17), 3, "active", "active", 5, 99.25, math.sqrt(63438.75 / 4), 3 / 99.25, 5, "50.34",
           "0.00", None, "50.34", "9.48", 40.86 / 9.48 * 100, False),
    # d250, d150, d130, d100, d7: gaps 100, 20, 30, 93 -> 60.75; squares 39.25² + 40.75² + 30.75² + 32.25²
    # = 5186.75; last 90: O11 6.49; previous: O10 25.87 + O09 6.99 + O08 5.99 = 38.85
    "C2": (AS_OF, date(2024, 2, 13), 7, "active", "active", 5, 60.75, math.sqrt(5186.75 / 4), 7 / 60.75, 1, "6.49",
           "38.85", (6.49 - 38.85) / 38.85 * 100, "63.72", "0.00", None, False),
    # d180, d138, d46: gaps 42, 92; previous 90: O13 12.98 (O12 at d180 is outside); 46 > 45: at risk
    "C3": (AS_OF, date(2024, 1, 5), 46, "at_risk", "at_risk", 3, 67.0, 25.0, 46 / 67, 1, "7.49", "12.98",
           (7.49 - 12.98) / 12.98 * 100, "40.25", "0.00", None, False),
    # d500, d158, d91: gaps 342, 67; O17 (d91) and O16 (d158) are the previous 90 days; 91 > 90: churned
    "C4": (AS_OF, date(2023, 11, 21), 91, "churned", "churned", 3, 204.5, 137.5, 91 / 204.5, 0, "0.00", "12.48", -100.0,
           "12.48", "9.89", (12.48 - 9.89) / 9.89 * 100, False),
    "C5": (AS_OF, date(2024, 2, 18), 2, "active", "active", 1, None, None, None, 1, "9.09", "0.00", None, "9.09", "0.00",
           None, False),
    "C6": (AS_OF, date(2024, 2, 19), 1, "active", "active", 2, 24.0, 0.0, 1 / 24, 4, "7.47", "0.00", None, "7.47", "0.00",
           None, True),
    # d90 is still at risk (<= 90) and falls in the previous 90 days, not the last
    "C7": (AS_OF, date(2023, 11, 22), 90, "at_risk", "at_risk", 2, 210.0, 0.0, 90 / 210, 0, "0.00", "7.49", -100.0,
           "17.38", "0.00", None, False),
    # d45 is still active (<= 45); measured on the UTC date (2024-01-07) it would be 44
    "C8": (AS_OF, date(2024, 1, 6), 45, "active", "active", 2, 320.0, 0.0, 45 / 320, 1, "9.98", "0.00", None, "9.98",
           "9.89", (9.98 - 9.89) / 9.89 * 100, False),
    "C9": (AS_OF, date(2022, 12, 27), 420, "churned", "churned", 1, None, None, None, 0, "0.00", "0.00", None, "0.00",
           "17.38", -100.0, False),
}


def test_churn_indicators(lake):
    check_table(lake, "gold.churn_indicators", ["user_id"], CHURN_COLUMNS, {C[k]: v for k, v in CHURN.items()})
    assert query(lake, "select distinct churn_status_basis from gold.churn_indicators") == [("rule only (no model risk)",)]


# --- 4. Sales Trends -------------------------------------------------------------------------------

SALES_COLUMNS = ["as_of", "orders", "lines", "units", "items_revenue", "options_revenue", "revenue", "bulk_revenue",
                 "customers", "guest_orders", "loyalty_orders", "year", "month", "iso_week", "day_of_week",
                 "is_weekend", "is_holiday", "holiday_name"]
# order_date, restaurant, category: orders, lines, units, items, options, revenue, bulk, customers,
# guest orders, loyalty orders (one line per row unless noted)
SALES = {
    ("2022-10-08", RC, "Sandwiches"): (1, 1, 1, "9.89", "0.00", "9.89", "0.00", 1, 0, 0),       # O15 C4
    ("2022-12-27", RC, "Sandwiches"): (1, 1, 1, "9.89", "0.00", "9.89", "0.00", 1, 0, 0),       # O27 C9
    ("2022-12-27", RC, "Smoothies"): (1, 1, 1, "7.49", "0.00", "7.49", "0.00", 1, 0, 0),
    ("2023-01-16", RA, "Breakfast"): (1, 1, 1, "5.99", "1.00", "6.99", "0.00", 1, 0, 1),        # O01 C1
    ("2023-01-16", RA, "Drip Coffee"): (1, 1, 1, "2.49", "0.00", "2.49", "0.00", 1, 0, 1),
    ("2023-02-20", RB, "Sandwiches"): (1, 1, 1, "9.89", "0.00", "9.89", "0.00", 1, 0, 0),       # O25 C8
    ("2023-04-26", RC, "Sandwiches"): (1, 1, 1, "9.89", "0.00", "9.89", "0.00", 1, 0, 1),       # O23 C7
    ("2023-06-15", RB, "Sandwiches"): (1, 1, 1, "9.89", "0.00", "9.89", "0.00", 1, 0, 0),       # O07 C2
    ("2023-06-15", RB, "Smoothies"): (1, 1, 1, "7.49", "1.00", "8.49", "0.00", 1, 0, 0),
    ("2023-08-24", RC, "Sandwiches"): (1, 1, 2, "19.78", "0.00", "19.78", "0.00", 1, 0, 0),     # O12 C3 x2
    ("2023-09-15", RA, "Breakfast"): (1, 1, 1, "5.99", "0.00", "5.99", "0.00", 1, 0, 0),        # O16 C4
    ("2023-09-23", RA, "Breakfast"): (1, 1, 1, "5.99", "0.00", "5.99", "0.00", 1, 0, 0),        # O08 C2
    ("2023-10-05", RA, "Breakfast"): (1, 1, 2, "11.98", "1.00", "12.98", "0.00", 1, 0, 0),      # O13 C3 x2
    ("2023-10-13", RA, "Breakfast"): (1, 1, 1, "5.99", "1.00", "6.99", "0.00", 1, 0, 1),        # O09 C2
    ("2023-10-23", RA, "Bowls"): (1, 1, 100, "750.00", "0.00", "750.00", "750.00", 0, 1, 0),    # O29 bulk
    ("2023-11-12", RB, "Sandwiches"): (1, 1, 1, "9.89", "0.00", "9.89", "0.00", 1, 0, 1),       # O10 C2
    ("2023-11-12", RB, "Smoothies"): (1, 1, 2, "14.98", "1.00", "15.98", "0.00", 1, 0, 1),
    ("2023-11-21", RA, "Breakfast"): (1, 1, 1, "6.49", "0.00", "6.49", "0.00", 1, 0, 0),        # O17 C4
    ("2023-11-22", RB, "Smoothies"): (1, 1, 1, "7.49", "0.00", "7.49", "0.00", 1, 0, 0),        # O24 C7
    ("2023-11-28", RA, "Breakfast"): (1, 1, 1, "6.49", "1.00", "7.49", "0.00", 1, 0, 1),        # O06 C1
    ("2023-12-12", RB, "Sandwiches"): (1, 1, 1, "9.89", "0.00", "9.89", "0.00", 1, 0, 1),       # O05 C1
    ("2023-12-12", RB, "Smoothies"): (1, 1, 1, "7.49", "1.60", "9.09", "0.00", 1, 0, 1),
    ("2023-12-22", RB, "Sandwiches"): (1, 1, 1, "9.89", "0.00", "9.89", "0.00", 0, 1, 0),       # O28 guest
    ("2023-12-22", RB, "Drip Coffee"): (1, 1, 2, "4.98", "0.00", "4.98", "0.00", 0, 1, 0),
    ("2024-01-05", RB, "Smoothies"): (1, 1, 1, "7.49", "0.00", "7.49", "0.00", 1, 0, 0),        # O14 C3
    ("2024-01-06", RA, "Smoothies"): (1, 1, 1, "7.49", "0.00", "7.49", "0.00", 1, 0, 1),        # O26 C8
    ("2024-01-06", RA, "Drip Coffee"): (1, 1, 1, "2.49", "0.00", "2.49", "0.00", 1, 0, 1),
    ("2024-01-26", RA, "Drip Coffee"): (3, 3, 3, "4.98", "0.00", "4.98", "0.00", 1, 0, 0),      # O19-O21 C6
    ("2024-01-31", RB, "Sandwiches"): (1, 1, 1, "9.89", "-1.00", "8.89", "0.00", 1, 0, 1),      # O02 coupon
    ("2024-02-06", RA, "Breakfast"): (1, 1, 1, "6.49", "0.00", "6.49", "0.00", 0, 1, 1),        # O30 guest+card
    ("2024-02-13", RA, "Breakfast"): (1, 1, 1, "6.49", "0.00", "6.49", "0.00", 1, 0, 0),        # O11 C2
    ("2024-02-17", RA, "Breakfast"): (1, 1, 1, "6.49", "0.00", "6.49", "0.00", 1, 0, 1),        # O03 C1
    ("2024-02-17", RA, "Smoothies"): (1, 1, 1, "7.49", "1.00", "8.49", "0.00", 1, 0, 1),        # O04 C1
    ("2024-02-18", RB, "Smoothies"): (1, 1, 1, "7.49", "1.60", "9.09", "0.00", 1, 0, 1),        # O18 C5
    ("2024-02-19", RA, "Drip Coffee"): (1, 1, 1, "2.49", "0.00", "2.49", "0.00", 1, 0, 0),      # O22 C6
    ("2024-02-20", RB, "Smoothies"): (1, 1, 1, "7.49", "0.00", "7.49", "0.00", 0, 1, 0),        # O31 guest
    ("2024-02-20", RB, "Bowls"): (1, 1, 1, "7.50", "0.00", "7.50", "0.00", 0, 1, 0),
}
# date: year, month, ISO week, day, weekend, holiday, name. 2023 dates come from the real date_dim
# as shipped; the others are generated (2024-02-19 is the third Monday of February).
CALENDAR = {
    "2022-10-08": (2022, 10, 40, "Saturday", True, False, None),
    "2022-12-27": (2022, 12, 52, "Tuesday", False, False, None),  # Christmas 2022 was observed on the 26th
    "2023-01-16": (2023, 1, 3, "Monday", False, True, "Martin Luther King Jr."),
    "2023-02-20": (2023, 2, 8, "Monday", False, True, "Washington's Birthday"),
    "2023-04-26": (2023, 4, 17, "Wednesday", False, False, None),
    "2023-06-15": (2023, 6, 24, "Thursday", False, False, None),
    "2023-08-24": (2023, 8, 34, "Thursday", False, False, None),
    "2023-09-15": (2023, 9, 37, "Friday", False, False, None),
    "2023-09-23": (2023, 9, 38, "Saturday", True, False, None),
    "2023-10-05": (2023, 10, 40, "Thursday", False, False, None),
    "2023-10-13": (2023, 10, 41, "Friday", False, False, None),
    "2023-10-23": (2023, 10, 43, "Monday", False, False, None),
    "2023-11-12": (2023, 11, 45, "Sunday", True, False, None),
    "2023-11-21": (2023, 11, 47, "Tuesday", False, False, None),
    "2023-11-22": (2023, 11, 47, "Wednesday", False, False, None),
    "2023-11-28": (2023, 11, 48, "Tuesday", False, False, None),
    "2023-12-12": (2023, 12, 50, "Tuesday", False, False, None),
    "2023-12-22": (2023, 12, 51, "Friday", False, False, None),
    "2024-01-05": (2024, 1, 1, "Friday", False, False, None),
    "2024-01-06": (2024, 1, 1, "Saturday", True, False, None),
    "2024-01-26": (2024, 1, 4, "Friday", False, False, None),
    "2024-01-31": (2024, 1, 5, "Wednesday", False, False, None),
    "2024-02-06": (2024, 2, 6, "Tuesday", False, False, None),
    "2024-02-13": (2024, 2, 7, "Tuesday", False, False, None),
    "2024-02-17": (2024, 2, 7, "Saturday", True, False, None),
    "2024-02-18": (2024, 2, 7, "Sunday", True, False, None),
    "2024-02-19": (2024, 2, 8, "Monday", False, True, "Washington's Birthday"),
    "2024-02-20": (2024, 2, 8, "Tuesday", False, False, None),
}


def test_sales_trends(lake):
    expected = {(date.fromisoformat(d), r, c): (AS_OF, *v, *CALENDAR[d]) for (d, r, c), v in SALES.items()}
    check_table(lake, "gold.sales_trends", ["order_date", "restaurant_id", "item_category"], SALES_COLUMNS, expected)


def test_sales_trends_add_up_to_the_whole_revenue(lake):
    # Σ of the hand-computed rows above: the fixture's revenue, 1,043.70 = 1,034.50 items + 9.20 options
    assert sum(Decimal(v[5]) for v in SALES.values()) == Decimal("1043.70")
    assert query(lake, "select sum(items_revenue), sum(options_revenue), sum(revenue), sum(lines) "
                       "from gold.sales_trends") == [(Decimal("1034.50"), Decimal("9.20"), Decimal("1043.70"), 39)]


# --- 5. Loyalty Program Impact ----------------------------------------------------------------------

LOYALTY_CUSTOMER_COLUMNS = ["as_of", "loyalty_class", "orders", "loyalty_orders", "non_loyalty_orders",
                            "loyalty_switches", "first_order_at", "first_loyalty_order_at", "first_loyalty_order_date",
                            "first_non_loyalty_order_at"]
LOYALTY_CUSTOMERS = {
    "C1": (AS_OF, "always member", 6, 6, 0, 0, utc("2023-01-16T13:30:00.123"), utc("2023-01-16T13:30:00.123"),
           date(2023, 1, 16), None),
    # N N L L N: two switches, one class - joined (first loyalty order after a non-loyalty one)
    "C2": (AS_OF, "joined", 5, 2, 3, 2, utc("2023-06-15T16:30:00.111"), utc("2023-10-13T13:10:00.333"),
           date(2023, 10, 13), utc("2023-06-15T16:30:00.111")),
    "C3": (AS_OF, "never member", 3, 0, 3, 0, utc("2023-08-24T17:00:00.5"), None, None, utc("2023-08-24T17:00:00.5")),
    "C4": (AS_OF, "never member", 3, 0, 3, 0, utc("2022-10-08T15:20:00.888"), None, None,
           utc("2022-10-08T15:20:00.888")),
    "C5": (AS_OF, "always member", 1, 1, 0, 0, utc("2024-02-18T19:30:00.2"), utc("2024-02-18T19:30:00.2"),
           date(2024, 2, 18), None),
    "C6": (AS_OF, "never member", 4, 0, 4, 0, utc("2024-01-26T12:00:00.010"), None, None,
           utc("2024-01-26T12:00:00.010")),
    # L then N: first order with a card, a later one without
    "C7": (AS_OF, "lapsed member", 2, 1, 1, 1, utc("2023-04-26T16:00:00.050"), utc("2023-04-26T16:00:00.050"),
           date(2023, 4, 26), utc("2023-11-22T21:00:00.060")),
    # enrolled at 2024-01-07T02:10Z, a local date of 2024-01-06
    "C8": (AS_OF, "joined", 2, 1, 1, 1, utc("2023-02-20T17:10:00.070"), utc("2024-01-07T02:10:00.080"),
           date(2024, 1, 6), utc("2023-02-20T17:10:00.070")),
    "C9": (AS_OF, "never member", 1, 0, 1, 0, utc("2022-12-27T17:00:00.090"), None, None,
           utc("2022-12-27T17:00:00.090")),
}


def test_customer_loyalty(lake):
    check_table(lake, "gold.customer_loyalty", ["user_id"], LOYALTY_CUSTOMER_COLUMNS,
                {C[k]: v for k, v in LOYALTY_CUSTOMERS.items()})


LOYALTY_IMPACT_COLUMNS = ["as_of", "orders", "customers", "revenue", "avg_order_value", "lines_per_order",
                          "order_share"]
# month, group: orders, customers, revenue, AOV, lines per order, share of the month's orders
LOYALTY_IMPACT = {
    ("2022-10-01", "non-member order"): (1, 1, "9.89", "9.89", 1.0, 1.0),           # O15
    ("2022-12-01", "non-member order"): (1, 1, "17.38", "17.38", 2.0, 1.0),         # O27
    ("2023-01-01", "member order"): (1, 1, "9.48", "9.48", 2.0, 1.0),               # O01
    ("2023-02-01", "non-member order"): (1, 1, "9.89", "9.89", 1.0, 1.0),           # O25
    ("2023-04-01", "member order"): (1, 1, "9.89", "9.89", 1.0, 1.0),               # O23
    ("2023-06-01", "non-member order"): (1, 1, "18.38", "18.38", 2.0, 1.0),         # O07
    ("2023-08-01", "non-member order"): (1, 1, "19.78", "19.78", 1.0, 1.0),         # O12
    ("2023-09-01", "non-member order"): (2, 2, "11.98", "5.99", 1.0, 1.0),          # O08 C2, O16 C4
    ("2023-10-01", "member order"): (1, 1, "6.99", "6.99", 1.0, 1 / 3),             # O09 C2 joins
    ("2023-10-01", "non-member order"): (1, 1, "12.98", "12.98", 1.0, 1 / 3),       # O13
    ("2023-10-01", "guest"): (1, 0, "750.00", "750.00", 1.0, 1 / 3),                # O29
    ("2023-11-01", "member order"): (2, 2, "33.36", "16.68", 1.5, 0.5),             # O06 7.49, O10 25.87
    ("2023-11-01", "non-member order"): (2, 2, "13.98", "6.99", 1.0, 0.5),          # O17 6.49, O24 7.49
    ("2023-12-01", "member order"): (1, 1, "18.98", "18.98", 2.0, 0.5),             # O05
    ("2023-12-01", "guest"): (1, 0, "14.87", "14.87", 2.0, 0.5),                    # O28
    ("2024-01-01", "member order"): (2, 2, "18.87", "9.44", 1.5, 2 / 6),            # O02 8.89, O26 9.98; 9.435
    ("2024-01-01", "non-member order"): (4, 2, "12.47", "3.12", 1.0, 4 / 6),        # O14 C3, O19-O21 C6; 3.1175
    # O03 6.49 + O04 8.49 (C1), O18 9.09 (C5), O30 6.49 (guest with a card: no customer) = 30.56
    ("2024-02-01", "member order"): (4, 2, "30.56", "7.64", 1.0, 4 / 7),
    ("2024-02-01", "non-member order"): (2, 2, "8.98", "4.49", 1.0, 2 / 7),         # O11 C2, O22 C6
    ("2024-02-01", "guest"): (1, 0, "14.99", "14.99", 2.0, 1 / 7),                  # O31
}


def test_loyalty_impact(lake):
    check_table(lake, "gold.loyalty_impact", ["order_month", "loyalty_group"], LOYALTY_IMPACT_COLUMNS,
                {(date.fromisoformat(m), g): (AS_OF, *v) for (m, g), v in LOYALTY_IMPACT.items()})


CLASS_COLUMNS = ["as_of", "customers", "orders", "revenue", "avg_clv", "avg_orders", "avg_order_value",
                 "repeat_rate", "retention_eligible_customers", "retention_90d", "customer_share"]
# Retention: eligible when the first order is >= 90 days before as_of; retained when another order
# day follows within 90 days. Only C3 (2023-08-24 then 2023-10-05, 42 days) is retained; C2's
# second order came 100 days after the first.
CLASSES = {
    # C1 59.82 + C5 9.09 = 68.91 over 7 orders; avg CLV 34.455; C5 (d2) not eligible
    "always member": (AS_OF, 2, 7, "68.91", "34.46", 3.5, "9.84", 0.5, 1, 0.0, 2 / 9),
    # C2 63.72 + C8 19.87 = 83.59 over 7 orders; avg CLV 41.795; both repeat
    "joined": (AS_OF, 2, 7, "83.59", "41.80", 3.5, "11.94", 1.0, 2, 0.0, 2 / 9),
    # C3 40.25 + C4 22.37 + C6 7.47 + C9 17.38 = 87.47 over 11 orders; C9 one day; C6 (d25) not eligible
    "never member": (AS_OF, 4, 11, "87.47", "21.87", 2.75, "7.95", 0.75, 3, 1 / 3, 4 / 9),
    "lapsed member": (AS_OF, 1, 2, "17.38", "17.38", 2.0, "8.69", 1.0, 1, 0.0, 1 / 9),
}


def test_loyalty_customer_classes(lake):
    check_table(lake, "gold.loyalty_customer_classes", ["customer_class"], CLASS_COLUMNS, CLASSES)


LIFT_COLUMNS = ["as_of", "enrolled_at", "enrollment_date", "window_days", "orders_before", "orders_after",
                "revenue_before", "revenue_after", "orders_per_30d_before", "orders_per_30d_after",
                "frequency_change", "aov_before", "aov_after", "aov_change", "after_window_complete"]
LIFT = {
    # enrolled with O09 2023-10-13T13:10Z. Before (the 90 days up to it): O08 5.99 (O07 is 120 days
    # before). After (the 90 days from it, O09 itself not counted): O10 25.87 (O11 is 123 days after).
    # 2023-10-13 + 90 = 2024-01-11 <= as_of: complete.
    "C2": (AS_OF, utc("2023-10-13T13:10:00.333"), date(2023, 10, 13), 90, 1, 1, "5.99", "25.87", 1 / 3, 1 / 3, 0.0,
           "5.99", "25.87", "19.88", True),
    # enrolled with O26; its only other order (O25) is 320 days earlier; 2024-01-06 + 90 > as_of
    "C8": (AS_OF, utc("2024-01-07T02:10:00.080"), date(2024, 1, 6), 90, 0, 0, "0.00", "0.00", 0.0, 0.0, 0.0,
           None, None, None, False),
}


def test_loyalty_enrollment_lift(lake):
    check_table(lake, "gold.loyalty_enrollment_lift", ["user_id"], LIFT_COLUMNS, {C[k]: v for k, v in LIFT.items()})


def test_switchers_are_counted_once_per_class(lake):
    # C2 switched twice and C7 once; each customer is in exactly one class and the classes add up
    assert query(lake, "select sum(customers) from gold.loyalty_customer_classes") == [(9,)]
    classes = dict(query(lake, "select user_id, loyalty_class from gold.customer_loyalty"))
    assert classes[C["C2"]] == "joined" and classes[C["C7"]] == "lapsed member"
    # by month, loyalty belongs to the order: C2 is a non-member in September 2023 and a member in
    # October; in February 2024 (O11, no card) a non-member again
    sept = query(lake, "select loyalty_group, customers from gold.loyalty_impact where order_month = '2023-09-01'")
    assert sept == [("non-member order", 2)]


# --- 6. Top-Performing Locations ------------------------------------------------------------------

LOCATION_COLUMNS = ["as_of", "status", "revenue", "orders", "customers", "guest_order_share", "avg_order_value",
                    "revenue_share", "active_days", "revenue_per_active_day", "repeat_customer_rate",
                    "loyalty_order_share", "first_order_date", "last_order_date", "orders_last_90d",
                    "revenue_last_90d", "revenue_prev_90d", "growth_90d_pct", "rank_revenue", "rank_aov",
                    "rank_growth"]
LOCATIONS = {
    # RA: C1 9.48+6.49+8.49+7.49 = 31.95, C2 5.99+6.99+6.49 = 19.47, C3 12.98, C4 5.99+6.49 = 12.48,
    # C6 7.47, C8 9.98, guests 750.00 + 6.49 -> 850.82 over 17 orders on 14 days; 6 customers of whom
    # C1, C2, C4, C6 came back on another day; cards on O01, O03, O04, O06, O09, O26, O30 = 7.
    # Last 90 days (d0-d89): O03, O04, O06, O11, O19-O21, O22, O26, O30 = 52.90;
    # previous (d90-d179): O08, O09, O13, O16, O17, O29 = 788.44 (the bulk order)
    RA: (AS_OF, "active", "850.82", 17, 6, 2 / 17, "50.05", 850.82 / 1043.70, 14, "60.77", 4 / 6, 7 / 17,
         date(2023, 1, 16), date(2024, 2, 19), 10, "52.90", "788.44", (52.90 - 788.44) / 788.44 * 100, 1, 1, 2),
    # RB: O02 8.89, O05 18.98, O07 18.38, O10 25.87, O14 7.49, O18 9.09, O24 7.49, O25 9.89, O28 14.87,
    # O31 14.99 = 135.94 over 10 orders and 10 days; customers C1, C2, C3, C5, C7, C8 (C1, C2 twice);
    # last 90: O02, O05, O14, O18, O28, O31 = 74.31; previous: O10 (d100), O24 (d90) = 33.36
    RB: (AS_OF, "active", "135.94", 10, 6, 0.2, "13.59", 135.94 / 1043.70, 10, "13.59", 2 / 6, 0.4,
         date(2023, 2, 20), AS_OF, 6, "74.31", "33.36", (74.31 - 33.36) / 33.36 * 100, 2, 3, 1),
    # RC: O12 19.78, O15 9.89, O23 9.89, O27 17.38 = 56.94; last order d180 - inactive, no growth rank
    RC: (AS_OF, "inactive", "56.94", 4, 4, 0.0, "14.24", 56.94 / 1043.70, 4, "14.24", 0.0, 0.25,
         date(2022, 10, 8), date(2023, 8, 24), 0, "0.00", "0.00", None, 3, 2, None),
}


def test_location_performance(lake):
    check_table(lake, "gold.location_performance", ["restaurant_id"], LOCATION_COLUMNS, LOCATIONS)


# --- 7. Pricing & Discount Effectiveness ------------------------------------------------------------

PRICING_COLUMNS = ["as_of", "lines", "units", "items_revenue", "options_revenue", "revenue", "zero_price_lines",
                   "bulk_lines", "discount_lines", "discount_amount", "has_discount_signal", "priced_lines",
                   "avg_unit_price", "min_unit_price", "max_unit_price", "price_points", "option_attach_rate",
                   "paid_option_attach_rate", "option_upsell_revenue", "avg_paid_option_value",
                   "price_change_events", "elasticity_events", "price_elasticity"]
PRICING = {
    # 4 lines at 5.99, 5 at 6.49, one 11.98 x2: 68.39 for 11 units = 6.21727..; Add Egg on 4 lines
    (BEC, "Breakfast"): (AS_OF, 10, 11, "68.39", "4.00", "72.39", 0, 0, 0, "0.00", True, 10, "6.2173", "5.99",
                         "6.49", 2, 0.4, 0.4, "4.00", "1.00", 1, 1, -4.992),
    # 5 lines at 2.49, one 4.98 x2, one $0 comp (not a price point): 17.43 for 7 priced units
    (COF, "Drip Coffee"): (AS_OF, 7, 8, "17.43", "0.00", "17.43", 1, 0, 0, "0.00", True, 6, "2.49", "2.49", "2.49",
                           1, 0.0, 0.0, "0.00", None, 0, 0, None),
    # 9 lines at 9.89 and one 19.78 x2; the coupon (-1.00) is the one discount; No Mayo is free
    (CT, "Sandwiches"): (AS_OF, 10, 11, "108.79", "-1.00", "107.79", 0, 0, 1, "1.00", True, 10, "9.89", "9.89",
                         "9.89", 1, 0.2, 0.0, "0.00", None, 0, 0, None),
    # 9 lines at 7.49 and one 14.98 x2 ("GREEN MACHINE" included); paid options 1.00 + 1.00+0.60 + 1.00
    # + 1.00+0.60 + 1.00 = 6.20 over 7 paid options = 0.8857..
    (GM, "Smoothies"): (AS_OF, 10, 11, "82.39", "6.20", "88.59", 0, 0, 0, "0.00", True, 10, "7.49", "7.49", "7.49",
                        1, 0.5, 0.5, "6.20", "0.89", 0, 0, None),
    # the 750.00 x100 catering line counts in revenue and units, not in unit-price statistics
    (CCB, "Bowls"): (AS_OF, 2, 101, "757.50", "0.00", "757.50", 0, 1, 0, "0.00", True, 1, "7.50", "7.50", "7.50",
                     1, 0.0, 0.0, "0.00", None, 0, 0, None),
}


def test_pricing_effectiveness(lake):
    check_table(lake, "gold.pricing_effectiveness", ["item_name_normalized", "item_category"], PRICING_COLUMNS,
                PRICING)


EVENT_COLUMNS = ["as_of", "previous_month", "old_price", "new_price", "event_date", "units_before", "units_after",
                 "units_per_week_before", "units_per_week_after", "pct_change_units", "pct_change_price",
                 "price_elasticity", "after_window_complete"]
# BEC at RA: modal unit price 5.99 in October 2023 (O09, O13), 6.49 in November (O17, O06); the first
# 6.49 sale is O17 on 2023-11-21. 8 weeks before (2023-09-26..2023-11-20): O13 2 units + O09 1 = 3
# (O08 on 09-23 is earlier); 8 weeks from it (2023-11-21..2024-01-15): O17 + O06 = 2.
# Arc: units (2 - 3) / 2.5 = -40%; price 0.50 / 6.24 = 8.0128..%; elasticity -0.4 x 6.24 / 0.5 = -4.992.
# No other item changes its modal price between consecutive months.
EVENTS = {
    (BEC, "Breakfast", RA, date(2023, 11, 1)): (AS_OF, date(2023, 10, 1), "5.99", "6.49", date(2023, 11, 21), 3, 2,
                                                0.375, 0.25, -40.0, 0.50 / 6.24 * 100, -4.992, True),
}


def test_price_change_events(lake):
    check_table(lake, "gold.price_change_events", ["item_name_normalized", "item_category", "restaurant_id",
                                                   "event_month"], EVENT_COLUMNS, EVENTS)


# --- the original design's mistakes, each pinned on this fixture --------------------------------------

def test_mistake_price_times_quantity(lake):
    # item_price is the line total: x quantity counts 19.78, 11.98, 4.98, 14.98 twice and 750.00 a
    # hundred times: 1,034.50 + 19.78 + 11.98 + 4.98 + 14.98 + 74,250.00 = 75,336.22
    assert query(lake, "select sum(item_price * item_quantity) from silver.order_items") == [(Decimal("75336.22"),)]
    # customers 248.15 + guests 786.35 (750.00 + 6.49 + 9.89 + 4.98 + 7.49 + 7.50)
    assert query(lake, "select sum(items_revenue) from gold.customer_lifetime_value") == [(Decimal("248.15"),)]
    assert query(lake, "select sum(items_revenue) from gold.pricing_effectiveness") == [(Decimal("1034.50"),)]


def test_mistake_options_joined_on_order_id_alone(lake):
    # Joined on order_id only, an order's options repeat once per line of the order: O01 (2 lines,
    # 1.00), O05 (2 lines, 1.60), O07 (2 lines, 1.00), O10 (2 lines, 1.00) count twice:
    # 9.20 + 1.00 + 1.60 + 1.00 + 1.00 = 13.80
    wrong = query(lake, "select sum(o.option_price * o.option_quantity) from silver.order_items i "
                        "join silver.order_item_options o on o.order_id = i.order_id")
    assert wrong == [(Decimal("13.80"),)]
    assert query(lake, "select sum(options_revenue) from gold.sales_trends") == [(Decimal("9.20"),)]
    assert query(lake, "select sum(options_revenue) from gold.customer_lifetime_value") == [(Decimal("9.20"),)]


def test_mistake_inner_join_drops_orders_without_options(lake):
    # only 11 of the 31 orders have an option (O01, O02, O04, O05, O06, O07, O09, O10, O13, O18, O25)
    wrong = query(lake, "select count(distinct i.order_id) from silver.order_items i join silver.order_item_options o "
                        "on o.order_id = i.order_id and o.lineitem_id = i.lineitem_id")
    assert wrong == [(11,)]
    assert query(lake, "select sum(orders) from gold.location_performance") == [(31,)]
    assert query(lake, "select sum(revenue) from gold.location_performance") == [(Decimal("1043.70"),)]


def test_mistake_churn_case_with_identical_branches(lake):
    # every status is reachable and the boundaries fall where the variables say: 45 active,
    # 46 at risk, 90 at risk, 91 churned
    status = dict(query(lake, "select days_since_last_order, churn_status from gold.churn_indicators"))
    assert {status[45], status[46], status[90], status[91]} == {"active", "at_risk", "churned"}
    assert (status[45], status[46], status[90], status[91]) == ("active", "at_risk", "at_risk", "churned")


def test_mistake_days_against_the_wall_clock(lake):
    # measured against today every customer of this 2024 dataset would be churned
    assert date.today() != AS_OF
    assert query(lake, "select count(*) from gold.churn_indicators where churn_status = 'active'") == [(5,)]
    assert query(lake, "select distinct as_of from gold.churn_indicators") == [(AS_OF,)]


@pytest.mark.parametrize("table", ["customer_lifetime_value", "customer_segments", "churn_indicators",
                                   "customer_loyalty"])
def test_mistake_duplicated_rows_per_customer(lake, table):
    # joined to their orders, customers would repeat (24 customer orders); each has one row
    assert query(lake, f"select count(*), count(distinct user_id) from gold.{table}") == [(9, 9)]


def test_customers_never_include_guests(lake):
    assert query(lake, "select count(*) from gold.customer_lifetime_value where user_id is null") == [(0,)]
    # customers 257.35 + guests 786.35 = 1,043.70
    assert query(lake, "select sum(total_revenue) from gold.customer_lifetime_value") == [(Decimal("257.35"),)]


# --- specs: documented, with a dashboard ------------------------------------------------------------

MART_COLUMNS = {
    "customer_lifetime_value": ["user_id", *CLV_COLUMNS, *CLV_MODEL_COLUMNS],
    "clv_cohort_curves": ["cohort_month", "months_since_first_order", *COHORT_COLUMNS],
    "customer_segments": ["user_id", *SEGMENT_COLUMNS],
    "churn_indicators": ["user_id", *CHURN_COLUMNS, *CHURN_MODEL_COLUMNS],
    "sales_trends": ["order_date", "restaurant_id", "item_category", *SALES_COLUMNS],
    "customer_loyalty": ["user_id", *LOYALTY_CUSTOMER_COLUMNS],
    "loyalty_impact": ["order_month", "loyalty_group", *LOYALTY_IMPACT_COLUMNS],
    "loyalty_customer_classes": ["customer_class", *CLASS_COLUMNS],
    "loyalty_enrollment_lift": ["user_id", *LIFT_COLUMNS],
    "location_performance": ["restaurant_id", *LOCATION_COLUMNS],
    "pricing_effectiveness": ["item_name_normalized", "item_category", *PRICING_COLUMNS],
    "price_change_events": ["item_name_normalized", "item_category", "restaurant_id", "event_month",
                            *EVENT_COLUMNS],
}


@pytest.mark.parametrize("table", GOLD_TABLES)
def test_every_output_column_is_documented(lake, table):
    spec = load_yaml_file(ROOT / "marts" / f"{table}.yaml").data
    assert spec["name"] == f"gold.{table}"
    got = [r[0] for r in query(lake, f"select column_name from information_schema.columns where "
                                     f"table_schema = 'gold' and table_name = '{table}'")]
    assert spec.get("description")
    assert set(spec["columns"]) == set(got)
    assert all(c.get("description") and c.get("format") for c in spec["columns"].values())


def test_clv_evaluate_command_backtests_on_the_lake(lake, capsys):
    # calibration to 2023-12-31, holdout to the last customer order date 2024-02-19 (C6's O22; the
    # later O31 is a guest order, and guests are no customers): 50 days. Customers
    # seen by then, with repeat order days x, days since their first order T and holdout order days:
    #   C1 x=2 (01-16, 11-28, 12-12) T=349, holdout 01-31 and 02-17 -> 2
    #   C2 x=3 (06-15, 09-23, 10-13, 11-12) T=199, holdout 02-13 -> 1
    #   C3 x=1 T=129 -> 1 (01-05) ; C4 x=2 T=449 -> 0 ; C7 x=1 T=249 -> 0 ; C8 x=0 T=314 -> 1 (01-06)
    #   C9 x=0 T=369 -> 0 ; C5 and C6 start in 2024
    code = main(["clv", "evaluate", "--calibration-end", "2023-12-31", "--project-dir", str(ROOT),
                 "--var", f"raw_dir={RAW}", "--var", f"lake_dir={lake}"])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads((lake / "_runs" / "_artefacts" / "clv_evaluation.json").read_text())
    assert report["spec"] == "gold.customer_lifetime_value"
    assert (report["customers"], report["holdout_days"], report["aggregate"]["actual"]) == (7, 50, 5.0)
    # naive: own repeat rate x 50; C8 and C9 (no repeat) get the population's 9 / 2058 a day
    pop = 9 / (349 + 199 + 129 + 449 + 249 + 314 + 369) * 50
    naive = [2 / 349 * 50, 3 / 199 * 50, 1 / 129 * 50, 2 / 449 * 50, 1 / 249 * 50, pop, pop]
    assert report["aggregate"]["naive"]["predicted"] == pytest.approx(sum(naive))
    assert report["mae"]["naive"] == pytest.approx(sum(abs(p - a) for p, a in zip(naive, [2, 1, 1, 0, 0, 1, 0])) / 7)
    # 5 repeat customers, below the step's minimum of 100: the baseline is still reported, and why
    assert report["fit"]["converged"] is False and report["mae"]["model"] is None
    assert "too little data" in report["message"]
    assert report["truth_note"] == f"no truth file at {RAW / 'ground_truth.csv'}"
    assert "clv evaluation of gold.customer_lifetime_value: calibration to 2023-12-31, holdout 50 days" in out
    assert "not fitted: too little data" in out and report["excluded_by_fit_filter"] == 0
