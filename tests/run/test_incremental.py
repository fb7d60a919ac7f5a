"""Incremental bronze: watermark + lookback, merge on keys, --full-refresh, --backfill."""

from __future__ import annotations

import json

import duckdb

from engine.cli import main

CONFIG = """\
name: inc
variables: {lake_dir: lake}
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[2]", shuffle_partitions: 2}
"""
SPEC = """\
name: bronze.events
steps:
  - type: read
    format: csv
    path: raw/events.csv
    columns: {id: string, ts: string, v: string}
    add_metadata: true
incremental: {column: ts, keys: [id], lookback_hours: 24}
"""
DAY = "2024-01-0{}T12:00:00Z"


def write(root, rows):
    (root / "raw").mkdir(exist_ok=True)
    (root / "raw/events.csv").write_text("id,ts,v\n" + "".join(f"{i},{t},{v}\n" for i, t, v in rows))


def table(root):
    with duckdb.connect(str(root / "lake/warehouse.duckdb"), read_only=True) as con:
        return con.execute("select id, ts, v from bronze.events order by id, v").fetchall()


def pointer(root):
    return json.loads((root / "lake/bronze/events/_current.json").read_text())


def test_incremental_lifecycle(spark, make_project, capsys):
    root = make_project({"pipelines/bronze/events.yaml": SPEC}, config=CONFIG)
    args = ["--project-dir", str(root)]
    write(root, [(1, DAY.format(1), "a"), (2, DAY.format(2), "b"), (3, DAY.format(3), "c")])
    assert main(["run", *args]) == 0
    first = table(root)
    assert first == [("1", DAY.format(1), "a"), ("2", DAY.format(2), "b"), ("3", DAY.format(3), "c")]
    assert pointer(root)["watermark"] == "2024-01-03T12:00:00"

    # the same input again: nothing duplicates
    assert main(["run", *args]) == 0
    assert table(root) == first

    # new days arrive; day 2 was changed at the source, but lies before watermark - 24h
    # (2024-01-02T12:00 is exactly at the bound, so it IS re-read: move it earlier)
    write(root, [(1, DAY.format(1), "a"), (2, "2024-01-02T11:00:00Z", "B"), (3, DAY.format(3), "c"),
                 (4, DAY.format(4), "d"), (5, DAY.format(5), "e"), (5, DAY.format(5), "e")])
    assert main(["run", *args]) == 0
    # an identical copy of a record (5 twice) is stored once: re-delivery never duplicates
    assert table(root) == [("1", DAY.format(1), "a"), ("2", DAY.format(2), "b"), ("3", DAY.format(3), "c"),
                           ("4", DAY.format(4), "d"), ("5", DAY.format(5), "e")]
    assert pointer(root)["watermark"] == "2024-01-05T12:00:00"

    # a failure before the commit: table and watermark stay as they were
    write(root, [(6, DAY.format(6), "f")])
    assert main(["run", "--inject-fault", "bronze.events=commit_error", *args]) == 1
    assert pointer(root)["watermark"] == "2024-01-05T12:00:00" and len(table(root)) == 5

    # backfill the window holding day 2: the changed value replaces the stored one
    write(root, [(1, DAY.format(1), "a"), (2, "2024-01-02T11:00:00Z", "B"), (3, DAY.format(3), "c")])
    assert main(["run", "--backfill", "2024-01-02", "2024-01-02", *args]) == 0
    assert ("2", "2024-01-02T11:00:00Z", "B") in table(root) and ("2", DAY.format(2), "b") not in table(root)
    assert len(table(root)) == 5

    # full refresh: only what the source holds now
    write(root, [(7, DAY.format(7), "g")])
    assert main(["run", "--full-refresh", *args]) == 0
    assert table(root) == [("7", DAY.format(7), "g")]
    assert pointer(root)["watermark"] == "2024-01-07T12:00:00"
    capsys.readouterr()
    assert main(["run", "--full-refresh", "--backfill", "2024-01-01", "2024-01-02", *args]) == 2
    assert "do not go together" in capsys.readouterr().err
