"""Which part of a silver/gold table a run recomputes, decided from the lake's change records.

Real lake commits (tiny Parquet files written with pyarrow) and the real decision function;
each expected part or reason follows from the rules in engine/run/derived.py's docstring.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.io.lake import LocalLake, Publish
from engine.run import derived
from engine.run.incremental import LoadMode
from engine.spec.loader import load_spec

SPEC = """\
name: gold.daily
inputs: {orders: silver.orders, stores: silver.stores}
incremental: {by: order_date, lookback_days: 2}
steps:
  - type: join
    left: orders
    right: stores
    on: [store_id]
    how: left
  - type: aggregate
    group_by: [order_date, region]
    metrics: {n: count(*)}
"""
ORDERS = pa.table({"order_id": ["a", "b"], "store_id": ["s1", "s2"],
                   "order_date": [date(2024, 3, 1), date(2024, 3, 2)]})
STORES = pa.table({"store_id": ["s1", "s2"], "region": ["n", "s"]})


def commit(lake, table, data, *, change=None, digest=None, inputs=None, fingerprint=None):
    pending = lake.begin(table)
    pending.path.mkdir(parents=True)
    pq.write_table(data, pending.path / "part-0.parquet")
    columns = [{"name": f.name, "type": {"string": "string", "date32[day]": "date"}[str(f.type)]}
               for f in data.schema]
    return lake.commit_all(Publish(pending, data.num_rows, columns, [], None, inputs or {}, change, fingerprint,
                                   digest), [], run_id="r")


@pytest.fixture()
def setup(tmp_path):
    path = tmp_path / "daily.yaml"
    path.write_text(SPEC, encoding="utf-8")
    loaded = load_spec(path, {})
    lake = LocalLake(tmp_path / "lake")
    commit(lake, "silver.orders", ORDERS, digest="2:1")
    commit(lake, "silver.stores", STORES, digest="2:2")
    current = commit(lake, "gold.daily", pa.table({"order_date": [date(2024, 3, 1)], "region": ["n"]}),
                     inputs={"silver.orders": 1, "silver.stores": 1},
                     fingerprint=derived.fingerprint(loaded.spec))
    return lake, loaded, current


def decide(spark, lake, loaded, current, mode=None):
    return derived.plan(spark, lake, loaded.spec, loaded, mode or LoadMode(), current)


def test_nothing_new_is_up_to_date(spark, setup):
    lake, loaded, current = setup
    part = decide(spark, lake, loaded, current)
    assert (part.mode, part.reason) == ("up_to_date", "up to date: no input changed since version 1")
    commit(lake, "silver.stores", STORES, change={"kind": "full"}, digest="2:2")  # rebuilt, same rows
    assert decide(spark, lake, loaded, current).mode == "up_to_date"


def test_a_range_change_of_the_driving_input(spark, setup):
    lake, loaded, current = setup
    commit(lake, "silver.orders", ORDERS, change={"kind": "range", "column": "order_date", "since": "2024-03-02"},
           digest="2:9")
    part = decide(spark, lake, loaded, current)
    assert (part.mode, part.start, part.driving) == ("range", date(2024, 2, 29), {"orders"})  # 2 days' lookback
    assert part.change() == {"kind": "range", "column": "order_date", "since": "2024-02-29"}


def test_a_change_in_another_column_is_looked_up_in_the_rows(spark, setup):
    lake, loaded, current = setup
    commit(lake, "silver.orders", ORDERS, change={"kind": "keys", "columns": ["order_id"]}, digest="2:9")
    keys = lake.changes_location("silver.orders", 2)
    keys.mkdir(parents=True)
    pq.write_table(pa.table({"order_id": ["b"]}), keys / "part-0.parquet")
    part = decide(spark, lake, loaded, current)
    assert (part.mode, part.start) == ("range", date(2024, 2, 29))  # order b is of 2024-03-02


@pytest.mark.parametrize(("change", "reason"), [
    ({"kind": "full"}, "full pass: input silver.stores was rebuilt fully (version 2)"),
    ({"kind": "range", "column": "store_id", "since": "2024-01-01"},
     "full pass: input 'stores' (silver.stores) changed and is read whole (it has no order_date)"),
])
def test_a_changed_lookup_is_a_full_pass(spark, setup, change, reason):
    lake, loaded, current = setup
    commit(lake, "silver.stores", STORES, change=change, digest="2:7")
    assert decide(spark, lake, loaded, current).reason == reason


def test_full_pass_reasons(spark, setup, tmp_path):
    lake, loaded, current = setup
    assert decide(spark, lake, loaded, None).reason == "full pass: first build"
    assert decide(spark, lake, loaded, current, LoadMode("full")).reason == "full pass: --full-refresh"
    edited = tmp_path / "edited.yaml"
    edited.write_text(SPEC.replace("count(*)", "count(order_id)"), encoding="utf-8")
    other = load_spec(edited, {})
    assert decide(spark, lake, other, current).reason == (
        "full pass: the spec or its variables changed since version 1")
    documented = tmp_path / "documented.yaml"
    documented.write_text(SPEC + "description: only words\n", encoding="utf-8")
    assert decide(spark, lake, load_spec(documented, {}), current).mode == "up_to_date"
    for _ in range(5):  # versions 2-6: nothing changed in any of them
        commit(lake, "silver.orders", ORDERS, change={"kind": "none"}, digest="2:5")
    assert decide(spark, lake, loaded, current).mode == "up_to_date"
    commit(lake, "silver.orders", ORDERS, change={"kind": "full"}, digest="2:7")  # 7: version 2 is pruned
    assert decide(spark, lake, loaded, current).reason == (
        "full pass: version 2 of input silver.orders is no longer kept (its change is unknown)")
    built_on_7 = dataclasses.replace(current, inputs={"silver.orders": 7, "silver.stores": 1})
    lake.rollback("silver.orders", 6)
    commit(lake, "silver.orders", ORDERS, change={"kind": "full"}, digest="2:7")  # 8: rebuilt as 7 was
    assert decide(spark, lake, loaded, built_on_7).mode == "up_to_date"  # the same rows as 7
    lake.rollback("silver.orders", 4)
    assert decide(spark, lake, loaded, built_on_7).reason == (
        "full pass: input silver.orders was rolled back (version 7 -> 4)")


def test_an_entity_that_left_the_input_is_found_in_the_version_read_before(spark, setup):
    """Order b is gone from version 2 (quarantined upstream, say): its date comes from version 1,
    the version gold.daily was built from, so its day is recomputed without it."""
    lake, loaded, current = setup
    commit(lake, "silver.orders", ORDERS.slice(0, 1), change={"kind": "keys", "columns": ["order_id"]}, digest="1:3")
    keys = lake.changes_location("silver.orders", 2)
    keys.mkdir(parents=True)
    pq.write_table(pa.table({"order_id": ["b"]}), keys / "part-0.parquet")
    part = decide(spark, lake, loaded, current)
    assert (part.mode, part.start) == ("range", date(2024, 2, 29))  # b was of 2024-03-02, minus 2 days


def test_a_bronze_run_change_names_its_rows_and_the_rows_it_replaced(spark, tmp_path):
    """kind run: the rows of the input whose _run_id is the run's, and the rows that run moved to
    the audit table; for affected_keys those rows' keys are the part."""
    path = tmp_path / "per_user.yaml"
    path.write_text("name: gold.per_user\ninputs: {orders: bronze.orders}\nincremental: {affected_keys: user_id}\n"
                    "steps:\n  - {type: aggregate, group_by: [user_id], metrics: {n: count(*)}}\n", encoding="utf-8")
    loaded = load_spec(path, {})
    lake = LocalLake(tmp_path / "lake")
    old = pa.table({"order_id": ["a", "b"], "user_id": ["u1", "u2"], "_run_id": ["r1", "r1"]})
    commit(lake, "bronze.orders", old)
    current = commit(lake, "gold.per_user", pa.table({"user_id": ["u1", "u2"]}), inputs={"bronze.orders": 1},
                     fingerprint=derived.fingerprint(loaded.spec))
    # run r2 adds order c (u3) and re-delivers b under another user (u4): the stored b (u2) is audited
    commit(lake, "bronze.orders", pa.table({"order_id": ["a", "b", "c"], "user_id": ["u1", "u4", "u3"],
                                            "_run_id": ["r1", "r2", "r2"]}),
           change={"kind": "run", "run_id": "r2", "superseded": "bronze.orders__superseded"})
    commit(lake, "bronze.orders__superseded", pa.table({"order_id": ["b"], "user_id": ["u2"], "_run_id": ["r1"],
                                                        "_superseded_by_run": ["r2"]}))
    part = decide(spark, lake, loaded, current)
    assert part.mode == "keys"
    assert sorted(r.user_id for r in part.keys.collect()) == ["u2", "u3", "u4"]  # not u1


