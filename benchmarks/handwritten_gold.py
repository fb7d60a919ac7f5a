"""The gold layer of the hand-written PySpark job: the fourteen gold tables as Spark SQL.

Each query reads the silver views (orders, order_lines, calendar) and gold tables written
before it, in this order; the SQL is the marts' own logic written out as one statement per
table, the way a user without the engine would write it. The CLV mart has its historical
columns only (the model fit is the engine's).
"""

from __future__ import annotations

from handwritten_gold_more import COHORTS, PRICE_EVENTS, PRICING  # the same folder

AS_OF = """
SELECT max(order_date) AS as_of, 'latest' AS as_of_variable, min(order_date) AS data_first_order_date,
       max(order_date) AS data_last_order_date
FROM orders"""

ORDER_FACTS = """
SELECT o.order_id, o.user_id, o.user_id IS NULL AS is_guest, o.restaurant_id, o.app_name, o.creation_time_utc,
       o.creation_time_local, o.order_date, trunc(o.order_date, 'MM') AS order_month, c.day_of_week, c.is_weekend,
       c.is_holiday,
       CASE WHEN hour(o.creation_time_local) < 11 THEN 'Breakfast' WHEN hour(o.creation_time_local) < 14 THEN 'Lunch'
            WHEN hour(o.creation_time_local) < 17 THEN 'Afternoon' WHEN hour(o.creation_time_local) < 21 THEN 'Dinner'
            ELSE 'Late' END AS daypart,
       coalesce(o.is_loyalty, false) AS is_loyalty,
       CASE WHEN coalesce(o.is_loyalty, false) THEN 'member order' WHEN o.user_id IS NULL THEN 'guest'
            ELSE 'non-member order' END AS loyalty_group,
       o.lines, o.units, o.items_revenue, o.revenue - o.items_revenue AS options_revenue, o.revenue, o.has_options,
       o.has_bulk_line, a.as_of, datediff(a.as_of, o.order_date) AS days_before_as_of
FROM orders o CROSS JOIN as_of a LEFT JOIN calendar c ON c.date = o.order_date
WHERE o.order_date <= a.as_of"""

CLV = """
WITH c AS (SELECT * FROM order_facts WHERE user_id IS NOT NULL),
days AS (SELECT user_id, order_date, count(*) AS day_orders, sum(revenue) AS day_revenue FROM c
         GROUP BY user_id, order_date),
busiest AS (SELECT user_id, max(day_orders) AS max_orders_per_day, min_by(day_revenue, order_date) AS first_day_revenue
            FROM days GROUP BY user_id),
summary AS (
  SELECT user_id, max(as_of) AS as_of, min(order_date) AS first_order_date, max(order_date) AS last_order_date,
         count(DISTINCT order_id) AS orders, count(DISTINCT order_date) AS order_days, sum(lines) AS lines,
         sum(items_revenue) AS items_revenue, sum(options_revenue) AS options_revenue, sum(revenue) AS total_revenue
  FROM c GROUP BY user_id),
base AS (
  SELECT s.*, b.max_orders_per_day, b.first_day_revenue,
         CAST(round(total_revenue / orders, 2) AS DECIMAL(18,2)) AS avg_order_value,
         datediff(as_of, first_order_date) AS tenure_days, b.max_orders_per_day > 20 AS is_suspected_bot,
         order_days - 1 AS repeat_order_days, datediff(last_order_date, first_order_date) AS recency_days,
         CASE WHEN order_days > 1 THEN CAST(total_revenue - first_day_revenue AS DOUBLE) / (order_days - 1) END
           AS avg_repeat_day_revenue
  FROM summary s JOIN busiest b ON b.user_id = s.user_id),
ranked AS (
  SELECT *, percent_rank() OVER (ORDER BY total_revenue) AS revenue_percent_rank,
         rank() OVER (ORDER BY total_revenue DESC) AS revenue_rank,
         percent_rank() OVER (PARTITION BY is_suspected_bot ORDER BY total_revenue) AS percent_rank_among_peers,
         rank() OVER (PARTITION BY is_suspected_bot ORDER BY total_revenue DESC) AS rank_among_peers
  FROM base)
SELECT user_id, as_of, first_order_date, last_order_date, orders, order_days, lines, items_revenue, options_revenue,
       total_revenue, avg_order_value, tenure_days, max_orders_per_day, is_suspected_bot, revenue_percent_rank,
       CASE WHEN revenue_percent_rank >= 0.8 THEN 'High' WHEN revenue_percent_rank <= 0.2 THEN 'Low'
            ELSE 'Medium' END AS clv_tier,
       CASE WHEN is_suspected_bot THEN NULL WHEN percent_rank_among_peers >= 0.8 THEN 'High'
            WHEN percent_rank_among_peers <= 0.2 THEN 'Low' ELSE 'Medium' END AS clv_tier_excl_bots,
       revenue_rank, CASE WHEN NOT is_suspected_bot THEN rank_among_peers END AS revenue_rank_excl_bots,
       repeat_order_days, recency_days, avg_repeat_day_revenue
FROM ranked"""

