"""The repository's own bronze specs, driven through the CLI as a user would."""

from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "tests" / "cases" / "bronze" / "raw"


def physical_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def test_bronze_counts_logical_records(spark, tmp_path, capsys):
    # The fixture: order_items has 5 records, two with quoted newlines (1 + 2 extra lines),
    # one with a quoted comma and one with doubled quotes; date_dim has CRLF endings.
    assert physical_lines(RAW / "order_items.csv") == 1 + 5 + 3
    assert b"\r\n" in (RAW / "date_dim.csv").read_bytes()
    lake = tmp_path / "lake"
    args = ["--project-dir", str(ROOT), "--var", f"raw_dir={RAW}", "--var", f"lake_dir={lake}"]
    assert main(["run", "--select", "layer:bronze", *args]) == 0
    out = capsys.readouterr().out
    assert "bronze.order_items" in out and "rows_out=5" in out

    assert main(["query", "select count(*) as n from bronze.order_items", "--format", "csv", *args]) == 0
    assert capsys.readouterr().out == "n\n5\n"
    assert main(["query", "select count(*) as n from bronze.order_item_options", "--format", "csv", *args]) == 0
    assert capsys.readouterr().out == "n\n3\n"

    assert main(["query", "select ITEM_NAME, ITEM_PRICE, PRINTED_CARD_NUMBER, IS_LOYALTY from bronze.order_items "
                 "order by LINEITEM_ID", "--format", "json", *args]) == 0
    import json
    rows = json.loads(capsys.readouterr().out)
    assert [r["ITEM_NAME"] for r in rows] == [
        "Bacon Egg & Cheese*", "MANDARIN CARDAMOM\nJUICE", "1/4 Smoked Chicken Plate, White Meat",
        'The "Big" One', "LINE ONE\nLINE TWO\nLINE THREE"]
    # every source column stays text, exactly as in the file
    assert rows[3]["ITEM_PRICE"] == "21.75" and rows[3]["PRINTED_CARD_NUMBER"] == "678037123456"
    assert rows[3]["IS_LOYALTY"] == "TRUE" and rows[0]["PRINTED_CARD_NUMBER"] is None

    assert main(["query", "select holiday_name, is_weekend, _run_id, _source_file from bronze.date_dim "
                 "order by date_key", "--format", "json", *args]) == 0
    dd = json.loads(capsys.readouterr().out)
    assert [d["holiday_name"] for d in dd] == ["New Year's Day", "New Year's Day Observed", None]
    assert dd[0]["is_weekend"] == "TRUE"  # no stray \r from the CRLF line ends
    assert dd[0]["_source_file"].endswith("/date_dim.csv") and dd[0]["_run_id"]

    assert main(["query", "select column_name, data_type from information_schema.columns where "
                 "table_schema='bronze' and table_name='order_items'", "--format", "csv", *args]) == 0
    types = dict(line.split(",") for line in capsys.readouterr().out.strip().splitlines()[1:])
    assert all(types[c] == "VARCHAR" for c in ("ITEM_PRICE", "ITEM_QUANTITY", "IS_LOYALTY", "CREATION_TIME_UTC"))
    assert set(types) >= {"_ingested_at", "_source_file", "_run_id"}

    assert main(["runs", *args]) == 0
    assert "ok" in capsys.readouterr().out


@pytest.mark.parametrize("damage, message", [
    ("missing", "input file not found"),
    ("empty", "input file is empty"),
    ("header", "header of"),
])
def test_bad_raw_input_writes_nothing(tmp_path, capsys, damage, message):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("order_items.csv", "order_item_options.csv", "date_dim.csv"):
        (raw / name).write_bytes((RAW / name).read_bytes())
    target = raw / "order_items.csv"
    if damage == "missing":
        target.unlink()
    elif damage == "empty":
        target.write_bytes(b"")
    else:
        target.write_text(target.read_text().replace("ITEM_PRICE", "ITEM_PRICES", 1))
    lake = tmp_path / "lake"
    code = main(["run", "--project-dir", str(ROOT), "--var", f"raw_dir={raw}", "--var", f"lake_dir={lake}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("error: pipelines/bronze/order_items.yaml:8: bronze.order_items: ")
    assert message in err[0]
    assert not lake.exists()  # nothing written, not even a run record
    if damage == "header":
        assert "column 12: expected 'ITEM_PRICE', found 'ITEM_PRICES'" in err[0]
