"""The restaurant's bronze and silver specs fed one file per day: five daily runs equal one full refresh.

The fixture (tests/cases/incremental) is five days of order lines and options, each day a new
file under order_items/ and order_item_options/, with the quirks the silver specs handle: a
test-app line and its option (day 2), a key delivered with spaces (day 2), a corrected day-2
line re-delivered in day 3's file, a quantity that does not parse (day 3), a line on day 4 whose
lineitem_id collides with a day-1 line, and an exact copy of an option row (day 4). Lake A gets
the days one at a time, each followed by a run; lake B gets all five files and one
``--full-refresh``. The full refresh is the plain definition of every table; the chain is the
incremental machinery (file manifest, keyed recomputation), so every table, every column, every
row must be equal. The run records say what each run read: the day-5 run must have read only
day 5's files in bronze and only day 5's rows in silver.order_items.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests/cases/incremental"
DAYS = [f"2024-03-0{d}" for d in range(1, 6)]
SELECT = "layer:bronze,layer:silver"
VOLATILE = {"_ingested_at", "_run_id", "_quarantined_at", "_superseded_at", "_superseded_by_run"}


def deliver(landing: Path, day: str) -> None:
    for folder in ("order_items", "order_item_options"):
        (landing / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(CASE / folder / f"{day}.csv", landing / folder / f"{day}.csv")


def run(landing: Path, lake: Path, *extra: str) -> dict:
    args = ["run", "--project-dir", str(ROOT), "--plain", "--select", SELECT,
            "--var", f"raw_dir={landing}", "--var", f"lake_dir={lake}", *extra]
    assert main(args) == 0
    record = json.loads(sorted((lake / "_runs").glob("*.json"))[-1].read_text())
    return {s["spec"]: s for s in record["specs"]}


def _plain(value, landing: Path):
    """A value as compared: the landing folder's path cut from text (an audit reason names the
    file), and the run-specific fields cut from a quarantined row's JSON record."""
    if not isinstance(value, str):
        return value
    text = value.replace(landing.as_uri(), "<raw>").replace(str(landing), "<raw>")
    if text.startswith("{"):
        record = json.loads(text)
        return json.dumps({k: v for k, v in record.items() if k not in VOLATILE}, sort_keys=True)
    return text


def tables(spark, lake: Path, landing: Path) -> dict[str, list]:
    out = {}
    for pointer in sorted(lake.glob("*/*/_current.json")):
        record = json.loads(pointer.read_text())
        frame = spark.read.parquet(str(lake / record["path"]))
        columns = sorted(c for c in frame.columns if c not in VOLATILE)
        rows = [tuple(_plain(v, landing) for v in r) for r in frame.select(*columns).collect()]
        out[record["table"]] = sorted(rows, key=repr)
        out[record["table"] + " columns"] = columns
    return out


@pytest.fixture(scope="module")
def chain(spark, tmp_path_factory):
    daily, full = tmp_path_factory.mktemp("daily"), tmp_path_factory.mktemp("full")
    for root in (daily, full):
        (root / "raw").mkdir()
        shutil.copy(CASE / "date_dim.csv", root / "raw/date_dim.csv")
    records = []
    for day in DAYS:
        deliver(daily / "raw", day)
        records.append(run(daily / "raw", daily / "lake"))
    for day in DAYS:
        deliver(full / "raw", day)
    full_record = run(full / "raw", full / "lake", "--full-refresh")
    return {"daily": tables(spark, daily / "lake", daily / "raw"), "full": tables(spark, full / "lake", full / "raw"),
            "records": records, "full_record": full_record}