SEGMENTS = """
WITH rfm0 AS (
  SELECT c.user_id, c.as_of, c.is_suspected_bot, datediff(c.as_of, c.last_order_date) AS recency_days,
         coalesce(w.frequency, 0) AS frequency, coalesce(w.monetary, 0) AS monetary,
         coalesce(w.frequency, 0) > 0 AS ordered_in_window,
         datediff(c.as_of, c.first_order_date) < 365 AS first_order_in_window
  FROM customer_lifetime_value c
  LEFT JOIN (SELECT user_id, count(*) AS frequency, sum(revenue) AS monetary FROM order_facts
             WHERE user_id IS NOT NULL AND days_before_as_of < 365 GROUP BY user_id) w ON w.user_id = c.user_id),
tiles AS (
  SELECT *, ntile(5) OVER (ORDER BY recency_days DESC) AS r_ntile,
         ntile(5) OVER (PARTITION BY ordered_in_window ORDER BY frequency) AS f_ntile,
         ntile(5) OVER (PARTITION BY ordered_in_window ORDER BY monetary) AS m_ntile
  FROM rfm0),
tied AS (
  SELECT *, min(r_ntile) OVER (PARTITION BY recency_days) AS r_score,
         min(f_ntile) OVER (PARTITION BY ordered_in_window, frequency) AS f_tied,
         min(m_ntile) OVER (PARTITION BY ordered_in_window, monetary) AS m_tied
  FROM tiles),
scored AS (
  SELECT *, CASE WHEN ordered_in_window THEN f_tied ELSE 1 END AS f_score,
         CASE WHEN ordered_in_window THEN m_tied ELSE 1 END AS m_score FROM tied),
rfm AS (
  SELECT *, concat(r_score, f_score, m_score) AS rfm_cell,
         CASE WHEN r_score >= 4 AND f_score >= 4 AND m_score >= 4 THEN 'Champions'
              WHEN r_score <= 2 AND f_score >= 3 THEN 'At Risk' WHEN f_score >= 4 THEN 'Loyal'
              WHEN r_score >= 4 AND f_score <= 1 AND first_order_in_window THEN 'New'
              WHEN r_score >= 4 AND f_score BETWEEN 2 AND 3 THEN 'Promising'
              WHEN r_score <= 2 AND f_score <= 2 THEN 'Hibernating' ELSE 'Need Attention' END AS segment
  FROM scored),
customer_orders AS (SELECT * FROM order_facts WHERE user_id IS NOT NULL),
customer_lines AS (
  SELECT o.user_id, l.item_category, l.line_revenue, l.option_count, l.paid_option_count
  FROM order_lines l JOIN customer_orders o ON o.order_id = l.order_id),
daypart AS (
  SELECT user_id, daypart AS preferred_daypart FROM (
    SELECT user_id, daypart, row_number() OVER (PARTITION BY user_id ORDER BY count(*) DESC, sum(revenue) DESC,
                                                daypart) AS pick
    FROM customer_orders GROUP BY user_id, daypart) WHERE pick = 1),
category AS (
  SELECT user_id, item_category AS preferred_category FROM (
    SELECT user_id, item_category, row_number() OVER (PARTITION BY user_id ORDER BY count(*) DESC,
                                                      sum(line_revenue) DESC, item_category) AS pick
    FROM customer_lines WHERE item_category IS NOT NULL GROUP BY user_id, item_category) WHERE pick = 1),
location AS (
  SELECT user_id, restaurant_id AS preferred_restaurant_id FROM (
    SELECT user_id, restaurant_id, row_number() OVER (PARTITION BY user_id ORDER BY count(*) DESC,
                                                      sum(revenue) DESC, restaurant_id) AS pick
    FROM customer_orders GROUP BY user_id, restaurant_id) WHERE pick = 1),
habits AS (
  SELECT user_id, count(*) AS orders, count(DISTINCT restaurant_id) AS locations_visited,
         count_if(is_loyalty) / count(*) AS loyalty_order_share, count_if(is_weekend) / count(*) AS weekend_order_share,
         sum(lines) / count(*) AS avg_lines_per_order
  FROM customer_orders GROUP BY user_id),
options AS (
  SELECT user_id, count_if(option_count > 0) / count(*) AS option_attach_rate,
         sum(paid_option_count) / nullif(sum(option_count), 0) AS paid_option_share
  FROM customer_lines GROUP BY user_id)
SELECT r.user_id, r.as_of, r.recency_days, r.frequency, r.monetary, r.first_order_in_window, r.r_score, r.f_score,
       r.m_score, r.rfm_cell, r.segment, h.orders, d.preferred_daypart, c.preferred_category, l.preferred_restaurant_id,
       h.locations_visited, h.loyalty_order_share, h.weekend_order_share, h.avg_lines_per_order, p.option_attach_rate,
       CAST(p.paid_option_share AS DOUBLE) AS paid_option_share, r.is_suspected_bot
FROM rfm r JOIN habits h ON h.user_id = r.user_id JOIN options p ON p.user_id = r.user_id
LEFT JOIN daypart d ON d.user_id = r.user_id LEFT JOIN category c ON c.user_id = r.user_id
LEFT JOIN location l ON l.user_id = r.user_id"""

