"""The repository's silver specs on a hand-made bronze batch where every kind of bad row occurs.

raw/order_items.csv (tests/cases/silver/bad_batch) holds 14 records: 3 good lines, 1 exact copy
of a good line, 1 line sent twice with a corrected price (5.00, then 6.00), 1 test-app line, and
7 bad rows - an unparsable timestamp, a non-numeric price, a null order id, an unknown app, a
negative quantity, a 13-digit card number and a byte that is not UTF-8. Bronze (incremental,
``on_duplicate: latest``) stores the exact copy once and keeps the later price, auditing the
earlier one; silver no longer quarantines the re-sent line (issue 18). raw/order_item_options.csv holds 6 options: 2 good,
1 exact copy, 1 orphan (order not in the items), 1 on the test-app line, 1 on a quarantined line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.cli import main
from engine.spec.yaml_source import load_yaml_file

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests" / "cases" / "silver" / "bad_batch"
DEV_KEY = b"medallion-local-development-key"  # the documented local development key


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("bad_batch") / "lake"
    code = main(["run", "--project-dir", str(ROOT), "--var", f"raw_dir={CASE / 'raw'}",
                 "--var", f"lake_dir={lake}", "--select", "layer:bronze layer:silver"])
    assert code == 0
    return lake


def query(lake: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def expected() -> dict:
    return load_yaml_file(CASE / "expected.yaml").data


@pytest.mark.parametrize("table", ["quarantine.silver_order_items", "quarantine.silver_order_item_options"])
def test_each_bad_row_is_quarantined_under_its_rule(lake, table):
    rows = query(lake, f"select _rule, _record, _reason, _spec, _run_id from {table}")
    got = sorted((r[0], json.loads(r[1])["lineitem_id"], r[2]) for r in rows)
    want = sorted(tuple(x) for x in expected()[table])
    assert [(g[0], g[1]) for g in got] == [(w[0], w[1]) for w in want]
    for g, w in zip(got, want):
        if w[2] is not None:
            assert g[2] == w[2]
    assert all(r[3] == table.split(".")[1].replace("_", ".", 1) and r[4] for r in rows)


def test_the_bad_byte_is_named(lake):
    (reason,) = query(lake, "select _reason from quarantine.silver_order_items where _rule = 'text_is_valid_utf8'")[0]
    assert reason.startswith("fails: NOT exists(array(app_name")


def test_conservation_balances_and_is_reported(lake):
    record = json.loads(sorted((lake / "_runs").glob("*.json"))[-1].read_text())
    by_spec = {s["spec"]: s for s in record["specs"]}
    for spec, counts in expected()["conservation"].items():
        acc = by_spec[spec]["accounting"]
        assert acc["balanced"] is True
        assert {k: acc[k] for k in counts} == counts
    rules = {r["rule"]: r for r in by_spec["silver.order_items"]["rules"]}
    # rows reaching the rules: 12 bronze rows - 1 filtered - 2 unparsable = 9; none shares a line id
    assert rules["one_row_per_line"]["checked"] == 9 and rules["one_row_per_line"]["failed"] == 0
    assert rules["card_iff_loyalty"]["action"] == "warn"


def test_good_rows_flow_on_cleaned(lake):
    rows = query(lake, "select lineitem_id, item_category, item_name_normalized, order_date, unit_price, is_bulk, "
                       "is_guest, card_token, card_last4 from silver.order_items order by lineitem_id")
    token = hmac.new(DEV_KEY, b"678011308999", hashlib.sha256).hexdigest()
    assert [r[0] for r in rows] == ["64086b84d5fbd8718a0717e6", "64086b84d5fbd8718a0717e7", "640900000000000000000004",
                                    "64094ab0bbbbbbbbbbbbbbb1"]
    assert rows[0][1:] == ("Breakfast", "bacon egg & cheese", __import__("datetime").date(2023, 3, 8),
                           Decimal("5.9900"), False, False, token, "8999")
    assert rows[1][2] == "green machine"
    # 2023-03-09T03:30Z is 22:30 on March 8 in New York; Bowls0 is Bowls; 21.75 for 3 is 7.25 each
    assert rows[3][1:7] == ("Bowls", "chipotle bowl", __import__("datetime").date(2023, 3, 8), Decimal("7.2500"),
                            False, True)
    assert rows[3][7] is None and rows[3][8] is None
    # the re-sent line keeps its corrected price (the later record of the delivery)
    assert rows[2][1:5] == ("Breakfast", "bagel", __import__("datetime").date(2023, 3, 8), Decimal("6.0000"))


def test_lines_and_orders(lake):
    lines = dict(query(lake, "select lineitem_id, line_revenue from silver.order_lines"))
    assert lines == {"64086b84d5fbd8718a0717e6": Decimal("6.99"),  # 5.99 + Add Egg 1.00 + bowl 0.00
                     "64086b84d5fbd8718a0717e7": Decimal("7.49"),
                     "640900000000000000000004": Decimal("6.00"),
                     "64094ab0bbbbbbbbbbbbbbb1": Decimal("21.75")}
    orders = query(lake, "select order_id, lines, units, revenue, order_date, is_loyalty from silver.orders order by 1")
    assert [o[:4] for o in orders] == [("64086b8463905bf310002079", 2, 2, Decimal("14.48")),
                                       ("640900000000000000000b04", 1, 1, Decimal("6.00")),
                                       ("64094ab0aaaaaaaaaaaaaaaa", 1, 3, Decimal("21.75"))]
    assert orders[0][5] is True and orders[1][5] is False and orders[2][5] is False
    cal = query(lake, "select date, is_generated from silver.calendar")
    assert [(str(d), g) for d, g in cal] == [("2023-03-08", False)]


def test_no_clear_card_number_outside_bronze(lake):
    cards = {r[0] for r in query(lake, "select distinct PRINTED_CARD_NUMBER from bronze.order_items "
                                       "where PRINTED_CARD_NUMBER is not null")}
    assert cards == {"678011308999", "6780113089991"}
    tables = query(lake, "select table_schema, table_name from information_schema.tables where table_schema <> 'bronze'")
    assert {t[0] for t in tables} == {"silver", "quarantine"}
    for schema, name in tables:
        cols = [c[0] for c in query(lake, f"select column_name from information_schema.columns where "
                                          f"table_schema='{schema}' and table_name='{name}'")]
        assert "PRINTED_CARD_NUMBER" not in cols and "printed_card_number" not in cols
        for row in query(lake, f"select * from {schema}.{name}"):
            text = " ".join(str(v) for v in row)
            assert not any(card in text for card in cards), f"{schema}.{name} holds a card number"


def test_the_re_sent_line_is_audited_in_bronze(lake):
    audit = query(lake, "select LINEITEM_ID, ITEM_PRICE, _superseded_reason from bronze.order_items__superseded")
    assert [(a[0], a[1]) for a in audit] == [("640900000000000000000004", "5.00")]
    assert audit[0][2].startswith("re-delivered key (LINEITEM_ID, ORDER_ID) = "
                                  "(640900000000000000000004, 640900000000000000000b04): replaced by a later delivery")
    assert audit[0][2].endswith("changed: ITEM_PRICE")
