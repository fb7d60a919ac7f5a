"""The gold layer of the hand-written jobs, continued: pricing tables and the CLV cohort curves.

Split from handwritten_gold.py only to keep modules small; same conventions (Spark SQL over the
silver views and the gold tables written before).
"""

from __future__ import annotations

PRICE_EVENTS = """
WITH priced AS (
  SELECT coalesce(l.item_name_normalized, 'Unknown') AS item_name_normalized,
         coalesce(l.item_category, 'Unknown') AS item_category, o.restaurant_id, o.order_date,
         trunc(o.order_date, 'MM') AS month, o.as_of, l.unit_price, l.item_quantity
  FROM order_lines l JOIN order_facts o ON o.order_id = l.order_id
  WHERE NOT l.is_bulk AND l.item_price > 0),
price_counts AS (
  SELECT item_name_normalized, item_category, restaurant_id, month, unit_price, count(*) AS price_lines,
         sum(item_quantity) AS price_units
  FROM priced GROUP BY item_name_normalized, item_category, restaurant_id, month, unit_price),
modal AS (
  SELECT *, row_number() OVER (PARTITION BY item_name_normalized, item_category, restaurant_id, month
                               ORDER BY price_lines DESC, price_units DESC, unit_price) AS pick
  FROM price_counts),
monthly AS (
  SELECT item_name_normalized, item_category, restaurant_id, month, unit_price AS modal_price,
         lag(month) OVER w AS previous_month, lag(unit_price) OVER w AS previous_price
  FROM modal WHERE pick = 1
  WINDOW w AS (PARTITION BY item_name_normalized, item_category, restaurant_id ORDER BY month)),
events AS (
  SELECT item_name_normalized, item_category, restaurant_id, month AS event_month, previous_month,
         previous_price AS old_price, modal_price AS new_price
  FROM monthly WHERE previous_month = add_months(month, -1) AND previous_price <> modal_price),
dated AS (
  SELECT e.item_name_normalized, e.item_category, e.restaurant_id, e.event_month, e.previous_month, e.old_price,
         e.new_price, min(p.order_date) AS event_date
  FROM events e JOIN priced p
    ON p.item_name_normalized = e.item_name_normalized AND p.item_category = e.item_category
   AND p.restaurant_id = e.restaurant_id AND p.unit_price = e.new_price AND p.month IN (e.previous_month, e.event_month)
  GROUP BY e.item_name_normalized, e.item_category, e.restaurant_id, e.event_month, e.previous_month, e.old_price,
           e.new_price),
u AS (
  SELECT d.*, max(p.as_of) AS as_of,
         sum(CASE WHEN p.order_date BETWEEN date_sub(d.event_date, 56) AND date_sub(d.event_date, 1)
                  THEN p.item_quantity ELSE 0 END) AS units_before,
         sum(CASE WHEN p.order_date BETWEEN d.event_date AND date_add(d.event_date, 55)
                  THEN p.item_quantity ELSE 0 END) AS units_after
  FROM dated d JOIN priced p
    ON p.item_name_normalized = d.item_name_normalized AND p.item_category = d.item_category
   AND p.restaurant_id = d.restaurant_id
  GROUP BY d.item_name_normalized, d.item_category, d.restaurant_id, d.event_month, d.previous_month, d.old_price,
           d.new_price, d.event_date),
c AS (
  SELECT *, CASE WHEN units_before + units_after > 0
                 THEN (units_after - units_before) / ((units_after + units_before) / 2.0D) * 100 END AS pct_change_units,
         (CAST(new_price AS DOUBLE) - CAST(old_price AS DOUBLE))
           / ((CAST(new_price AS DOUBLE) + CAST(old_price AS DOUBLE)) / 2) * 100 AS pct_change_price
  FROM u)
SELECT item_name_normalized, item_category, restaurant_id, event_month, as_of, previous_month, old_price, new_price,
       event_date, units_before, units_after, units_before / 8.0D AS units_per_week_before,
       units_after / 8.0D AS units_per_week_after, pct_change_units, pct_change_price,
       pct_change_units / pct_change_price AS price_elasticity, date_add(event_date, 55) <= as_of AS after_window_complete
FROM c"""