CHURN = """
WITH order_days AS (SELECT DISTINCT user_id, order_date FROM order_facts WHERE user_id IS NOT NULL),
gaps AS (SELECT user_id, datediff(order_date, lag(order_date) OVER (PARTITION BY user_id ORDER BY order_date))
                AS gap_days FROM order_days),
rhythm AS (SELECT user_id, avg(gap_days) AS avg_days_between_orders, stddev_pop(gap_days) AS stddev_days_between_orders
           FROM gaps GROUP BY user_id),
spend AS (
  SELECT user_id, count_if(days_before_as_of < 90) AS orders_last_90d,
         sum(CASE WHEN days_before_as_of < 90 THEN revenue ELSE 0 END) AS revenue_last_90d,
         sum(CASE WHEN days_before_as_of BETWEEN 90 AND 179 THEN revenue ELSE 0 END) AS revenue_prev_90d,
         sum(CASE WHEN days_before_as_of < 365 THEN revenue ELSE 0 END) AS revenue_last_365d,
         sum(CASE WHEN days_before_as_of BETWEEN 365 AND 729 THEN revenue ELSE 0 END) AS revenue_prev_365d
  FROM order_facts WHERE user_id IS NOT NULL GROUP BY user_id),
j AS (
  SELECT c.user_id, c.as_of, c.last_order_date, c.order_days, datediff(c.as_of, c.last_order_date) AS days_since_last_order,
         r.avg_days_between_orders, r.stddev_days_between_orders, s.orders_last_90d, s.revenue_last_90d,
         s.revenue_prev_90d, s.revenue_last_365d, s.revenue_prev_365d, c.is_suspected_bot
  FROM customer_lifetime_value c LEFT JOIN rhythm r ON r.user_id = c.user_id LEFT JOIN spend s ON s.user_id = c.user_id)
SELECT user_id, as_of, last_order_date, days_since_last_order,
       CASE WHEN days_since_last_order <= 45 THEN 'active' WHEN days_since_last_order <= 90 THEN 'at_risk'
            ELSE 'churned' END AS churn_status,
       order_days, avg_days_between_orders, stddev_days_between_orders,
       days_since_last_order / avg_days_between_orders AS overdue_ratio, orders_last_90d, revenue_last_90d,
       revenue_prev_90d,
       CASE WHEN revenue_prev_90d <> 0 THEN (CAST(revenue_last_90d AS DOUBLE) - CAST(revenue_prev_90d AS DOUBLE))
            / CAST(revenue_prev_90d AS DOUBLE) * 100 END AS spend_change_pct,
       revenue_last_365d, revenue_prev_365d,
       CASE WHEN revenue_prev_365d <> 0 THEN (CAST(revenue_last_365d AS DOUBLE) - CAST(revenue_prev_365d AS DOUBLE))
            / CAST(revenue_prev_365d AS DOUBLE) * 100 END AS yoy_revenue_change_pct,
       is_suspected_bot
FROM j"""

