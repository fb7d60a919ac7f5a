"""Issue 18, findings 1-3: re-delivered keys, corrected lines and misshapen CSV records.

A small bronze -> silver -> gold chain shaped like the order-line pipeline: bronze is
incremental on (line, order); silver has the one-row-per-line rule that quarantines real
duplicates; gold sums the prices. Every expected value is worked out by hand from the CSV text
written below.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

import duckdb
import pytest

from engine.cli import main

CONFIG = """\
name: redelivery
variables: {lake_dir: lake, on_duplicate: latest}
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[2]", shuffle_partitions: 2}
"""
FILES = {
    "pipelines/bronze/items.yaml": """\
name: bronze.items
steps:
  - type: read
    format: csv
    path: raw
    columns: {line: string, order_id: string, ts: string, price: string}
    add_metadata: true
incremental: {column: ts, keys: [line, order_id], lookback_hours: 72, on_duplicate: "${var:on_duplicate}"}
""",
    "pipelines/silver/items.yaml": """\
name: silver.items
inputs: {items: bronze.items}
conservation: items
steps:
  - type: parse
    columns: {price: {type: "decimal(10,2)"}}
  - type: quality
    rules:
      - {rule: unique, columns: [line], name: one_row_per_line}
  - type: select
    columns: [line, order_id, ts, price]
""",
    "marts/totals.yaml": """\
name: gold.totals
inputs: {items: silver.items}
steps:
  - type: aggregate
    metrics: {lines: count(*), revenue: sum(price)}
