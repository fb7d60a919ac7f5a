"""The pipeline in DuckDB SQL: raw CSVs -> bronze -> silver -> the gold tables, in one process.

    .venv/bin/python benchmarks/duckdb_marts.py --raw /tmp/bench_data/s1 --out /tmp/duck

Bronze and silver are tables in a DuckDB database file (``<out>/pipeline.duckdb``); silver
applies the same rules as pipelines/silver (test app filtered, exact duplicates removed, strict
parsing, the quality rules, rejected rows kept in a quarantine table). The gold queries are the
hand-written Spark job's (benchmarks/handwritten_gold.py) turned into DuckDB's dialect by the
few rewrites in :func:`to_duckdb`, so both compute the same thing; each gold table is also
copied to ``<out>/gold/<name>/data.parquet`` for the comparison. DuckDB has no HMAC: the card
token is ``sha256(key || number)`` here, a keyed hash of the same cost class (it is not compared).

Prints ``@stage <name>`` markers for benchmarks/bench_pipeline.py.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from handwritten_gold import GOLD  # noqa: E402

ITEMS = ("APP_NAME", "RESTAURANT_ID", "CREATION_TIME_UTC", "ORDER_ID", "USER_ID", "PRINTED_CARD_NUMBER",
         "IS_LOYALTY", "CURRENCY", "LINEITEM_ID", "ITEM_CATEGORY", "ITEM_NAME", "ITEM_PRICE", "ITEM_QUANTITY")
OPTIONS = ("ORDER_ID", "LINEITEM_ID", "OPTION_GROUP_NAME", "OPTION_NAME", "OPTION_PRICE", "OPTION_QUANTITY")
DATES = ("date_key", "year", "month", "week", "day_of_week", "is_weekend", "is_holiday", "holiday_name")
TS = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?(Z|[+-][0-9]{2}:?[0-9]{2})"
DEC2 = r"[+-]?[0-9]+(\.[0-9]{0,2})?"
INT = r"[+-]?[0-9]+"

SILVER_ITEMS = rf"""
CREATE OR REPLACE TABLE silver_items_checked AS
WITH d AS (
  SELECT DISTINCT {', '.join(ITEMS)} FROM bronze_order_items
  WHERE APP_NAME IS NULL OR APP_NAME <> 'Alltown Fresh - DEVELOPMENT'),
t AS (
  SELECT nullif(trim(APP_NAME), '') AS app_name, nullif(trim(RESTAURANT_ID), '') AS restaurant_id,
         nullif(trim(CREATION_TIME_UTC), '') AS ts_raw, nullif(trim(ORDER_ID), '') AS order_id,
         nullif(trim(USER_ID), '') AS user_id, nullif(trim(IS_LOYALTY), '') AS loyalty_raw,
         nullif(trim(CURRENCY), '') AS currency, nullif(trim(LINEITEM_ID), '') AS lineitem_id,
         nullif(trim(ITEM_CATEGORY), '') AS item_category_raw, nullif(trim(ITEM_NAME), '') AS item_name,
         nullif(trim(ITEM_PRICE), '') AS price_raw, nullif(trim(ITEM_QUANTITY), '') AS qty_raw,
         PRINTED_CARD_NUMBER IS NULL OR regexp_full_match(trim(PRINTED_CARD_NUMBER), '[0-9]{{12}}') AS card_ok,
         sha256('medallion-local-development-key' || nullif(trim(PRINTED_CARD_NUMBER), '')) AS card_token,
         right(nullif(trim(PRINTED_CARD_NUMBER), ''), 4) AS card_last4
  FROM d),
p AS (
  SELECT *, CASE WHEN regexp_full_match(ts_raw, '{TS}') THEN try_cast(ts_raw AS TIMESTAMPTZ) END AS ts,
         CASE WHEN regexp_full_match(price_raw, '{DEC2}') THEN try_cast(price_raw AS DECIMAL(10,2)) END AS item_price,
         CASE WHEN regexp_full_match(qty_raw, '{INT}') THEN try_cast(qty_raw AS INTEGER) END AS item_quantity,
         CASE loyalty_raw WHEN 'TRUE' THEN true WHEN 'FALSE' THEN false END AS is_loyalty
  FROM t),
