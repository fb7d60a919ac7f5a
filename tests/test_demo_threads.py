"""The restaurant project at ``--threads 2`` builds the same lake as at ``--threads 1``: every
table row for row and value for value (bit-identical doubles, the CLV fits included), and the
same run record except ids and timings."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.cli import main
from engine.io.lake import LocalLake
from engine.run.record import RunStore

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
PER_RUN = ("_ingested_at", "_quarantined_at", "_run_id")  # when and by which run: differ by nature


def _rows(path: str, run_id: str) -> list[str]:
    """A table's rows as sorted JSON lines, the per-run columns checked and left out."""
    out = []
    for row in pq.read_table(path).to_pylist():
        if "_run_id" in row:
            assert row["_run_id"] == run_id
        if "_record" in row:  # the quarantined source row, as JSON: its per-run fields too
            record = json.loads(row["_record"])
            row["_record"] = {k: v for k, v in record.items() if k not in PER_RUN}
        out.append(json.dumps({k: v for k, v in row.items() if k not in PER_RUN}, sort_keys=True, default=repr))
    return sorted(out)


def _comparable(lake: Path) -> tuple[dict, str]:
    record = RunStore(lake / "_runs").list()[-1]
    data = record.model_dump(exclude={"run_id", "started_at", "finished_at", "holder", "var_args", "variables"})
    for spec in data["specs"]:
        spec.pop("seconds")
        for artefact in spec["artefacts"]:
            artefact.pop("seconds_driver", None)
    return data, record.run_id


def test_restaurant_marts_at_two_threads_equal_one_thread(spark, tmp_path, capsys):
    raw = tmp_path / "raw"
    assert main(["sample", "--scale", "0.05", "--seed", "11", "--out", str(raw)]) == 0
    lakes = {n: tmp_path / f"lake{n}" for n in (1, 2)}
    for n, lake in lakes.items():
        assert main(["run", "--plain", "--threads", str(n), "--project-dir", str(ROOT),
                     "--var", f"raw_dir={raw}", "--var", f"lake_dir={lake}"]) == 0
    out = capsys.readouterr().out
    assert " · 2 at a time" in out

    (one, one_id), (two, two_id) = _comparable(lakes[1]), _comparable(lakes[2])
    assert one == two
    assert any(a.get("kind") == "clv_model" for s in one["specs"] for a in s["artefacts"])  # the fit is compared
    tables = {n: {t.table: t for t in LocalLake(lake).tables()} for n, lake in lakes.items()}
    assert sorted(tables[1]) == sorted(tables[2])
    gold = [t for t in tables[1] if t.startswith("gold.")]
    assert len(gold) >= 10
    for name in sorted(tables[1]):
        assert _rows(tables[1][name].path, one_id) == _rows(tables[2][name].path, two_id), name
