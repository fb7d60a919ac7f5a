"""What a run prints at the end, what `summary --format json` says, and rolling back a side table.

A five-row project, every figure worked out by hand:
- bronze.a reads 5 rows (ids 1-5, amounts 10, 20, -5, 30, 40);
- silver.b quarantines the negative amount (1 row) and filters id 5 (1 row): 3 rows out,
  conservation 5 = 3 + 1 quarantined + 1 filtered;
- gold.c aggregates silver.b: 1 row, total = 10 + 20 + 30 = 60, n = 3.
Rows written by ok specs: 5 + 3 + 1 = 9; quarantined 1.
"""

from __future__ import annotations

import json
import re

from engine.cli import main

FILES = {
    "raw/a.csv": "id,amount\n1,10\n2,20\n3,-5\n4,30\n5,40\n",
    "pipelines/bronze/a.yaml": "name: bronze.a\nsteps:\n  - {type: read, format: csv, path: raw/a.csv, "
                               "columns: {id: int, amount: int}}\n",
    "pipelines/silver/b.yaml": """\
name: silver.b
inputs: {a: bronze.a}
conservation: a
steps:
  - {type: filter, condition: "id <> 5"}
  - type: quality
    rules:
      - {name: amount_not_negative, rule: expression, condition: "amount >= 0", action: quarantine}
""",
    "marts/c.yaml": """\
name: gold.c
inputs: {b: silver.b}
steps:
  - {type: aggregate, metrics: {n: count(*), total: sum(amount)}}
columns:
  n: {description: Rows, format: integer}
  total: {description: Total amount, format: integer}
dashboard:
  title: Totals
  kpis:
    - {label: Total, value: sum(total), format: integer}
    - {label: Rows, value: sum(n), format: integer}
""",
}


def test_final_summary_record_and_summary_json(make_project, capsys):
    root = make_project(FILES)
    args = ["--project-dir", str(root)]
    assert main(["run", "--plain", *args]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"run \S+ ok: 3 ok, 0 failed, 0 skipped", out[-2]), out
    finish = re.fullmatch(r"  \d+\.\ds · 9 rows written · 1 quarantined · (\d+) Spark jobs \((\d+) stages, (\d+) tasks\)"
                          r" · conservation balanced in \d of \d spec\(s\)", out[-1])
    assert finish, out
    assert "conservation balanced in" in out[-1] and "NOT" not in out[-1]

    # the run record holds the same events: statuses and counts per spec
    assert main(["runs", "--format", "json", *args]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    specs = {s["spec"]: s for s in record["specs"]}
    assert [s["status"] for s in record["specs"]] == ["ok", "ok", "ok"]
    assert (specs["bronze.a"]["rows_out"], specs["silver.b"]["rows_out"], specs["gold.c"]["rows_out"]) == (5, 3, 1)
    acc = specs["silver.b"]["accounting"]
    assert (acc["rows_in"], acc["rows_out"], acc["quarantined"], acc["filtered"], acc["balanced"]) == (5, 3, 1, 1, True)
    assert out[-2].split()[1] == record["run_id"]
    # Spark work: each spec's line shows its own counts, the finish line their sums
    for spec in specs.values():
        work = spec["spark"]
        assert work["jobs"] >= 1 and work["tasks"] >= work["stages"] >= 1, work
        line = next(line for line in out if line.startswith(f"  ok      {spec['spec']} "))
        assert line.endswith(f"jobs={work['jobs']} stages={work['stages']} tasks={work['tasks']}"), line
    totals = [sum(s["spark"][k] for s in specs.values()) for k in ("jobs", "stages", "tasks")]
    assert [int(g) for g in finish.groups()] == totals
    assert main(["runs", *args]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split("\t")[-1] == "spark_jobs" and listing[1].split("\t")[-1] == str(totals[0])
    assert main(["runs", record["run_id"], *args]) == 0
    detail = capsys.readouterr().out.splitlines()
    header = detail[1].split("\t")
    row = dict(zip(header, next(r for r in detail if r.startswith("gold.c\t")).split("\t")))
    assert [row["jobs"], row["stages"], row["tasks"]] == [str(specs["gold.c"]["spark"][k]) for k in ("jobs", "stages", "tasks")]
    assert f"Spark work: {totals[0]} Spark jobs ({totals[1]} stages, {totals[2]} tasks)" in detail

    assert main(["summary", "--format", "json", *args]) == 0
    (mart,) = json.loads(capsys.readouterr().out)
    assert mart["table"] == "gold.c" and mart["rows"] == 1
    values = {k["label"]: k["value"] for k in mart["kpis"]}
    assert values["Total"] in (60, "60") and values["Rows"] in (3, "3"), values
    # the mart's Spark work, from the run that committed its current version
    assert mart["run_id"] == record["run_id"] and mart["spark"] == specs["gold.c"]["spark"]
    assert main(["summary", *args]) == 0
    work = specs["gold.c"]["spark"]
    assert (f"    built by run {record['run_id']}: {work['jobs']} Spark jobs ({work['stages']} stages, "
            f"{work['tasks']} tasks)") in capsys.readouterr().out.splitlines()


def test_a_side_table_with_no_spec_rolls_back(make_project, capsys):
    root = make_project(FILES)
    args = ["--project-dir", str(root)]
    assert main(["run", "--plain", *args]) == 0
    (root / "raw/a.csv").write_text("id,amount\n1,10\n2,-20\n3,-5\n")  # now two bad rows
    assert main(["run", "--plain", *args]) == 0
    capsys.readouterr()
    assert main(["query", "select count(*) as n from quarantine.silver_b", "--format", "json", *args]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 2}]
    # quarantine.silver_b has kept versions and no spec of its own: it rolls back, and with it the
    # table it was committed with (one commit per spec), so the two never disagree
    assert main(["rollback", "quarantine.silver_b", "1", *args]) == 0
    assert "quarantine.silver_b: version 2 -> 1 (1 rows" in capsys.readouterr().out
    assert main(["query", "select count(*) as n from silver.b", "--format", "json", *args]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 3}]  # run 1's silver.b (ids 1, 2, 4)
    assert main(["rollback", "silver.b", "2", *args]) == 0  # forward again: both at run 2
    capsys.readouterr()
    assert main(["query", "select count(*) as n from quarantine.silver_b", "--format", "json", *args]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 2}]
    assert main(["rollback", "silver.b", "1", *args]) == 0  # the owner takes its side table back too
    capsys.readouterr()
    assert main(["query", "select count(*) as n from quarantine.silver_b", "--format", "json", *args]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 1}]
    # a name that is neither a table nor a spec is a usage error (exit 2)
    assert main(["rollback", "quarantine.silver_x", *args]) == 2
    assert "quarantine.silver_b" in capsys.readouterr().err
