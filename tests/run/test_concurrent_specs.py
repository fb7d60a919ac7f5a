"""``medallion run --threads N`` on real Spark: the same tables and record as one at a time,
specs that really overlap, a failed branch that stops only its own downstream.

The project has two independent branches that meet in one mart:
bronze.a -> silver.a -> gold.a_summary, bronze.b -> silver.b -> gold.b_summary, and gold.joined
reading both silvers. Both silvers parse a regex in a Spark SQL expression (``'\\d'``, read as
written only with the run's ``escapedStringLiterals``), and both summaries run a ``sql`` step over
a frame of the same name (``src``), so a spec running on the wrong session or seeing the other
spec's view would change a value below.
"""

from __future__ import annotations

import io
import json
import shlex
import threading
from pathlib import Path

import pandas as pd

from engine.cli import main
from engine.io.lake import LocalLake
from engine.run.faults import FaultPlan
from engine.run.record import RunRecord, RunStore
from engine.run.report import Reporter
from engine.run.runner import RunContext, run_specs
from engine.run.workspace import Workspace

CONFIG = """\
name: concurrent-test
variables: {lake_dir: lake}
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[2]", shuffle_partitions: 2, driver_memory: 2g}
retry: {attempts: 2, backoff_seconds: 0}
"""

FILES = {
    "raw/a.csv": "id,code,amount\n1,ab12,10\n2,c3d,0\n3,xyz,5\n4,q9,-1\n",
    "raw/b.csv": "id,name,qty\n1,Foo-1,2\n2,Bar-22,3\n3,Baz,4\n",
    "pipelines/bronze/a.yaml": "name: bronze.a\nsteps:\n  - {type: read, format: csv, path: raw/a.csv, "
                               "columns: {id: int, code: string, amount: int}}\n",
    "pipelines/bronze/b.yaml": "name: bronze.b\nsteps:\n  - {type: read, format: csv, path: raw/b.csv, "
                               "columns: {id: int, name: string, qty: int}}\n",
    "pipelines/silver/a.yaml": """\
name: silver.a
inputs: {a: bronze.a}
conservation: a
steps:
  - type: derive
    columns:
      masked: regexp_replace(code, '\\d', '*')
  - type: quality
    rules:
      - {rule: range, column: amount, min: 0}
""",
    "pipelines/silver/b.yaml": """\
name: silver.b
inputs: {b: bronze.b}
steps:
  - type: derive
    columns:
      label: regexp_extract(name, '(\\d+)$', 1)
""",
    "marts/a_summary.yaml": """\
name: gold.a_summary
inputs: {src: silver.a}
steps:
  - type: sql
    query: select count(*) as n, sum(amount) as total, concat_ws(',', sort_array(collect_list(masked))) as masks from src
""",
    "marts/b_summary.yaml": """\
name: gold.b_summary
inputs: {src: silver.b}
steps:
  - type: sql
    query: select count(*) as n, sum(qty) as total, concat_ws(',', sort_array(collect_list(label))) as labels from src
""",
    "marts/joined.yaml": """\
name: gold.joined
inputs: {a: silver.a, b: silver.b}
steps:
  - {type: join, left: a, right: b, on: [id]}
  - type: derive
    columns: {value: amount * qty}
  - {type: select, columns: [id, masked, label, value]}
""",
}

# worked out by hand from the CSVs above ('\d' is a digit: the regexes read as written)
EXPECTED = {
    "gold.a_summary": [{"n": 3, "total": 15, "masks": "ab**,c*d,xyz"}],  # id 4 (amount -1) quarantined
    "gold.b_summary": [{"n": 3, "total": 9, "labels": ",1,22"}],
    "gold.joined": [{"id": 1, "masked": "ab**", "label": "1", "value": 20},
                    {"id": 2, "masked": "c*d", "label": "22", "value": 0},
                    {"id": 3, "masked": "xyz", "label": "", "value": 20}],
}
SPECS = ["bronze.a", "bronze.b", "silver.a", "silver.b", "gold.a_summary", "gold.b_summary", "gold.joined"]