q AS (
  SELECT *, (ts_raw IS NOT NULL AND ts IS NULL) OR (price_raw IS NOT NULL AND item_price IS NULL)
            OR (qty_raw IS NOT NULL AND item_quantity IS NULL) OR (loyalty_raw IS NOT NULL AND is_loyalty IS NULL)
            AS parse_bad
  FROM p)
SELECT *, parse_bad OR coalesce(order_id IS NULL OR lineitem_id IS NULL OR restaurant_id IS NULL OR ts IS NULL
          OR item_price IS NULL OR item_quantity IS NULL
          OR count(*) OVER (PARTITION BY parse_bad, lineitem_id) > 1
          OR app_name NOT IN ('Alltown Fresh', 'Alltown Neighborhood Perks') AND app_name IS NOT NULL
          OR item_quantity < 1 OR item_price < 0 OR NOT card_ok
          OR list_bool_or([coalesce(contains(x, chr(65533)), false) FOR x IN
               [app_name, restaurant_id, order_id, user_id, lineitem_id, item_category_raw, item_name]]), true) AS bad
FROM q;

CREATE OR REPLACE TABLE silver_order_items AS
WITH c AS (
  SELECT *, regexp_replace(regexp_replace(item_category_raw, 'https?://\S*?#', '', 'g'), 'https?://\S*$', '')
              AS category_fixed,
         timezone('America/New_York', ts) AS creation_time_local
  FROM silver_items_checked WHERE NOT bad)
SELECT order_id, lineitem_id, app_name, restaurant_id, timezone('UTC', ts) AS creation_time_utc, creation_time_local,
       CAST(creation_time_local AS DATE) AS order_date, user_id, user_id IS NULL AS is_guest, is_loyalty,
       card_token, card_last4, currency,
       coalesce(map {{'Bowls0': 'Bowls', 'Sandwiches`1': 'Sandwiches', 'Sqalads': 'Salads', 'Kids': 'Kid''s'}}
                [category_fixed], category_fixed) AS item_category,
       category_fixed AS item_category_raw, item_name,
       lower(trim(regexp_replace(regexp_replace(item_name, '\*+\s*$', ''), '\s+', ' ', 'g'))) AS item_name_normalized,
       item_price, item_quantity,
       CASE WHEN item_quantity > 0 THEN CAST(item_price / item_quantity AS DECIMAL(12,4)) END AS unit_price,
       item_quantity >= 100 OR item_price > 1000 AS is_bulk
FROM c;
"""

SILVER_REST = rf"""
CREATE OR REPLACE TABLE silver_options_checked AS
WITH d AS (
  SELECT DISTINCT {', '.join(OPTIONS)} FROM bronze_order_item_options o
  WHERE NOT EXISTS (SELECT 1 FROM bronze_order_items i WHERE i.APP_NAME = 'Alltown Fresh - DEVELOPMENT'
                    AND i.ORDER_ID = o.ORDER_ID AND i.LINEITEM_ID = o.LINEITEM_ID)),
t AS (
  SELECT nullif(trim(ORDER_ID), '') AS order_id, nullif(trim(LINEITEM_ID), '') AS lineitem_id,
         nullif(trim(OPTION_GROUP_NAME), '') AS option_group_name, nullif(trim(OPTION_NAME), '') AS option_name,
         nullif(trim(OPTION_PRICE), '') AS price_raw, nullif(trim(OPTION_QUANTITY), '') AS qty_raw
  FROM d),
p AS (
  SELECT *, CASE WHEN regexp_full_match(price_raw, '{DEC2}') THEN try_cast(price_raw AS DECIMAL(10,2)) END AS option_price,
         CASE WHEN regexp_full_match(qty_raw, '{INT}') THEN try_cast(qty_raw AS INTEGER) END AS option_quantity
  FROM t)
SELECT p.*, (price_raw IS NOT NULL AND option_price IS NULL) OR (qty_raw IS NOT NULL AND option_quantity IS NULL)
            OR coalesce(p.order_id IS NULL OR p.lineitem_id IS NULL OR option_name IS NULL OR l.lineitem_id IS NULL
                        OR option_quantity < 1, true) AS bad
FROM p LEFT JOIN silver_order_items l ON l.order_id = p.order_id AND l.lineitem_id = p.lineitem_id;

