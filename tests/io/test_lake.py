"""Atomic commits: readers see the previous version or the new one, never a partial write."""

import json
import shutil

import pytest

from engine.errors import RunError, StorageFault
from engine.io.lake import LocalLake, Publish


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
    assert pointer["rows"] == 3 and pointer["run_id"] == "r1"
    assert pointer["path"] == "silver/t/v000001"  # relative to the lake root: the lake can move
    assert rec.path == str(tmp_path / "silver" / "t" / "v000001")


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


def committed_lake(root, versions=2):
    lake = LocalLake(root)
    for _ in range(versions):
        p = lake.begin("silver.t")
        write_version(p)
        lake.commit(p, rows=1, columns=[], partition_by=[], run_id="r")
    return lake


def test_a_copied_lake_reads_its_own_files(tmp_path):
    committed_lake(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")  # the original is gone: the copy must not point at it
    copy = LocalLake(tmp_path / "b")
    assert copy.require("silver.t").path == str(tmp_path / "b" / "silver" / "t" / "v000002")
    assert [t.path for t in copy.tables()] == [str(tmp_path / "b" / "silver" / "t" / "v000002")]


def test_an_old_absolute_pointer_is_still_read_from_its_own_lake(tmp_path):
    committed_lake(tmp_path / "a")
    ptr = tmp_path / "a" / "silver" / "t" / "_current.json"
    data = json.loads(ptr.read_text())
    data["path"] = "/somewhere/else/silver/t/v000002"  # what pointers held before (absolute)
    ptr.write_text(json.dumps(data))
    assert LocalLake(tmp_path / "a").require("silver.t").path == str(tmp_path / "a" / "silver" / "t" / "v000002")


def test_corrupt_pointer_is_named_and_rollback_repairs_it_from_the_manifests(tmp_path):
    lake = committed_lake(tmp_path)
    ptr = tmp_path / "silver" / "t" / "_current.json"
    ptr.write_text('{"table": "silver.t", "vers')  # torn write
    with pytest.raises(StorageFault) as err:
        lake.require("silver.t")
    text = str(err.value)
    assert f"lake table silver.t: pointer {ptr} cannot be read (JSONDecodeError" in text
    assert "data intact: version(s) 1, 2 have their files and manifests" in text
    assert text.endswith("to recover: medallion rollback silver.t 2, then medallion run --select silver.t+")
    restored = lake.rollback("silver.t", 2)
    assert restored.version == 2 and lake.require("silver.t").version == 2
    ptr.write_text("not json")
    assert lake.rollback("silver.t").version == 2  # no version given: the newest committed one


def test_missing_version_folder_is_named_with_the_way_back(tmp_path):
    lake = committed_lake(tmp_path)
    shutil.rmtree(tmp_path / "silver" / "t" / "v000002")
    with pytest.raises(StorageFault) as err:
        lake.require("silver.t")
    assert str(err.value) == (
        f"lake table silver.t version 2: folder {tmp_path}/silver/t/v000002 is missing (the pointer names it, "
        "its files are gone); data intact: version(s) 1 have their files and manifests; "
        "to recover: medallion rollback silver.t 1, then medallion run --select silver.t+")
    faults = []
    assert lake.tables(faults) == [] and len(faults) == 1  # listed as a fault, not raised


def test_side_tables_switch_with_their_table_or_not_at_all(tmp_path):
    lake = LocalLake(tmp_path)

    def publish(crash=None):
        main, side = lake.begin("silver.t"), lake.begin("quarantine.silver_t")
        write_version(main)
        write_version(side)
        return lake.commit_all(Publish(main, 1, []), [Publish(side, 1, [])], run_id="r", between=crash)

    publish()

    class Crash(Exception):
        pass

    def crash():
        raise Crash

    with pytest.raises(Crash):
        publish(crash)  # main pointer switched, side pointer not yet: the commit point was passed
    raw = json.loads((tmp_path / "quarantine" / "silver_t" / "_current.json").read_text())
    assert raw["version"] == 1  # on disk the side lags ...
    assert lake.current("quarantine.silver_t").version == 2  # ... but readers see it rolled forward
    assert {t.table: t.version for t in lake.tables()} == {"silver.t": 2, "quarantine.silver_t": 2}
