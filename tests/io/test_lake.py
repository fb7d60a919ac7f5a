"""Atomic commits: readers see the previous version or the new one, never a partial write."""

import json

import pytest

from engine.errors import RunError
from engine.io.lake import LocalLake


def write_version(pending, text="x"):
    pending.path.mkdir(parents=True)
    (pending.path / "part-0.parquet").write_text(text)


def test_commit_switches_pointer_and_numbers_versions(tmp_path):
    lake = LocalLake(tmp_path, keep_versions=2)
    assert lake.current("silver.t") is None
    first = lake.begin("silver.t")
    assert first.version == 1 and first.path == tmp_path / "silver" / "t" / "v000001"
    write_version(first)
    rec = lake.commit(first, rows=3, columns=[{"name": "a", "type": "int"}], partition_by=[], run_id="r1")
    assert lake.current("silver.t").version == 1
    pointer = json.loads((tmp_path / "silver" / "t" / "_current.json").read_text())
    assert pointer["rows"] == 3 and pointer["run_id"] == "r1" and pointer["path"] == rec.path


def test_uncommitted_write_is_invisible_and_abort_cleans(tmp_path):
    lake = LocalLake(tmp_path)
    p1 = lake.begin("gold.m")
    write_version(p1)
    lake.commit(p1, rows=1, columns=[], partition_by=[], run_id="r1")
    p2 = lake.begin("gold.m")
    write_version(p2, "half")
    assert lake.current("gold.m").version == 1  # readers still see version 1
    lake.abort(p2)
    assert not p2.path.exists()
    assert lake.current("gold.m").version == 1
    assert lake.begin("gold.m").version == 2


def test_prune_keeps_last_versions(tmp_path):
    lake = LocalLake(tmp_path, keep_versions=2)
    for _ in range(4):
        p = lake.begin("bronze.x")
        write_version(p)
        lake.commit(p, rows=1, columns=[], partition_by=[], run_id="r")
    assert lake.versions("bronze.x") == [3, 4]
    assert [t.table for t in lake.tables()] == ["bronze.x"]


def test_commit_without_written_folder_fails(tmp_path):
    lake = LocalLake(tmp_path)
    with pytest.raises(RunError, match="was not written"):
        lake.commit(lake.begin("bronze.y"), rows=0, columns=[], partition_by=[], run_id="r")
    with pytest.raises(RunError, match=r"run its spec first \(e.g. medallion run --select \+bronze.y\)"):
        lake.require("bronze.y")
