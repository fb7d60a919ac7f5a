"""init -> validate -> test -> preview -> run on a fresh folder; project-registered commands;
schema writes; header mismatch told column by column."""

from __future__ import annotations

import json

import duckdb
import pytest

from engine.cli import main


@pytest.mark.slow
def test_init_project_validates_tests_previews_and_runs(spark, tmp_path, capsys, monkeypatch):
    project = tmp_path / "shop"
    assert main(["init", str(project)]) == 0
    assert (project / "medallion.yaml").is_file() and (project / "README.md").is_file()
    monkeypatch.chdir(project)
    assert main(["validate"]) == 0
    assert "3 spec(s) valid" in capsys.readouterr().out
    assert main(["test"]) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out
    assert main(["preview", "silver.events", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "bronze.events is not committed yet" in out and "5 row(s) in the preview output, 1 quarantined" in out
    assert not (project / ".lake").exists()  # a preview commits nothing
    assert main(["run"]) == 0
    con = duckdb.connect(str(project / ".lake" / "warehouse.duckdb"), read_only=True)
    # by hand from the template's events.csv: e5 quarantined (duration), e2 repeated, ' Home ' -> home
    assert con.execute("select cast(event_date as varchar), page, views, visitors, anonymous_views "
                       "from gold.daily_pages order by 1, 2").fetchall() == [
        ("2024-03-01", "home", 2, 2, 0), ("2024-03-01", "pricing", 1, 1, 0), ("2024-03-02", "home", 2, 1, 1)]
    con.close()
    assert main(["preview", "gold.daily_pages"]) == 0
    assert "silver.events version 1 (committed by run" in capsys.readouterr().out


def test_init_refuses_a_folder_with_files(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("keep me")
    assert main(["init", str(tmp_path)]) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert (tmp_path / "x.txt").read_text() == "keep me"


def test_project_commands_come_from_medallion_yaml(make_project, tmp_path, capsys, monkeypatch):
    root = make_project({"tools.py": "def register(app):\n    @app.command('hello')\n    def hello():\n"
                                     "        print('hello from the project')\n"},
                        config="name: p\ncommands: [tools:register]\nprofiles:\n  local:\n"
                               "    lake: {kind: local, root: lake}\n    warehouse: {kind: duckdb, path: w.duckdb}\n")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["hello"]) == 2  # not a command of the engine
    capsys.readouterr()
    monkeypatch.chdir(root)
    assert main(["hello"]) == 0
    assert "hello from the project" in capsys.readouterr().out


def test_sample_is_the_restaurant_projects_command_not_the_engines():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    plugins = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]["medallion.commands"]
    assert "sample" not in plugins
    assert "sample_data.cli:register" in (root / "medallion.yaml").read_text()


def test_schema_writes_both_json_schemas(tmp_path, capsys):
    assert main(["schema", "--out", str(tmp_path)]) == 0
    spec = json.loads((tmp_path / "spec.schema.json").read_text())
    config = json.loads((tmp_path / "medallion.schema.json").read_text())
    assert "steps" in spec["properties"] and "profiles" in config["properties"]
