"""init -> validate -> test -> preview -> run on a fresh folder; preview --sample; test --select;
project-registered commands; schema writes; header mismatch told column by column."""

from __future__ import annotations

import json
import re

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


NUMS_BRONZE = """\
name: bronze.nums
steps:
  - type: read
    format: csv
    path: raw/nums.csv
    columns: {id: string, label: string}
"""

NUMS_SILVER = """\
name: silver.nums
inputs:
  nums: bronze.nums
steps:
  - type: parse
    columns:
      id: {type: int}
  - type: derive
    columns:
      doubled: id * 2
"""


def test_preview_sample_uses_a_fraction_of_the_rows_and_commits_nothing(spark, make_project, capsys):
    """200 rows id 1..200; --sample 0.1 keeps each row with probability 0.1 (Bernoulli, seed 21):
    about 20 rows (binomial sd 4.2), so 5..40 - never the 200 - and only real rows of the file."""
    csv = "id,label\n" + "".join(f"{i},n{i}\n" for i in range(1, 201))
    root = make_project({"pipelines/nums.yaml": NUMS_BRONZE, "pipelines/silver_nums.yaml": NUMS_SILVER,
                         "raw/nums.csv": csv})

    def preview(*args: str) -> tuple[int, list[list[str]]]:
        assert main(["preview", "silver.nums", "--project-dir", str(root), *args]) == 0
        out = capsys.readouterr().out
        assert "input nums: bronze.nums is not committed yet" in out and "nothing was committed" in out
        total = int(re.search(r"([\d,]+) row\(s\) in the preview output", out).group(1).replace(",", ""))
        lines = out.splitlines()
        start = lines.index("id\tlabel\tdoubled") + 1
        shown = [line.split("\t") for line in lines[start:lines.index("column\ttype\tderived by validate")]]
        return total, shown

    total, shown = preview("--limit", "100")
    assert total == 200 and len(shown) == 100  # --sample 1 (the default): every row, --limit shown
    total, shown = preview("--sample", "0.1", "--limit", "100")
    assert 5 <= total <= 40, total
    assert len(shown) == total  # fewer rows than the limit: all of the sample is shown
    ids = [int(row[0]) for row in shown]
    assert len(set(ids)) == len(ids) and all(1 <= i <= 200 for i in ids)
    assert all(row == [str(i), f"n{i}", str(2 * i)] for i, row in zip(ids, shown))  # real rows, built
    again, _ = preview("--sample", "0.1", "--limit", "100")
    assert again == total  # the sample is seeded: the same rows each time
    total, shown = preview("--sample", "0.1", "--limit", "3")
    assert len(shown) == 3
    total, shown = preview("--sample", "0")
    assert (total, shown) == (0, [])
    assert not (root / "lake").exists()  # nothing committed, no run record


TESTED_B = """\
name: silver.b
inputs:
  a: bronze.a
steps:
  - type: derive
    columns:
      doubled: CAST(price AS INT) * 2
tests:
  - name: b doubles
    given:
      a: [{order_id: o1, price: "2"}]
    expect:
      rows: [{order_id: o1, doubled: 4}]
"""

TESTED_C = """\
name: silver.c
inputs:
  a: bronze.a
steps:
  - type: derive
    columns:
      tripled: CAST(price AS INT) * 3
tests:
  - name: c triples (expects a wrong value)
    given:
      a: [{order_id: o1, price: "2"}]
    expect:
      rows: [{order_id: o1, tripled: 7}]
"""

A_BRONZE = """\
name: bronze.a
steps:
  - type: read
    format: csv
    path: raw/a.csv
    columns: {order_id: string, price: string}
"""


def test_test_select_runs_only_the_selected_specs_tests(spark, make_project, capsys):
    root = make_project({"pipelines/a.yaml": A_BRONZE, "pipelines/b.yaml": TESTED_B, "pipelines/c.yaml": TESTED_C})
    project = ["--project-dir", str(root)]
    assert main(["test", "--select", "silver.b", *project]) == 0  # c's failing test is not run
    out = capsys.readouterr().out
    assert "PASS silver.b: b doubles" in out and "silver.c" not in out and "1 passed, 0 failed" in out
    assert main(["test", "--select", "c", *project]) == 1  # a short name
    out = capsys.readouterr().out
    assert "FAIL silver.c: c triples" in out and "tripled expected 7, got 6" in out
    assert "silver.b" not in out and "0 passed, 1 failed" in out
    assert main(["test", "--select", "layer:bronze", *project]) == 0
    assert "no spec tests in the selection" in capsys.readouterr().out


def test_test_select_of_an_unknown_spec_suggests_the_closest_and_exits_2(make_project, capsys):
    root = make_project({"pipelines/a.yaml": A_BRONZE, "pipelines/b.yaml": TESTED_B, "pipelines/c.yaml": TESTED_C})
    assert main(["test", "--select", "silver.bb", "--project-dir", str(root)]) == 2
    captured = capsys.readouterr()
    assert "no spec named 'silver.bb' (did you mean 'silver.b'?)" in captured.err
    assert "PASS" not in captured.out and "FAIL" not in captured.out  # nothing ran
    assert main(["test", "--select", "layer:gold", "--project-dir", str(root)]) == 2
    assert "no spec in layer 'gold'" in capsys.readouterr().err
