"""Which files a bronze run reads, decided from the listing and the committed file manifest.

Real files on disk listed through Spark's Hadoop FileSystem, real spec models; the committed
version is a TableVersion value as the lake would return it. Each expected decision follows
from the rules in engine/run/ingested.py's docstring.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from engine.io.lake import TableVersion
from engine.run import derived
from engine.run.incremental import LoadMode
from engine.run.ingested import list_files, plan_files
from engine.spec.loader import load_spec

WATERMARK = """\
name: bronze.lines
steps:
  - type: read
    format: csv
    path: raw/lines{.csv,/*.csv}
    columns: {id: string, ts: string}
    add_metadata: true
incremental: {column: ts, keys: [id]}
"""


def write(path, text="id,ts\n1,2024-03-01T10:00:00Z\n", mtime=1_700_000_000):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))


@pytest.fixture()
def project(tmp_path):
    spec = tmp_path / "lines.yaml"
    spec.write_text(WATERMARK, encoding="utf-8")
    write(tmp_path / "raw/lines/2024-03-01.csv")
    write(tmp_path / "raw/lines/2024-03-02.csv", mtime=1_700_086_400)
    write(tmp_path / "raw/lines/_SUCCESS", "")  # as Spark, hidden and underscore files are not data
    write(tmp_path / "raw/lines/.2024-03-03.csv.crc", "x")
    return tmp_path, load_spec(spec, {})


def test_a_brace_glob_lists_one_file_or_a_folder_of_them(spark, project):
    root, _ = project
    base, files = list_files(spark, str(root / "raw/lines{.csv,/*.csv}"))
    assert base == "file:" + str(root / "raw")
    assert [(f.name, f.size, f.mtime) for f in files] == [
        ("lines/2024-03-01.csv", 29, 1_700_000_000_000), ("lines/2024-03-02.csv", 29, 1_700_086_400_000)]
    assert files[0].uri == "file:" + str(root / "raw/lines/2024-03-01.csv")  # _source_file, as file:/
    write(root / "raw/lines.csv")  # the single-file form matches too
    assert [f.name for f in list_files(spark, str(root / "raw/lines{.csv,/*.csv}"))[1]] == [
        "lines.csv", "lines/2024-03-01.csv", "lines/2024-03-02.csv"]


def committed(spark, root, loaded, **changes) -> TableVersion:
    """The version a run over the two files would have committed."""
    plan = plan_files(spark, loaded.spec, lambda p: str(root / p), LoadMode(), None, "-")
    version = TableVersion("bronze.lines", 1, str(root / "lake"), 2, watermark="2024-03-02T10:00:00",
                           fingerprint=derived.fingerprint(loaded.spec), files=plan.manifest())
    return dataclasses.replace(version, **changes)


def decide(spark, root, loaded, current, mode=None):
    return plan_files(spark, loaded.spec, lambda p: str(root / p), mode or LoadMode(), current,
                      derived.fingerprint(loaded.spec))


def test_only_new_and_changed_files_are_read(spark, project):
    root, loaded = project
    current = committed(spark, root, loaded)
    assert current.files == {"raw/lines{.csv,/*.csv}": {"root": "file:" + str(root / "raw"), "files": {
        "lines/2024-03-01.csv": [29, 1_700_000_000_000], "lines/2024-03-02.csv": [29, 1_700_086_400_000]}}}
    plan = decide(spark, root, loaded, current)
    assert (plan.mode, plan.record()["files_read"], plan.record()["files_skipped"]) == ("up_to_date", [], 2)
    write(root / "raw/lines/2024-03-03.csv")  # a new day
    write(root / "raw/lines/2024-03-01.csv", "id,ts\n1,2024-03-01T10:00:00Z\n2,2024-03-01T11:00:00Z\n")  # re-sent, grown
    plan = decide(spark, root, loaded, current)
    assert plan.mode == "new_files"
    assert plan.record() == {"mode": "new_files", "files_read": ["lines/2024-03-01.csv", "lines/2024-03-03.csv"],
                             "files_skipped": 1, "files_changed": ["lines/2024-03-01.csv"],
                             "note": "read 1 new file(s) and 1 changed (through the watermark window); "
                                     "1 ingested file(s) unchanged, skipped"}
    assert sorted(p.rsplit("/", 1)[1] for p in plan.chosen()["raw/lines{.csv,/*.csv}"]) == [
        "2024-03-01.csv", "2024-03-03.csv"]
    # the window applies to the changed file's rows only: a new file's old row is new, the changed
    # file's rows before watermark - 72 h were ingested already (input_file_name() says file:///)
    rows = spark.createDataFrame([("1", "2024-02-20T10:00:00Z", (root / "raw/lines/2024-03-01.csv").as_uri()),
                                  ("2", "2024-03-01T11:00:00Z", (root / "raw/lines/2024-03-01.csv").as_uri()),
                                  ("3", "2024-02-20T10:00:00Z", (root / "raw/lines/2024-03-03.csv").as_uri())],
                                 ["id", "ts", "_source_file"])
    kept = plan.window(rows, loaded.spec.incremental, LoadMode(), current)
    assert sorted(r.id for r in kept.collect()) == ["2", "3"]
    # a file that vanished keeps its entry (its rows stay in the table): seen again unchanged, skipped
    (root / "raw/lines/2024-03-02.csv").unlink()
    assert "lines/2024-03-02.csv" in decide(spark, root, loaded, current).manifest()["raw/lines{.csv,/*.csv}"]["files"]


def test_when_every_file_is_read(spark, project, tmp_path):
    root, loaded = project
    current = committed(spark, root, loaded)
    assert decide(spark, root, loaded, current, LoadMode("full")).note == "--full-refresh: every file read"
    assert decide(spark, root, loaded, None).note == "first build: every file read"
    assert decide(spark, root, loaded, dataclasses.replace(current, files=None)).note == (
        "version 1 predates the file manifest: every file read through the watermark window")
    assert decide(spark, root, loaded, dataclasses.replace(current, fingerprint="0")).note == (
        "the spec or its variables changed since version 1: every file read through the watermark window")
    moved = {k: v | {"root": "file:/elsewhere"} for k, v in current.files.items()}
    assert decide(spark, root, loaded, dataclasses.replace(current, files=moved)).mode == "all_files"
    backfill = decide(spark, root, loaded, current, LoadMode.backfill("2024-03-01", "2024-03-01"))
    assert backfill.mode == "all_files" and backfill.manifest() == current.files  # nothing counts as ingested


def test_files_new_appends_new_files_and_rebuilds_when_one_changed(spark, project):
    root, _ = project
    spec = root / "options.yaml"
    spec.write_text(WATERMARK.replace("incremental: {column: ts, keys: [id]}", "incremental: {files: new}")
                    .replace("bronze.lines", "bronze.options"), encoding="utf-8")
    loaded = load_spec(spec, {})
    current = committed(spark, root, loaded)
    write(root / "raw/lines/2024-03-03.csv")
    assert decide(spark, root, loaded, current).record()["files_read"] == ["lines/2024-03-03.csv"]
    write(root / "raw/lines/2024-03-01.csv", mtime=1_800_000_000)
    plan = decide(spark, root, loaded, current)
    assert (plan.mode, plan.note) == ("all_files", "file lines/2024-03-01.csv changed since version 1: the table "
                                                   "is rebuilt from every file present")
    assert len(plan.record()["files_read"]) == 3


def test_a_url_read_path_lists_and_decides_as_the_plain_path(spark, project):
    """The read path may be a URL (``file:///…`` here; ``s3://…`` on AWS, listed by the same
    Hadoop FileSystem call): it qualifies to the same root and names, so a version committed
    from the plain path is up to date when the profile names the folder as a URL."""
    root, loaded = project
    url = (root / "raw").as_uri()  # file:///tmp/…/raw
    base, files = list_files(spark, url + "/lines{.csv,/*.csv}")
    assert base == "file:" + str(root / "raw")
    assert [f.name for f in files] == ["lines/2024-03-01.csv", "lines/2024-03-02.csv"]
    assert files[0].uri == "file:" + str(root / "raw/lines/2024-03-01.csv")
    current = committed(spark, root, loaded)  # committed from the plain path
    plan = plan_files(spark, loaded.spec, lambda p: f"{root.as_uri()}/{p}", LoadMode(), current,
                      derived.fingerprint(loaded.spec))
    assert (plan.mode, plan.record()["files_read"], plan.record()["files_skipped"]) == ("up_to_date", [], 2)
    write(root / "raw/lines/2024-03-03.csv")
    plan = plan_files(spark, loaded.spec, lambda p: f"{root.as_uri()}/{p}", LoadMode(), current,
                      derived.fingerprint(loaded.spec))
    assert (plan.mode, plan.record()["files_read"]) == ("new_files", ["lines/2024-03-03.csv"])
