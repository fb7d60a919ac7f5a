"""The DuckDB warehouse exposes committed Parquet versions as <layer>.<name> views."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.errors import UsageError
from engine.io.lake import LocalLake
from engine.io.warehouse import DuckDbWarehouse


def commit_table(lake, table, rows):
    pending = lake.begin(table)
    pending.path.mkdir(parents=True)
    pq.write_table(pa.table({"id": [r[0] for r in rows], "v": [r[1] for r in rows]}),
                   pending.path / "part-00000.parquet")
    return lake.commit(pending, rows=len(rows), columns=[], partition_by=[], run_id="r")


def test_views_follow_the_committed_version(tmp_path):
    lake = LocalLake(tmp_path / "lake")
    wh = DuckDbWarehouse(tmp_path / "lake" / "warehouse.duckdb")
    commit_table(lake, "silver.t", [(1, "a"), (2, "b")])
    wh.refresh(lake.tables())
    assert wh.query("select count(*) as n from silver.t") == (["n"], [(2,)])
    commit_table(lake, "silver.t", [(1, "a"), (2, "b"), (3, "c")])
    assert wh.query("select count(*) from silver.t")[1] == [(2,)]  # not refreshed yet: old version
    wh.refresh(lake.tables())
    assert wh.query("select sum(id) from silver.t")[1] == [(6,)]


def test_query_errors_are_one_line(tmp_path):
    wh = DuckDbWarehouse(tmp_path / "w.duckdb")
    with pytest.raises(UsageError, match="run `medallion run` first"):
        wh.query("select 1")
    wh.refresh([])
    with pytest.raises(UsageError) as err:
        wh.query("select * from gold.nope")
    assert str(err.value).startswith("query failed: Catalog Error") and "\n" not in str(err.value)