SALES_TRENDS = """
WITH p AS (
  SELECT o.order_date, o.restaurant_id, coalesce(l.item_category, 'Unknown') AS item_category, max(o.as_of) AS as_of,
         count(DISTINCT o.order_id) AS orders, count(*) AS lines, sum(l.item_quantity) AS units,
         sum(l.item_price) AS items_revenue, sum(l.line_revenue - l.item_price) AS options_revenue,
         sum(l.line_revenue) AS revenue, sum(CASE WHEN l.is_bulk THEN l.line_revenue ELSE 0 END) AS bulk_revenue,
         count(DISTINCT o.user_id) AS customers, count(DISTINCT CASE WHEN o.is_guest THEN o.order_id END) AS guest_orders,
         count(DISTINCT CASE WHEN o.is_loyalty THEN o.order_id END) AS loyalty_orders
  FROM order_lines l JOIN order_facts o ON o.order_id = l.order_id
  GROUP BY o.order_date, o.restaurant_id, coalesce(l.item_category, 'Unknown'))
SELECT p.*, c.year, c.month, c.week AS iso_week, c.day_of_week, c.is_weekend, c.is_holiday, c.holiday_name
FROM p LEFT JOIN calendar c ON c.date = p.order_date"""

LOYALTY_IMPACT = """
SELECT *, orders / sum(orders) OVER (PARTITION BY order_month) AS order_share FROM (
  SELECT order_month, loyalty_group, max(as_of) AS as_of, count(*) AS orders, count(DISTINCT user_id) AS customers,
         sum(revenue) AS revenue, CAST(round(sum(revenue) / count(*), 2) AS DECIMAL(18,2)) AS avg_order_value,
         sum(lines) / count(*) AS lines_per_order
  FROM order_facts GROUP BY order_month, loyalty_group)"""

CUSTOMER_LOYALTY = """
WITH seq AS (
  SELECT *, lag(is_loyalty) OVER (PARTITION BY user_id ORDER BY creation_time_utc, order_id) AS previous_is_loyalty
  FROM order_facts WHERE user_id IS NOT NULL),
agg AS (
  SELECT user_id, max(as_of) AS as_of, count(*) AS orders, count_if(is_loyalty) AS loyalty_orders,
         count_if(NOT is_loyalty) AS non_loyalty_orders, min(creation_time_utc) AS first_order_at,
         min(CASE WHEN is_loyalty THEN creation_time_utc END) AS first_loyalty_order_at,
         min(CASE WHEN is_loyalty THEN order_date END) AS first_loyalty_order_date,
         min(CASE WHEN NOT is_loyalty THEN creation_time_utc END) AS first_non_loyalty_order_at,
         count_if(previous_is_loyalty <> is_loyalty) AS loyalty_switches
  FROM seq GROUP BY user_id)
SELECT user_id, as_of,
       CASE WHEN first_loyalty_order_at IS NULL THEN 'never member'
            WHEN first_non_loyalty_order_at IS NULL THEN 'always member'
            WHEN first_loyalty_order_at > first_non_loyalty_order_at THEN 'joined' ELSE 'lapsed member' END
         AS loyalty_class,
       orders, loyalty_orders, non_loyalty_orders, loyalty_switches, first_order_at, first_loyalty_order_at,
       first_loyalty_order_date, first_non_loyalty_order_at
FROM agg"""