CREATE OR REPLACE TABLE silver_order_item_options AS
SELECT order_id, lineitem_id, option_group_name, option_name, option_price, option_quantity
FROM silver_options_checked WHERE NOT bad;

CREATE OR REPLACE TABLE quarantine AS
SELECT 'order_items' AS source, to_json(c) AS record FROM silver_items_checked c WHERE bad
UNION ALL SELECT 'order_item_options', to_json(c) FROM silver_options_checked c WHERE bad;

CREATE OR REPLACE TABLE silver_order_lines AS
SELECT i.*, coalesce(o.option_count, 0) AS option_count, coalesce(o.paid_option_count, 0) AS paid_option_count,
       coalesce(o.options_revenue, 0)::DECIMAL(20,2) AS options_revenue,
       coalesce(o.discount_amount, 0)::DECIMAL(20,2) AS discount_amount, 1 AS option_multiplier,
       CAST(i.item_price + coalesce(o.options_revenue, 0) AS DECIMAL(20,2)) AS line_revenue
FROM silver_order_items i LEFT JOIN (
  SELECT order_id, lineitem_id, count(*) AS option_count, count_if(option_price > 0) AS paid_option_count,
         sum(option_price * option_quantity) AS options_revenue,
         sum(CASE WHEN option_price < 0 THEN -option_price * option_quantity ELSE 0 END) AS discount_amount
  FROM silver_order_item_options GROUP BY order_id, lineitem_id) o
ON o.order_id = i.order_id AND o.lineitem_id = i.lineitem_id;

CREATE OR REPLACE TABLE silver_orders AS
SELECT order_id, min(creation_time_utc) AS creation_time_utc, min(creation_time_local) AS creation_time_local,
       min(order_date) AS order_date, min(restaurant_id) AS restaurant_id, count(DISTINCT restaurant_id) AS restaurants,
       min(app_name) AS app_name, max(user_id) AS user_id, bool_and(is_guest) AS is_guest,
       bool_or(is_loyalty) AS is_loyalty, count(*) AS lines, sum(item_quantity) AS units,
       sum(item_price) AS items_revenue, sum(options_revenue) AS options_revenue, sum(line_revenue) AS revenue,
       bool_or(option_count > 0) AS has_options, bool_or(is_bulk) AS has_bulk_line
FROM silver_order_lines GROUP BY order_id;
"""


# Spark-only constructs (LATERAL VIEW explode, months_between) written out in DuckDB directly
OVERRIDES = {"clv_cohort_curves": """
WITH customer_orders AS (SELECT user_id, order_month, revenue FROM order_facts WHERE user_id IS NOT NULL),
firsts AS (SELECT user_id, min(order_month) AS cohort_month FROM customer_orders GROUP BY user_id),
cohorts AS (SELECT cohort_month, count(*) AS cohort_customers FROM firsts GROUP BY cohort_month),
monthly AS (
  SELECT f.cohort_month, CAST(date_diff('month', f.cohort_month, o.order_month) AS INT) AS months_since_first_order,
         sum(o.revenue) AS revenue, count(DISTINCT o.user_id) AS active_customers
  FROM customer_orders o JOIN firsts f ON f.user_id = o.user_id GROUP BY 1, 2),
as_of_month AS (SELECT CAST(date_trunc('month', max(as_of)) AS DATE) AS month FROM order_facts),
grid AS (
  SELECT c.cohort_month, c.cohort_customers,
         CAST(unnest(range(0, date_diff('month', c.cohort_month, a.month) + 1)) AS INT) AS months_since_first_order
  FROM cohorts c CROSS JOIN as_of_month a),
j AS (
  SELECT g.cohort_month, g.months_since_first_order,
         CAST(g.cohort_month + to_months(g.months_since_first_order) AS DATE) AS month, g.cohort_customers,
         coalesce(m.active_customers, 0) AS active_customers, coalesce(m.revenue, 0)::DECIMAL(18,2) AS revenue,
         sum(coalesce(m.revenue, 0)) OVER (PARTITION BY g.cohort_month ORDER BY g.months_since_first_order)
           AS cumulative_revenue
  FROM grid g LEFT JOIN monthly m
    ON m.cohort_month = g.cohort_month AND m.months_since_first_order = g.months_since_first_order)
