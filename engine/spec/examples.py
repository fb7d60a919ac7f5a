"""One example per step type and rule, as YAML text (shown in docs/reference.md).

Each example is validated against its model by the reference test, so the documentation
never shows a step the engine would reject.
"""

from __future__ import annotations

STEP_EXAMPLES: dict[str, str] = {
    "read": """\
- type: read
  format: csv
  path: ${var:raw_dir}/orders.csv
  columns: {ORDER_ID: string, CREATED_AT: string, AMOUNT: string}
  add_metadata: true""",
    "jdbc": """\
- type: jdbc
  table: order_items
  partition_column: id
  num_partitions: 8
  watermark_column: created_at""",
    "select": """\
- type: select
  columns: [order_id, "amount * 100 AS amount_cents"]""",
    "rename": """\
- type: rename
  columns: {ORDER_ID: order_id}""",
    "cast": """\
- type: cast
  columns: {amount: "decimal(10,2)", created_at: timestamp}""",
    "derive": """\
- type: derive
  columns:
    unit_price: item_price / nullif(item_quantity, 0)
    is_bulk: item_quantity >= 100""",
    "trim": """\
- type: trim
  columns: [item_name, item_category]""",
    "map_values": """\
- type: map_values
  column: item_category
  mapping: {Buger: Burger, Drnks: Drinks}""",
    "filter": """\
- type: filter
  condition: app_name <> 'Test app'""",
    "dedupe": """\
- type: dedupe
  keys: [order_id, lineitem_id]
  order_by: [_ingested_at DESC]""",
    "join": """\
- type: join
  left: items
  right: line_options
  on: [order_id, lineitem_id]
  how: left""",
    "aggregate": """\
- type: aggregate
  group_by: [order_id]
  metrics:
    lines: count(*)
    revenue: sum(line_revenue)""",
    "window": """\
- type: window
  partition_by: [user_id]
  order_by: [order_date]
  frame: {start: -6, end: 0}
  columns:
    revenue_7_orders: sum(revenue)""",
    "union": """\
- type: union
  inputs: [web_orders, app_orders]
  allow_missing_columns: true""",
    "sql": """\
- type: sql
  query: |
    SELECT o.order_date, count(*) AS orders
    FROM orders o JOIN calendar c ON c.date = o.order_date
    GROUP BY o.order_date""",
    "parse": """\
- type: parse
  columns:
    CREATED_AT: {type: timestamp, rename: created_at}
    AMOUNT: {type: "decimal(10,2)", rename: amount}
    IS_MEMBER: {type: boolean, true_values: ["TRUE", "1"], false_values: ["FALSE", "0"]}""",
    "quality": """\
- type: quality
  rules:
    - {rule: not_null, columns: [order_id]}
    - {rule: range, column: amount, min: 0, action: warn}
  max_quarantined_pct: 5""",
    "hmac": """\
- type: hmac
  column: card_number
  token_column: card_token
  key: ${secret:card_hmac_key}
  last_digits_column: card_last4""",
    "calendar": """\
- type: calendar
  input: calendar
  dates_from: orders
  date_column: order_date""",
    "clv_model": """\
- type: clv_model
  columns: {frequency: repeat_days, recency: recency_days, T: tenure_days, monetary: avg_repeat_revenue}
  horizon: 365
  min_repeat_customers: 100""",
}

RULE_EXAMPLES: dict[str, str] = {
    "not_null": "{rule: not_null, columns: [order_id, lineitem_id]}",
    "unique": "{rule: unique, columns: [order_id, lineitem_id], action: fail}",
    "accepted_values": "{rule: accepted_values, column: currency, values: [USD]}",
    "range": "{rule: range, column: item_quantity, min: 1, max: 1000, action: warn}",
    "regex": "{rule: regex, column: order_id, pattern: '[0-9a-f]{8}'}",
    "exists_in": "{rule: exists_in, columns: [order_id], frame: orders}",
    "expression": "{rule: expression, condition: 'item_price >= 0', name: price_not_negative}",
}