LOYALTY_CLASSES = """
WITH retention AS (
  SELECT c.user_id, datediff(c.as_of, c.first_order_date) >= 90 AS retention_eligible,
         count_if(o.order_date > c.first_order_date AND datediff(o.order_date, c.first_order_date) <= 90) > 0
           AS retained_90d
  FROM customer_lifetime_value c JOIN order_facts o ON o.user_id = c.user_id
  GROUP BY c.user_id, c.as_of, c.first_order_date),
k AS (
  SELECT l.loyalty_class AS customer_class, max(c.as_of) AS as_of, count(*) AS customers, sum(c.orders) AS orders,
         sum(c.total_revenue) AS revenue, CAST(round(avg(c.total_revenue), 2) AS DECIMAL(18,2)) AS avg_clv,
         avg(c.orders) AS avg_orders,
         CAST(round(sum(c.total_revenue) / sum(c.orders), 2) AS DECIMAL(18,2)) AS avg_order_value,
         count_if(c.order_days >= 2) / count(*) AS repeat_rate,
         count_if(r.retention_eligible) AS retention_eligible_customers,
         count_if(r.retention_eligible AND r.retained_90d) / nullif(count_if(r.retention_eligible), 0) AS retention_90d
  FROM customer_loyalty l JOIN customer_lifetime_value c ON c.user_id = l.user_id
  JOIN retention r ON r.user_id = l.user_id GROUP BY l.loyalty_class)
SELECT *, customers / sum(customers) OVER () AS customer_share FROM k"""

ENROLLMENT_LIFT = """
WITH w AS (
  SELECT j.user_id, j.as_of, j.first_loyalty_order_at AS enrolled_at, j.first_loyalty_order_date AS enrollment_date,
         count_if(o.creation_time_utc >= j.first_loyalty_order_at - make_dt_interval(90)
                  AND o.creation_time_utc < j.first_loyalty_order_at) AS orders_before,
         count_if(o.creation_time_utc > j.first_loyalty_order_at
                  AND o.creation_time_utc <= j.first_loyalty_order_at + make_dt_interval(90)) AS orders_after,
         sum(CASE WHEN o.creation_time_utc >= j.first_loyalty_order_at - make_dt_interval(90)
                   AND o.creation_time_utc < j.first_loyalty_order_at THEN o.revenue ELSE 0 END) AS revenue_before,
         sum(CASE WHEN o.creation_time_utc > j.first_loyalty_order_at
                   AND o.creation_time_utc <= j.first_loyalty_order_at + make_dt_interval(90)
                  THEN o.revenue ELSE 0 END) AS revenue_after
  FROM customer_loyalty j JOIN order_facts o ON o.user_id = j.user_id
  WHERE j.loyalty_class = 'joined'
  GROUP BY j.user_id, j.as_of, j.first_loyalty_order_at, j.first_loyalty_order_date)
SELECT user_id, as_of, enrolled_at, enrollment_date, 90 AS window_days, orders_before, orders_after, revenue_before,
       revenue_after, orders_before * 30.0D / 90 AS orders_per_30d_before, orders_after * 30.0D / 90 AS orders_per_30d_after,
       (orders_after - orders_before) * 30.0D / 90 AS frequency_change,
       CAST(round(revenue_before / nullif(orders_before, 0), 2) AS DECIMAL(18,2)) AS aov_before,
       CAST(round(revenue_after / nullif(orders_after, 0), 2) AS DECIMAL(18,2)) AS aov_after,
       CAST(round(revenue_after / nullif(orders_after, 0), 2) AS DECIMAL(18,2))
         - CAST(round(revenue_before / nullif(orders_before, 0), 2) AS DECIMAL(18,2)) AS aov_change,
       date_add(enrollment_date, 90) <= as_of AS after_window_complete
FROM w"""

