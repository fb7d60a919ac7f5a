"""Run locators: in the project by default, elsewhere with MEDALLION_STATE_DIR (the suite's own).

The suite must never write into the repository it tests; the session fixture points the
locators at a temporary folder, and this checks both places a locator can go.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.run import resume
from engine.run.record import RunRecord

ROOT = Path(__file__).resolve().parents[2]


def _record(run_id: str) -> RunRecord:
    return RunRecord(run_id=run_id, project="p", profile="local", selection=[], var_args=["lake_dir=/x"])


def test_the_suite_keeps_locators_out_of_the_repository():
    folder = resume.locator_folder(ROOT)
    assert Path(os.environ["MEDALLION_STATE_DIR"]) in folder.parents
    assert ROOT not in folder.parents


def test_default_is_the_project_folder_and_the_override_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDALLION_STATE_DIR")
    resume.remember(tmp_path, _record("20260101T000000Z-aaaa"), "/lake")
    assert (tmp_path / ".medallion" / "runs" / "20260101T000000Z-aaaa.json").is_file()
    assert resume.locate(tmp_path, None)["var_args"] == ["lake_dir=/x"]
    elsewhere = tmp_path / "state"
    monkeypatch.setenv("MEDALLION_STATE_DIR", str(elsewhere))
    resume.remember(tmp_path, _record("20260101T000001Z-bbbb"), "/lake")
    assert [p.name for p in elsewhere.rglob("*.json")] == ["20260101T000001Z-bbbb.json"]
    assert resume.locate(tmp_path, None)["run_id"] == "20260101T000001Z-bbbb"
    assert not (tmp_path / ".medallion" / "runs" / "20260101T000001Z-bbbb.json").exists()
    # another project's newer run is never this project's "latest"
    other = tmp_path / "other"
    other.mkdir()
    resume.remember(other, _record("20260101T000009Z-cccc"), "/lake2")
    assert resume.locate(tmp_path, None)["run_id"] == "20260101T000001Z-bbbb"
    assert resume.locate(other, None)["run_id"] == "20260101T000009Z-cccc"