def test_a_driving_input_rebuilt_fully_is_compared_with_the_version_read_before(spark, setup):
    """silver.orders rebuilt fully (change: full), order b moved to store s1: only its date differs
    between version 1 and 2, so the range starts there (minus 2 days) instead of a full pass."""
    lake, loaded, current = setup
    moved = pa.table({"order_id": ["a", "b"], "store_id": ["s1", "s1"],
                      "order_date": [date(2024, 3, 1), date(2024, 3, 2)]})
    commit(lake, "silver.orders", moved, change={"kind": "full"}, digest="2:8")
    part = decide(spark, lake, loaded, current)
    assert (part.mode, part.start) == ("range", date(2024, 2, 29))
    assert part.reason == ("recomputed order_date from 2024-02-29 on (input silver.orders was rebuilt fully "
                           "(version 2): its rows were compared with version 1 per order_date)")
    same_rows = pa.table({"order_id": ["b", "a"], "store_id": ["s1", "s1"],  # rebuilt again, rows reordered
                          "order_date": [date(2024, 3, 2), date(2024, 3, 1)]})
    built_on_2 = dataclasses.replace(current, inputs={"silver.orders": 2, "silver.stores": 1})
    commit(lake, "silver.orders", same_rows, change={"kind": "full"}, digest="2:9")
    assert decide(spark, lake, loaded, built_on_2).start == date(9999, 12, 31)  # no date differs