def _tables(lake_dir: Path) -> dict[str, pd.DataFrame]:
    """Every committed table of a lake, rows sorted, as pandas (read with pyarrow, not Spark)."""
    out = {}
    for version in LocalLake(lake_dir).tables():
        frame = pd.read_parquet(version.path)
        frame = frame[sorted(frame.columns)]
        out[version.table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


def _record(lake_dir: Path) -> RunRecord:
    return RunStore(lake_dir / "_runs").list()[-1]


def _comparable(record: RunRecord) -> dict:
    """A run record without what differs between any two runs: ids, times, holder, lake folder."""
    data = record.model_dump(exclude={"run_id", "started_at", "finished_at", "holder", "var_args", "variables",
                                      "resume_command"})
    for spec in data["specs"]:
        spec.pop("seconds")
    return data


def _without_run_ids(tables: dict[str, pd.DataFrame], run_id: str) -> dict[str, pd.DataFrame]:
    """Quarantine rows carry their run's id and time: check the id, then leave both out."""
    out = {}
    for name, frame in tables.items():
        if "_run_id" in frame.columns:
            assert set(frame["_run_id"]) == {run_id}
            frame = frame.drop(columns=[c for c in ("_run_id", "_quarantined_at") if c in frame.columns])
        out[name] = frame
    return out


def test_three_threads_give_the_tables_and_record_of_one_thread(spark, make_project, capsys):
    root = make_project(FILES, config=CONFIG)
    base = ["--project-dir", str(root), "--plain"]
    assert main(["run", "--threads", "1", "--var", "lake_dir=one", *base]) == 0
    assert main(["run", "--threads", "3", "--var", "lake_dir=three", *base]) == 0
    out = capsys.readouterr().out
    assert "7 spec(s) · 3 at a time" in out

    one, three = _record(root / "one"), _record(root / "three")
    assert one.status == three.status == "ok"
    assert _comparable(one) == _comparable(three)
    tables_one = _without_run_ids(_tables(root / "one"), one.run_id)
    tables_three = _without_run_ids(_tables(root / "three"), three.run_id)
    assert sorted(tables_one) == sorted(tables_three) == sorted([*SPECS, "quarantine.silver_a"])
    for name, frame in tables_one.items():
        pd.testing.assert_frame_equal(frame, tables_three[name], check_exact=True, obj=name)
    for name, rows in EXPECTED.items():
        got = tables_three[name][sorted(rows[0])].to_dict("records")
        assert got == sorted(rows, key=lambda r: tuple(r[c] for c in sorted(r))), name
    quarantined = tables_three["quarantine.silver_a"]
    assert quarantined["_rule"].tolist() == ["range(amount)"] and json.loads(quarantined["_record"][0])["id"] == 4


class MeetingPoint(FaultPlan):
    """Both named specs must be inside their attempt at the same time, or the barrier breaks
    (after ``timeout`` seconds) and they fail: overlap proven without relying on timing."""

    def __init__(self, specs: list[str], timeout: float):
        super().__init__()
        self.barrier = threading.Barrier(len(specs), timeout=timeout)
        self.specs = set(specs)

    def before_attempt(self, spec: str) -> None:
        if spec in self.specs:
            self.barrier.wait()
        super().before_attempt(spec)


def _run(root: Path, lake: str, threads: int, faults: FaultPlan) -> tuple[RunRecord, str]:
    ws = Workspace.open(root, None, [f"lake_dir={lake}"])
    out = io.StringIO()
    reporter = Reporter(stream=out, plain=True)
    ctx = RunContext(graph=ws.graph, lake=ws.lake, store=ws.store, reporter=reporter, spark_factory=ws.spark,
                     project_name=ws.project.name, profile=ws.project.profile_name, base_dir=ws.project.root,
                     var_args=ws.var_args, default_retry=ws.project.default_retry,
                     shuffle_partitions=ws.project.profile.spark.shuffle_partitions, secrets=ws.secrets,
                     faults=faults, warehouse=ws.warehouse, variables=dict(ws.project.variables), threads=threads)
    record = run_specs(ctx, list(ws.graph.order))
    reporter.run_finished(record)
    return record, out.getvalue()


def test_independent_specs_really_run_at_the_same_time(spark, make_project):
    root = make_project(FILES, config=CONFIG)
    record, out = _run(root, "lake", 3, MeetingPoint(["silver.a", "silver.b"], timeout=120))
    assert record.status == "ok", out
    lines = [line.strip() for line in out.splitlines()]
    started = {line.split()[1]: i for i, line in enumerate(lines) if line.startswith("start ")}
    finished = {line.split()[1]: i for i, line in enumerate(lines) if line.startswith("ok ")}
    # each silver started before the other finished: two "running" at once in the event log
    assert started["silver.a"] < finished["silver.b"] and started["silver.b"] < finished["silver.a"]
    assert sorted(started) == sorted(SPECS)
    assert [int(line.split("(")[1].split()[0]) for line in lines if line.startswith("start ")] == list(range(1, 8))

    # the control: one at a time, the two never meet and the barrier breaks
    alone, _ = _run(root, "alone", 1, MeetingPoint(["silver.a", "silver.b"], timeout=2))
    assert alone.spec("silver.a").status == "failed" and alone.spec("silver.b").status == "failed"


def test_a_failed_branch_skips_only_its_downstream_and_the_resume_finishes(spark, make_project, capsys):
    root = make_project(FILES, config=CONFIG)
    base = ["--project-dir", str(root), "--plain"]
    assert main(["run", "--threads", "3", "--inject-fault", "silver.b=terminal",
                 "--inject-fault", "silver.a=transient", *base]) == 1
    out = capsys.readouterr().out
    record = _record(root / "lake")
    states = {s.spec: (s.status, s.error) for s in record.specs}
    # a transient error on a spec thread is retried there, as one at a time
    assert record.spec("silver.a").attempts == 2 and "retry   silver.a after a transient error" in out
    assert record.spec("silver.b").attempts == 1  # terminal: never retried
    assert states["silver.b"] == ("failed", "injected terminal fault in silver.b")
    assert states["gold.b_summary"] == states["gold.joined"] == ("skipped", "upstream failed: silver.b")
    assert all(states[n][0] == "ok" for n in ("bronze.a", "bronze.b", "silver.a", "gold.a_summary"))
    lake = LocalLake(root / "lake")
    assert lake.current("gold.a_summary").rows == 1 and lake.current("silver.b") is None
    assert record.status == "failed" and record.resume_command == f"medallion run --resume {record.run_id}"

    resume = next(line.split("to resume: ", 1)[1] for line in out.splitlines() if "to resume: " in line)
    assert main([*shlex.split(resume)[1:], *base]) == 0
    finished = capsys.readouterr().out
    assert "3 ok, 0 failed, 0 skipped" in finished  # silver.b and its two marts, nothing else again
    assert lake.current("silver.a").version == 1
    tables = _tables(root / "lake")
    for name, rows in EXPECTED.items():
        assert tables[name][sorted(rows[0])].to_dict("records") == sorted(
            rows, key=lambda r: tuple(r[c] for c in sorted(r))), name
    assert json.loads((root / "lake" / "_runs" / f"{record.run_id}.json").read_text())["resolved_by"]
