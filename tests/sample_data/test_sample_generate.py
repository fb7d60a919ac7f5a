"""Raw format, determinism, ids, quirks and ground truth of the generated files."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sample_data import published as pub
from sample_data.generate import generate

DATE_DIM_SHA256 = "4168f66d142e8263ee5ed4e223399d62eb7e7eea4c5b5f19f8dbc9c1bf9a1ea1"
ITEMS_HEADER = ("APP_NAME,RESTAURANT_ID,CREATION_TIME_UTC,ORDER_ID,USER_ID,PRINTED_CARD_NUMBER,"
                "IS_LOYALTY,CURRENCY,LINEITEM_ID,ITEM_CATEGORY,ITEM_NAME,ITEM_PRICE,ITEM_QUANTITY")
OPTIONS_HEADER = "ORDER_ID,LINEITEM_ID,OPTION_GROUP_NAME,OPTION_NAME,OPTION_PRICE,OPTION_QUANTITY"


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def items(sample_full):
    return _read(sample_full[0] / "order_items.csv")


@pytest.fixture(scope="module")
def options(sample_full):
    return _read(sample_full[0] / "order_item_options.csv")


def test_files_and_headers(sample_full):
    out, counts = sample_full
    names = sorted(p.name for p in out.iterdir())
    assert names == ["date_dim.csv", "ground_truth.csv", "order_item_options.csv", "order_items.csv",
                     "sample_manifest.json"]
    raw = (out / "order_items.csv").read_bytes()
    assert raw.startswith(ITEMS_HEADER.encode() + b"\n")
    assert b"\r\n" not in raw
    assert (out / "order_item_options.csv").read_bytes().startswith(OPTIONS_HEADER.encode() + b"\n")
    manifest = json.loads((out / "sample_manifest.json").read_text())
    assert manifest["scale"] == 1.0 and manifest["seed"] == 42
    assert manifest["counts"]["items"] == counts["items"]


def test_date_dim_is_the_real_file_byte_for_byte(sample_full):
    shipped = (Path(generate.__code__.co_filename).parent / "date_dim.csv").read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == DATE_DIM_SHA256
    written = (sample_full[0] / "date_dim.csv").read_bytes()
    assert hashlib.sha256(written).hexdigest() == DATE_DIM_SHA256
    assert written.count(b"\r\n") == 366 and len(written) == 15_901


def test_physical_lines_exceed_records_by_embedded_newlines(sample_full, items):
    raw = (sample_full[0] / "order_items.csv").read_bytes()
    records = len(items)
    with_newline = int(items.ITEM_NAME.str.contains("\n", regex=False).sum())
    assert with_newline == pub.NEWLINE_RECORDS
    assert raw.count(b"\n") == records + 1 + with_newline
    assert b'"MANDARIN CARDAMOM\nJUICE"' in raw or b'"GINGER TURMERIC\nSHOT"' in raw


def test_minimal_quoting(sample_full):
    """Fields are quoted only when they hold a comma, a quote or a newline (csv.QUOTE_MINIMAL)."""
    text = (sample_full[0] / "order_item_options.csv").read_text()
    head = text[:200_000]
    rows = list(csv.reader(io.StringIO(head)))[1:-1]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    assert head.startswith(OPTIONS_HEADER + "\n" + buf.getvalue()[:50_000])
    assert '"No Wrap, Make It A Bowl"' in text


def test_values_and_booleans(items, options):
    assert set(items.IS_LOYALTY) == {"TRUE", "FALSE"}
    assert set(items.CURRENCY) == {"USD"}
    assert items.CREATION_TIME_UTC.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z").all()
    assert items.ITEM_PRICE.str.fullmatch(r"\d+\.\d\d").all()
    assert set(options.OPTION_QUANTITY) == {"1"}
    assert items.CREATION_TIME_UTC.min() == pub.FIRST_TS and items.CREATION_TIME_UTC.max() == pub.LAST_TS


def test_card_number_exactly_when_loyal(items):
    loyal = items.IS_LOYALTY == "TRUE"
    card = items.PRINTED_CARD_NUMBER
    assert ((card != "") == loyal).all()
    assert card[loyal].str.fullmatch(r"6780\d{8}").all()
    assert (items.USER_ID[loyal] == "").sum() == pub.LOYALTY_GUEST_ROWS


def test_object_ids_track_creation_time(items):
    ids = items.ORDER_ID.str.fullmatch(r"[0-9a-f]{24}")
    assert ids.all()
    created = pd.to_datetime(items.CREATION_TIME_UTC, format="ISO8601", utc=True)
    secs = created.dt.tz_convert(None).to_numpy().astype("datetime64[s]").astype(np.int64)
    order_ts = items.ORDER_ID.str[:8].apply(int, base=16).values
    assert np.abs(order_ts - secs).max() <= 2
    ok = items.LINEITEM_ID != ""
    line_ts = items.LINEITEM_ID[ok].str[:8].apply(int, base=16).values
    assert ((line_ts >= order_ts[ok.values]) & (line_ts <= order_ts[ok.values] + 3600)).all()
    assert datetime.fromtimestamp(int("5e9f41ec", 16), timezone.utc).date().isoformat() == "2020-04-21"


def test_rows_not_in_time_order_and_one_timestamp_per_order(items):
    created = pd.to_datetime(items.CREATION_TIME_UTC, format="ISO8601", utc=True)
    assert not created.is_monotonic_increasing and not created.is_monotonic_decreasing
    assert items.groupby("ORDER_ID").CREATION_TIME_UTC.nunique().max() == 1
    assert items.CREATION_TIME_UTC.nunique() == items.ORDER_ID.nunique()


def test_published_quirks_present(items, options):
    mal = items[items.LINEITEM_ID == ""]
    assert len(mal) == 1
    row = mal.iloc[0]
    assert (row.ITEM_CATEGORY, row.ITEM_NAME, row.ITEM_PRICE, row.ITEM_QUANTITY) == ("", "", "4.39", "0")
    assert (row.ORDER_ID, row.USER_ID, row.CREATION_TIME_UTC) == (
        pub.MALFORMED["order"], pub.MALFORMED["user"], pub.MALFORMED["ts"])
    assert (items.ORDER_ID == pub.MALFORMED["order"]).sum() == 25
    cat = items.ITEM_CATEGORY
    assert (cat.str.startswith("BBQ Plateshttps://")).sum() == 70
    assert (cat == "Bowls0").sum() == 52 and (cat == "Sandwiches`1").sum() == 30
    assert (cat == "Sqalads").sum() == 8
    assert (items.ITEM_PRICE == "0.00").sum() == pub.PRICE["zero"]
    assert items.APP_NAME.value_counts().to_dict().keys() == pub.APP_ROWS.keys()
    assert options.duplicated().sum() == pub.DUPLICATES["extra_rows"]
    orphans = ~(options.ORDER_ID + options.LINEITEM_ID).isin(set(items.ORDER_ID + items.LINEITEM_ID))
    assert orphans.sum() == pub.ORPHANS["rows"] and options.ORDER_ID[orphans].str.startswith("65d5").all()
    assert items.ITEM_QUANTITY.astype(int).max() == 500
    sizes = items.groupby("ORDER_ID").size()
    for order_id, lines in pub.LARGEST_ORDERS.items():
        assert sizes[order_id] == lines


def test_heavy_accounts_carry_published_ids(items):
    per_user = items[items.USER_ID != ""].groupby("USER_ID").ORDER_ID.nunique()
    for uid, (_lines, orders, _locs) in pub.HEAVY_ACCOUNTS.items():
        assert per_user[uid] == orders
    assert per_user.max() == pub.ORDERS_PER_CUSTOMER_MAX


def test_ground_truth_matches_the_files(sample_full, items):
    truth = _read(sample_full[0] / "ground_truth.csv")
    assert list(truth.columns[:7]) == ["user_id", "kind", "first_order_utc", "true_rate_per_day",
                                       "dropout_prob", "alive_at_end", "dropout_date"]
    users = items[items.USER_ID != ""].groupby("USER_ID").agg(
        orders=("ORDER_ID", "nunique"), last=("CREATION_TIME_UTC", "max"))
    t = truth.set_index("user_id")
    assert set(users.index) == set(t.index)
    assert (t.loc[users.index, "orders"].astype(int) == users.orders).all()
    cust = t[t.kind == "customer"]
    dead = cust.alive_at_end == "FALSE"
    assert (cust.dropout_date[dead] != "").all() and (cust.dropout_date[~dead] == "").all()
    # a customer drops out right after a purchase: the dropout date is the last order's date
    assert (users.loc[cust.index[dead], "last"].str[:10] == cust.dropout_date[dead]).all()
    rates = cust.true_rate_per_day.astype(float)
    assert 0.05 < dead.mean() < 0.95 and rates.median() < rates.mean()   # gamma: skewed rates
    assert (t.expected_orders_next_365d.astype(float)[t.alive_at_end == "FALSE"] == 0).all()


def test_same_seed_same_bytes_other_seed_other_bytes(sample_small, tmp_path):
    again = tmp_path / "again"
    generate(again, scale=0.02, seed=42)
    for name in ("order_items.csv", "order_item_options.csv", "ground_truth.csv", "date_dim.csv"):
        assert (again / name).read_bytes() == (sample_small[0] / name).read_bytes(), name
    other = tmp_path / "other"
    generate(other, scale=0.02, seed=43)
    assert (other / "order_items.csv").read_bytes() != (sample_small[0] / "order_items.csv").read_bytes()


def test_scale_is_validated(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, scale=0.001)
    with pytest.raises(ValueError):
        generate(tmp_path, scale=101)