@pytest.mark.slow
def test_five_daily_files_equal_one_full_refresh(chain):
    daily, full = chain["daily"], chain["full"]
    assert sorted(daily) == sorted(full)
    assert {"bronze.order_items", "bronze.order_items__superseded", "silver.order_items", "silver.orders",
            "quarantine.silver_order_items", "quarantine.silver_order_item_options"} <= set(full)
    for table in full:
        assert daily[table] == full[table], table
    # worked out by hand from the fixture: 5 days x 4 lines, day 2's key with spaces, the parse
    # failure and the collision line; the corrected line replaced its first delivery
    assert len(full["bronze.order_items"]) == 5 * 4 + 2 + 1 + 1  # + test-app, spaced key, parse, collision
    lines = {r[full["silver.order_items columns"].index("lineitem_id")] for r in full["silver.order_items"]}
    assert "d2l5" in lines and "d2l9" not in lines and "d1l1" not in lines and "d3l7" not in lines
    assert len(lines) == 5 * 4 + 1 - 1  # 20 lines + d2l5 - d1l1 (quarantined with its collision)


@pytest.mark.slow
def test_a_colliding_key_on_day_4_is_quarantined_as_a_full_run_quarantines_it(chain):
    for lake in ("daily", "full"):
        rows = chain[lake]["quarantine.silver_order_items"]
        columns = chain[lake]["quarantine.silver_order_items columns"]
        at = {c: columns.index(c) for c in ("_rule", "_reason", "_record")}
        collided = sorted((r[at["_rule"]], r[at["_reason"]], json.loads(r[at["_record"]])["order_id"])
                          for r in rows if json.loads(r[at["_record"]])["lineitem_id"] == "d1l1")
        assert collided == [("one_row_per_line", "key (lineitem_id) = (d1l1) appears 2 times", "d1o1"),
                            ("one_row_per_line", "key (lineitem_id) = (d1l1) appears 2 times", "d4o9")], lake
        options = chain[lake]["quarantine.silver_order_item_options"]
        columns = chain[lake]["quarantine.silver_order_item_options columns"]
        reasons = sorted(r[columns.index("_reason")] for r in options
                         if json.loads(r[columns.index("_record")])["lineitem_id"] == "d1l1")
        assert reasons == ["(order_id, lineitem_id) = (d1o1, d1l1) not found in lines"] * 2, lake
    day4 = {s: r["incremental"] for s, r in chain["records"][3].items()}
    assert day4["silver.order_items"]["mode"] == "keys"
    # day 4's lines and the day-1 line its collision takes out: 5 keys, 6 bronze rows
    assert (day4["silver.order_items"]["affected_keys"], day4["silver.order_items"]["rows_read"]) == (5, {"items": 6})


@pytest.mark.slow
def test_the_day_5_run_reads_only_day_5(chain):
    day5 = {s: r.get("incremental") or {} for s, r in chain["records"][4].items()}
    assert day5["bronze.order_items"]["mode"] == "new_files"
    assert (day5["bronze.order_items"]["files_read"], day5["bronze.order_items"]["files_skipped"]) == \
        (["order_items/2024-03-05.csv"], 4)
    assert day5["bronze.order_items"]["rows_read"] == 4
    assert day5["bronze.order_item_options"]["files_read"] == ["order_item_options/2024-03-05.csv"]
    assert day5["bronze.date_dim"]["mode"] == "up_to_date"
    items = day5["silver.order_items"]
    assert (items["mode"], items["rows_read"], items["affected_keys"]) == ("keys", {"items": 4}, 4)
    assert items["rows_kept"] > 0
    options = day5["silver.order_item_options"]
    assert options["mode"] == "keys" and options["rows_read"]["options"] == 3  # day 5's option rows
    assert options["affected_keys"] == 4  # day 5's four (order, line) pairs: new options, lines, bronze rows
    assert day5["silver.order_lines"]["mode"] == "keys" and day5["silver.order_lines"]["rows_read"]["items"] == 4
    assert (day5["silver.orders"]["mode"], day5["silver.orders"]["affected_keys"]) == ("keys", 3)
    full = chain["full_record"]
    assert full["silver.order_items"]["incremental"]["note"] == "full pass: --full-refresh"
    assert full["bronze.order_items"]["incremental"]["files_read"] == [f"order_items/{d}.csv" for d in DAYS]
