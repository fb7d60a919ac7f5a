"""Issue 18, findings 4 and 5: storage faults are named with the way back; resume works as printed.

The lake is not the project's default (``--var lake_dir=…``) and the raw folder is elsewhere
(``--var raw_dir=…``): the printed commands must still work exactly as printed.
"""

from __future__ import annotations

import json
import shlex
import shutil

from engine.cli import main

CONFIG = """\
name: faults
variables: {lake_dir: lake, raw_dir: raw}
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[2]", shuffle_partitions: 2}
"""
FILES = {
    "pipelines/bronze/a.yaml": "name: bronze.a\nsteps:\n  - {type: read, format: csv, path: '${var:raw_dir}/a.csv', "
                               "columns: {id: int, amount: int}}\n",
    "pipelines/silver/b.yaml": "name: silver.b\ninputs: {a: bronze.a}\nsteps:\n  - {type: filter, condition: amount > 0}\n",
    "marts/c.yaml": "name: gold.c\ninputs: {b: silver.b}\nsteps:\n  - {type: aggregate, metrics: {n: count(*)}}\n",
}


def setup(make_project, tmp_path):
    root = make_project(FILES, config=CONFIG)
    raw, lake = tmp_path / "elsewhere" / "raw", tmp_path / "elsewhere" / "lake"
    raw.mkdir(parents=True)
    (raw / "a.csv").write_text("id,amount\n1,10\n2,0\n3,5\n")
    return root, lake, ["--var", f"lake_dir={lake}", "--var", f"raw_dir={raw}"]


def printed(out: str, prefix: str) -> list[str]:
    line = next(ln for ln in out.splitlines() if ln.startswith(prefix))
    return shlex.split(line[len(prefix):])


def test_resume_works_as_printed_for_a_lake_elsewhere(spark, make_project, tmp_path, capsys):
    root, lake, vars_ = setup(make_project, tmp_path)
    assert main(["run", "--inject-fault", "bronze.a=terminal", *vars_, "--project-dir", str(root)]) == 1
    command = printed(capsys.readouterr().out, "to resume: ")
    assert command[:3] == ["medallion", "run", "--resume"] and len(command) == 4  # no --var needed
    record = json.loads(sorted((lake / "_runs").glob("*.json"))[-1].read_text())
    assert record["profile"] == "local" and record["variables"]["raw_dir"] == vars_[3].split("=", 1)[1]
    assert record["variables"]["lake_dir"] == str(lake)
    # exactly what was printed (from the project folder): the run is found, raw_dir is restored
    assert main([*command[1:], "--project-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"resuming run {command[3]}: 3 spec(s) left" in out
    runs = {r["run_id"]: r for r in (json.loads(p.read_text()) for p in (lake / "_runs").glob("*.json"))}
    assert runs[command[3]]["resolved_by"] and runs[runs[command[3]]["resolved_by"]]["status"] == "ok"


def test_corrupt_pointer_and_missing_folder_are_named_and_recoverable(spark, make_project, tmp_path, capsys):
    root, lake, vars_ = setup(make_project, tmp_path)
    base = [*vars_, "--project-dir", str(root)]
    assert main(["run", *base]) == 0
    assert main(["run", *base]) == 0
    capsys.readouterr()
    pointer = lake / "silver/b/_current.json"
    pointer.write_text('{"table": "silver.b", "version": 2, "pa')  # a torn pointer

    assert main(["run", *base]) == 1
    captured = capsys.readouterr()
    assert "internal error" not in captured.err + captured.out
    assert f"lake table silver.b: pointer {pointer} cannot be read (JSONDecodeError" in captured.out
    assert "data intact: version(s) 1, 2 have their files and manifests" in captured.out
    suffix = " " + " ".join(shlex.quote(a) for a in vars_)
    assert f"to recover: medallion rollback silver.b 2{suffix}, then medallion run --select silver.b+{suffix}" \
        in captured.out
    assert "skipped gold.c" in captured.out and "to resume: medallion run --resume " in captured.out
    # the printed recovery works although the pointer cannot be read
    assert main(["rollback", "silver.b", "2", *base]) == 0
    assert "silver.b: version unreadable pointer -> 2" in capsys.readouterr().out
    assert main([*printed(captured.out, "to resume: ")[1:], "--project-dir", str(root)]) == 0
    capsys.readouterr()

    # a deleted version folder: named, no Spark PATH_NOT_FOUND, no internal error from the warehouse
    current = json.loads(pointer.read_text())["version"]
    shutil.rmtree(lake / f"silver/b/v{current:06d}")
    assert main(["run", "--select", "gold.c", *base]) == 1
    captured = capsys.readouterr()
    assert "internal error" not in captured.err + captured.out and "PATH_NOT_FOUND" not in captured.out
    assert f"lake table silver.b version {current}: folder {lake}/silver/b/v{current:06d} is missing" in captured.out
    assert f"to recover: medallion rollback silver.b {current - 1}{suffix}" in captured.out
    assert "warehouse not refreshed for this table: lake table silver.b" in captured.out
    assert "to resume: medallion run --resume " in captured.out