""",
}
HEADER = "line,order_id,ts,price\n"
DAY1 = HEADER + ("L1,O1,2024-03-01T10:00:00Z,11.89\n"
                 "L2,O1,2024-03-01T10:00:00Z,5.00\n"
                 "L2,O1,2024-03-01T10:00:00Z,5.00\n")  # an identical copy inside one delivery


def q(root, sql):
    with duckdb.connect(str(root / "lake/warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def last_record(root):
    return json.loads(sorted((root / "lake/_runs").glob("*.json"))[-1].read_text())


def accounting(root, spec):
    return {s["spec"]: s for s in last_record(root)["specs"]}[spec]["accounting"]


def project(make_project, files=None):
    root = make_project({**FILES, **(files or {})}, config=CONFIG)
    (root / "raw").mkdir(exist_ok=True)
    (root / "raw/day1.csv").write_text(DAY1)
    return root


@pytest.mark.slow
def test_redelivery_is_idempotent_and_a_correction_replaces_the_line_everywhere(spark, make_project, capsys):
    root = project(make_project)
    args = ["--project-dir", str(root)]
    assert main(["run", *args]) == 0
    # finding 1: a key twice in one delivery is stored once (3 records, 2 distinct keys)
    assert q(root, "select line, price from bronze.items order by 1") == [("L1", "11.89"), ("L2", "5.00")]
    assert accounting(root, "bronze.items") | {"by_step": None} == {
        "source": "records read", "rows_in": 3, "rows_out": 2, "quarantined": 0, "filtered": 0,
        "deduplicated": 1, "superseded": 0, "dropped": 0, "balanced": True, "by_step": None}

    # the same files again: nothing is read (the file manifest knows them), nothing committed
    version = json.loads((root / "lake/bronze/items/_current.json").read_text())["version"]
    assert main(["run", *args]) == 0
    entry = {s["spec"]: s for s in last_record(root)["specs"]}["bronze.items"]
    assert (entry["incremental"]["mode"], entry["incremental"]["files_read"], entry["version"]) == \
        ("up_to_date", [], version)
    # the same file delivered again (a new modification time): re-read, nothing changes, nothing audited
    os.utime(root / "raw/day1.csv", (1_900_000_000, 1_900_000_000))
    assert main(["run", *args]) == 0
    assert q(root, "select line, price from bronze.items order by 1") == [("L1", "11.89"), ("L2", "5.00")]
    acc = accounting(root, "bronze.items")
    # 3 records read + 2 stored = 2 out + 3 identical copies (L1 once, L2 twice)
    assert (acc["rows_in"], acc["rows_out"], acc["deduplicated"], acc["superseded"], acc["balanced"]) == \
        (5, 2, 3, 0, True)
    assert not (root / "lake/bronze/items__superseded/_current.json").exists()

    # finding 2: L1 is re-sent with a corrected price (11.89 -> 12.89) in a later file
    (root / "raw/day1_correction.csv").write_text(HEADER + "L1,O1,2024-03-01T10:00:00Z,12.89\n")
    assert main(["run", *args]) == 0
    capsys.readouterr()
    assert q(root, "select line, price from bronze.items order by 1") == [("L1", "12.89"), ("L2", "5.00")]
    audit = q(root, "select line, price, _superseded_reason from bronze.items__superseded")
    assert [(a[0], a[1]) for a in audit] == [("L1", "11.89")]
    assert audit[0][2].startswith("re-delivered key (line, order_id) = (L1, O1): replaced by a later delivery in ")
    assert audit[0][2].endswith("day1_correction.csv; changed: price")
    # silver keeps the corrected line (no "appears 2 times" quarantine), gold counts it once
    assert q(root, "select line, price from silver.items order by 1") == [("L1", Decimal("12.89")),
                                                                          ("L2", Decimal("5.00"))]
    assert q(root, "select count(*) from quarantine.silver_items") == [(0,)]
    assert q(root, "select lines, revenue from gold.totals") == [(2, Decimal("17.89"))]
    acc = accounting(root, "bronze.items")
    # only the new file is read: 1 record + 2 stored = 2 out + 1 superseded (the stored 11.89 row)
    assert (acc["rows_in"], acc["rows_out"], acc["deduplicated"], acc["superseded"], acc["balanced"]) == \
        (3, 2, 0, 1, True)
    assert accounting(root, "silver.items")["balanced"] is True

    # both files stay in the raw folder and both are re-delivered: re-read, nothing new audited
    for name in ("day1.csv", "day1_correction.csv"):
        os.utime(root / "raw" / name, (1_900_000_100, 1_900_000_100))
    assert main(["run", *args]) == 0
    assert q(root, "select line, price from bronze.items order by 1") == [("L1", "12.89"), ("L2", "5.00")]
    assert len(q(root, "select * from bronze.items__superseded")) == 1
    assert accounting(root, "bronze.items")["balanced"] is True


@pytest.mark.parametrize("rule", ["keep_all", "fail"])
def test_declared_keep_all_and_fail(spark, make_project, capsys, rule):
    root = project(make_project)
    (root / "raw/day1_correction.csv").write_text(HEADER + "L1,O1,2024-03-01T10:00:00Z,12.89\n")
    args = ["--project-dir", str(root), "--var", f"on_duplicate={rule}", "--select", "bronze.items"]
    code = main(["run", *args])
    out = capsys.readouterr().out
    if rule == "keep_all":
        assert code == 0
        assert q(root, "select line, price from bronze.items order by 1, 2") == [
            ("L1", "11.89"), ("L1", "12.89"), ("L2", "5.00")]
        assert accounting(root, "bronze.items")["deduplicated"] == 1  # the identical L2 copy only
    else:
        assert code == 1
        assert "on_duplicate: fail — key (line, order_id) = (L1, O1) was delivered again with different values" in out
        assert not (root / "lake/bronze/items/_current.json").exists()  # nothing committed


def test_a_record_with_a_14th_field_is_rejected_with_the_reason(spark, make_project, capsys):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    raw = make_project({}) / "raw"
    raw.mkdir(exist_ok=True)
    head = ("APP_NAME,RESTAURANT_ID,CREATION_TIME_UTC,ORDER_ID,USER_ID,PRINTED_CARD_NUMBER,IS_LOYALTY,CURRENCY,"
            "LINEITEM_ID,ITEM_CATEGORY,ITEM_NAME,ITEM_PRICE,ITEM_QUANTITY\n")
    good = "Alltown Fresh,R1,2023-03-08T11:00:00Z,O1,U1,,FALSE,USD,L1,Breakfast,\"Bagel, plain\",2.99,1\n"
    extra = "Alltown Fresh,R1,2023-03-08T11:01:00Z,O2,U1,,FALSE,USD,L2,Breakfast,Bagel,2.99,1,surprise\n"
    short = "Alltown Fresh,R1,2023-03-08T11:02:00Z,O3,U1,,FALSE,USD,L3,Breakfast,Bagel,2.99\n"
    (raw / "order_items.csv").write_text(head + good + extra + short)
    lake = raw.parent / "lake"
    code = main(["run", "--project-dir", str(repo), "--var", f"raw_dir={raw}", "--var", f"lake_dir={lake}",
                 "--select", "bronze.order_items"])
    assert code == 0, capsys.readouterr()
    with duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True) as con:
        kept = con.execute("select LINEITEM_ID, ITEM_NAME, ITEM_QUANTITY from bronze.order_items").fetchall()
        rejected = con.execute("select _rule, _reason, _record from bronze.order_items__rejected "
                               "order by _reason").fetchall()
    assert kept == [("L1", "Bagel, plain", "1")]  # a quoted comma is data, not a 14th field
    assert rejected == [("row_shape", "expected 13 fields, found 12", short.strip()),
                        ("row_shape", "expected 13 fields, found 14", extra.strip())]
    record = json.loads(sorted((lake / "_runs").glob("*.json"))[-1].read_text())
    acc = record["specs"][0]["accounting"]
    assert (acc["rows_in"], acc["rows_out"], acc["quarantined"], acc["balanced"]) == (3, 1, 2, True)
