"""Output for people and for scripts: whole spec names at 80 columns, ``--format json``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from engine.cli import main
from engine.run.record import RunRecord, RunStore, SpecRecord
from engine.run.report import Reporter

ROOT = Path(__file__).resolve().parents[2]
LONG = "gold.a_customer_lifetime_value_table_with_a_very_long_name"


def test_table_keeps_kept_columns_whole_at_80_columns():
    out = io.StringIO()
    Reporter(out, plain=False).table("plan", ["#", "spec", "inputs", "file"],
                                     [["1", LONG, "silver.orders, silver.order_lines, silver.calendar",
                                       "/a/long/path/to/marts/" + LONG + ".yaml"]], keep=[1])
    text = out.getvalue()
    assert LONG in text  # the name on one line, never cut to 'gold.a_cu…'
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80


def _spec_files() -> list[Path]:
    config = yaml.safe_load((ROOT / "medallion.yaml").read_text())
    return [p for d in config["spec_dirs"] for p in sorted((ROOT / d).glob("*.yaml"))]


def test_plan_json_lists_every_spec_in_dependency_order(capsys):
    assert main(["plan", "--format", "json", "--project-dir", str(ROOT)]) == 0
    items = json.loads(capsys.readouterr().out)
    names = [yaml.safe_load(p.read_text())["name"] for p in _spec_files()]
    assert sorted(it["spec"] for it in items) == sorted(names)
    position = {it["spec"]: it["order"] for it in items}
    for it in items:  # every input comes before the spec that reads it
        for table in it["inputs"]:
            assert position[table] < it["order"], (table, it["spec"])
    assert [it["order"] for it in items] == list(range(1, len(items) + 1))


def test_runs_json_and_detail_show_conservation(tmp_path, capsys):
    lake = tmp_path / "lake"
    store = RunStore(lake / "_runs")
    acc = {"source": "rows", "rows_in": 10, "rows_out": 7, "quarantined": 2, "filtered": 1,
           "deduplicated": 0, "dropped": 0, "balanced": True}
    store.save(RunRecord(run_id="20240111T000000000Z-bbbbbb", project="p", profile="local", status="ok",
                         specs=[SpecRecord(spec=LONG, layer="gold", status="ok", rows_in=10, rows_out=7,
                                           quarantined=2, accounting=acc,
                                           rules=[{"rule": "positive_price", "kind": "row", "action": "quarantine",
                                                   "failed": 2, "checked": 10}])]))
    args = ["--project-dir", str(ROOT), "--var", f"lake_dir={lake}"]
    assert main(["runs", "--format", "json", *args]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in listed] == ["20240111T000000000Z-bbbbbb"]
    assert main(["runs", "20240111T000000000Z-bbbbbb", *args]) == 0
    text = capsys.readouterr().out
    assert "in 10 = out 7 + quarantined 2 + filtered 1" in text
    assert "rule positive_price [row, quarantine]: 2 of 10 rows failed" in text
    assert main(["runs", "--format", "yaml", *args]) == 2


def test_debug_is_documented_in_help(capsys):
    assert main(["--help"]) == 0
    assert "--debug" in capsys.readouterr().out