PRICING = """
WITH lines AS (
  SELECT coalesce(l.item_name_normalized, 'Unknown') AS item_name_normalized,
         coalesce(l.item_category, 'Unknown') AS item_category, o.as_of, l.item_price, l.item_quantity, l.unit_price,
         l.line_revenue, l.is_bulk, l.option_count, l.paid_option_count, l.discount_amount, l.option_multiplier,
         NOT l.is_bulk AND l.item_price > 0 AS is_priced
  FROM order_lines l JOIN order_facts o ON o.order_id = l.order_id),
items AS (
  SELECT item_name_normalized, item_category, max(as_of) AS as_of, count(*) AS lines, sum(item_quantity) AS units,
         sum(item_price) AS items_revenue, sum(line_revenue - item_price) AS options_revenue, sum(line_revenue) AS revenue,
         count_if(item_price = 0) AS zero_price_lines, count_if(is_bulk) AS bulk_lines,
         count_if(discount_amount > 0) AS discount_lines, sum(discount_amount * option_multiplier) AS discount_amount,
         count_if(is_priced) AS priced_lines,
         CAST(sum(CASE WHEN is_priced THEN item_price END) / sum(CASE WHEN is_priced THEN item_quantity END)
              AS DECIMAL(12,4)) AS avg_unit_price,
         min(CASE WHEN is_priced THEN unit_price END) AS min_unit_price,
         max(CASE WHEN is_priced THEN unit_price END) AS max_unit_price,
         count(DISTINCT CASE WHEN is_priced THEN unit_price END) AS price_points,
         count_if(option_count > 0) / count(*) AS option_attach_rate,
         count_if(paid_option_count > 0) / count(*) AS paid_option_attach_rate,
         sum(line_revenue - item_price + discount_amount * option_multiplier) AS option_upsell_revenue,
         sum(paid_option_count) AS paid_options
  FROM lines GROUP BY item_name_normalized, item_category),
elasticity AS (
  SELECT item_name_normalized, item_category, count(*) AS price_change_events,
         count_if(after_window_complete AND price_elasticity IS NOT NULL) AS elasticity_events,
         percentile(CASE WHEN after_window_complete THEN price_elasticity END, 0.5) AS price_elasticity
  FROM price_change_events GROUP BY item_name_normalized, item_category),
j AS (
  SELECT i.*, CAST(round(option_upsell_revenue / nullif(paid_options, 0), 2) AS DECIMAL(18,2)) AS avg_paid_option_value,
         coalesce(e.price_change_events, 0) AS price_change_events, coalesce(e.elasticity_events, 0) AS elasticity_events,
         e.price_elasticity
  FROM items i LEFT JOIN elasticity e
    ON e.item_name_normalized = i.item_name_normalized AND e.item_category = i.item_category)
SELECT item_name_normalized, item_category, as_of, lines, units, items_revenue, options_revenue, revenue,
       zero_price_lines, bulk_lines, discount_lines, discount_amount, max(discount_lines) OVER () > 0 AS has_discount_signal,
       priced_lines, avg_unit_price, min_unit_price, max_unit_price, price_points, option_attach_rate,
       paid_option_attach_rate, option_upsell_revenue, avg_paid_option_value, price_change_events, elasticity_events,
       price_elasticity
FROM j"""

COHORTS = """
WITH customer_orders AS (SELECT user_id, order_month, revenue FROM order_facts WHERE user_id IS NOT NULL),
firsts AS (SELECT user_id, min(order_month) AS cohort_month FROM customer_orders GROUP BY user_id),
cohorts AS (SELECT cohort_month, count(*) AS cohort_customers FROM firsts GROUP BY cohort_month),
monthly AS (
  SELECT f.cohort_month, CAST(months_between(o.order_month, f.cohort_month) AS INT) AS months_since_first_order,
         sum(o.revenue) AS revenue, count(DISTINCT o.user_id) AS active_customers
  FROM customer_orders o JOIN firsts f ON f.user_id = o.user_id GROUP BY 1, 2),
as_of_month AS (SELECT trunc(max(as_of), 'MM') AS month FROM order_facts),
grid AS (
  SELECT c.cohort_month, c.cohort_customers, m AS months_since_first_order
  FROM cohorts c CROSS JOIN as_of_month a
  LATERAL VIEW explode(sequence(0, CAST(months_between(a.month, c.cohort_month) AS INT))) s AS m),
j AS (
  SELECT g.cohort_month, g.months_since_first_order, add_months(g.cohort_month, g.months_since_first_order) AS month,
         g.cohort_customers, coalesce(m.active_customers, 0) AS active_customers,
         coalesce(m.revenue, CAST(0 AS DECIMAL(18,2))) AS revenue,
         sum(coalesce(m.revenue, CAST(0 AS DECIMAL(18,2))))
           OVER (PARTITION BY g.cohort_month ORDER BY g.months_since_first_order) AS cumulative_revenue
  FROM grid g LEFT JOIN monthly m
    ON m.cohort_month = g.cohort_month AND m.months_since_first_order = g.months_since_first_order)
SELECT cohort_month, months_since_first_order, month, cohort_customers, active_customers,
       CAST(active_customers AS DOUBLE) / cohort_customers AS active_share, revenue, cumulative_revenue,
       CAST(round(cumulative_revenue / cohort_customers, 2) AS DECIMAL(18,2)) AS cumulative_revenue_per_customer
FROM j"""