SELECT *, CAST(active_customers AS DOUBLE) / cohort_customers AS active_share,
       CAST(round(cumulative_revenue / cohort_customers, 2) AS DECIMAL(18,2)) AS cumulative_revenue_per_customer
FROM j"""}


def _calls(sql: str, name: str, build) -> str:
    """Rewrite every ``name(args)`` call (balanced parentheses, top-level commas)."""
    out, i = [], 0
    pattern = re.compile(rf"\b{name}\s*\(", re.IGNORECASE)
    while (m := pattern.search(sql, i)) is not None:
        out.append(sql[i:m.start()])
        depth, j, args, start = 1, m.end(), [], m.end()
        while depth:
            ch = sql[j]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 1:
                args.append(sql[start:j].strip())
                start = j + 1
            j += 1
        args.append(sql[start:j - 1].strip())
        out.append(build(*[_calls(a, name, build) for a in args]))
        i = j
    out.append(sql[i:])
    return "".join(out)


def to_duckdb(sql: str) -> str:
    """Spark SQL of handwritten_gold.py in DuckDB's dialect (only the functions it uses)."""
    sql = _calls(sql, "datediff", lambda a, b: f"date_diff('day', {b}, {a})")
    sql = _calls(sql, "trunc", lambda a, unit: f"CAST(date_trunc('month', {a}) AS DATE)")
    sql = _calls(sql, "make_dt_interval", lambda n: f"to_days({n})")
    sql = _calls(sql, "date_sub", lambda a, n: f"CAST({a} - {n} AS DATE)")
    sql = _calls(sql, "date_add", lambda a, n: f"CAST({a} + {n} AS DATE)")
    sql = _calls(sql, "add_months", lambda a, n: f"CAST({a} + to_months({n}) AS DATE)")
    sql = _calls(sql, "percentile", lambda a, p: f"quantile_cont({a}, {p})")
    return re.sub(r"\b(\d+\.\d+)D\b", r"CAST(\1 AS DOUBLE)", sql)


def stage(name: str) -> None:
    print(f"@stage {name}", flush=True)


def calendar(con) -> None:
    """The 2023 rows plus generated dates with US federal holidays (same table as the engine's)."""
    import pandas as pd

    from engine.steps.calendar import CALENDAR_COLUMNS, calendar_rows  # the pure-Python holiday table

    con.execute("""CREATE OR REPLACE TABLE calendar AS
        SELECT strptime(date_key, '%d-%m-%Y')::DATE AS date, year::INT AS year, month::INT AS month, week::INT AS week,
               day_of_week, is_weekend = 'TRUE' AS is_weekend, is_holiday = 'TRUE' AS is_holiday, holiday_name,
               false AS is_generated
        FROM bronze_date_dim""")
    lo, hi = con.execute("SELECT min(order_date), max(order_date) FROM orders").fetchone()
    generated = pd.DataFrame(calendar_rows(lo, hi), columns=[f.name for f in CALENDAR_COLUMNS.fields])  # noqa: F841
    con.execute("INSERT INTO calendar SELECT g.*, true FROM generated g WHERE g.date NOT IN (SELECT date FROM calendar)")


def main() -> None:
    import duckdb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    t0 = time.perf_counter()
    stage("startup")
    args.out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(args.out / "pipeline.duckdb"))
    stage("bronze")
    for name, cols in (("order_items", ITEMS), ("order_item_options", OPTIONS), ("date_dim", DATES)):
        spec = ", ".join(f"'{c}': 'VARCHAR'" for c in cols)
        con.execute(f"""CREATE OR REPLACE TABLE bronze_{name} AS
            SELECT *, now() AS _ingested_at, 'duckdb' AS _run_id
            FROM read_csv('{args.raw / (name + '.csv')}', header = true, quote = '"', escape = '"',
                          columns = {{{spec}}}, filename = '_source_file')""")
    stage("silver")
    con.execute(SILVER_ITEMS)
    con.execute(SILVER_REST)
    for name in ("order_items", "order_item_options", "order_lines", "orders"):
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM silver_{name}")
    calendar(con)
    stage("gold")
    for name, query in GOLD:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {OVERRIDES.get(name) or to_duckdb(query)}")
        folder = args.out / "gold" / name
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY {name} TO '{folder / 'data.parquet'}' (FORMAT parquet)")
    stage("finish")
    con.close()
    print(f"duckdb pipeline: {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