LOCATIONS = """
WITH customer_days AS (
  SELECT restaurant_id, user_id, count(DISTINCT order_date) AS order_days FROM order_facts
  WHERE user_id IS NOT NULL GROUP BY restaurant_id, user_id),
repeaters AS (SELECT restaurant_id, count_if(order_days >= 2) AS repeat_customers FROM customer_days
              GROUP BY restaurant_id),
p AS (
  SELECT restaurant_id, max(as_of) AS as_of, sum(revenue) AS revenue, count(*) AS orders,
         count(DISTINCT user_id) AS customers, count_if(is_guest) / count(*) AS guest_order_share,
         count_if(is_loyalty) / count(*) AS loyalty_order_share, count(DISTINCT order_date) AS active_days,
         min(order_date) AS first_order_date, max(order_date) AS last_order_date,
         count_if(days_before_as_of < 90) AS orders_last_90d,
         sum(CASE WHEN days_before_as_of < 90 THEN revenue ELSE 0 END) AS revenue_last_90d,
         sum(CASE WHEN days_before_as_of BETWEEN 90 AND 179 THEN revenue ELSE 0 END) AS revenue_prev_90d
  FROM order_facts GROUP BY restaurant_id),
d AS (
  SELECT p.*, coalesce(r.repeat_customers, 0) / nullif(p.customers, 0) AS repeat_customer_rate,
         CASE WHEN p.revenue_prev_90d <> 0 THEN (CAST(p.revenue_last_90d AS DOUBLE) - CAST(p.revenue_prev_90d AS DOUBLE))
              / CAST(p.revenue_prev_90d AS DOUBLE) * 100 END AS growth_90d_pct,
         p.orders_last_90d > 0 AND p.revenue_prev_90d <> 0 AS growth_rankable
  FROM p LEFT JOIN repeaters r ON r.restaurant_id = p.restaurant_id)
SELECT restaurant_id, as_of, CASE WHEN orders_last_90d > 0 THEN 'active' ELSE 'inactive' END AS status, revenue,
       orders, customers, guest_order_share, CAST(round(revenue / orders, 2) AS DECIMAL(18,2)) AS avg_order_value,
       CAST(revenue AS DOUBLE) / sum(CAST(revenue AS DOUBLE)) OVER () AS revenue_share, active_days,
       CAST(round(revenue / active_days, 2) AS DECIMAL(18,2)) AS revenue_per_active_day, repeat_customer_rate,
       loyalty_order_share, first_order_date, last_order_date, orders_last_90d, revenue_last_90d, revenue_prev_90d,
       growth_90d_pct, rank() OVER (ORDER BY revenue DESC) AS rank_revenue,
       rank() OVER (ORDER BY revenue / orders DESC) AS rank_aov,
       CASE WHEN growth_rankable THEN rank() OVER (PARTITION BY growth_rankable ORDER BY growth_90d_pct DESC) END
         AS rank_growth
FROM d"""

GOLD = [("as_of", AS_OF), ("order_facts", ORDER_FACTS), ("clv_cohort_curves", COHORTS), ("customer_lifetime_value", CLV),
        ("customer_loyalty", CUSTOMER_LOYALTY), ("location_performance", LOCATIONS),
        ("loyalty_impact", LOYALTY_IMPACT), ("price_change_events", PRICE_EVENTS), ("sales_trends", SALES_TRENDS),
        ("churn_indicators", CHURN), ("customer_segments", SEGMENTS), ("loyalty_customer_classes", LOYALTY_CLASSES),
        ("loyalty_enrollment_lift", ENROLLMENT_LIFT), ("pricing_effectiveness", PRICING)]
