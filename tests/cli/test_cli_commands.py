"""validate / plan / graph / runs and the exit-code contract (0 ok, 1 failed, 2 invalid)."""

from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]

BRONZE = """\
name: bronze.a
steps:
  - type: read
    format: csv
    path: ${var:raw_dir}/a.csv
    columns: {id: int}
"""
SILVER = """\
name: silver.b
inputs: {a: bronze.a}
steps:
  - type: fitler
    condition: id > 0
"""


def test_repository_specs_validate(capsys):
    assert main(["validate", "--project-dir", str(ROOT)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_fitler_is_reported_with_file_line_and_suggestion(make_project, capsys):
    root = make_project({"pipelines/bronze/a.yaml": BRONZE, "pipelines/silver/b.yaml": SILVER})
    assert main(["validate", "--project-dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert err == "error: pipelines/silver/b.yaml:4: unknown step type 'fitler' (did you mean 'filter'?)\n"


def test_yaml_syntax_error_is_one_line(make_project, capsys):
    root = make_project({"pipelines/bronze/a.yaml": BRONZE + "  - type: [unclosed\n"})
    assert main(["validate", "--project-dir", str(root)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: pipelines/bronze/a.yaml:") and "YAML syntax error" in err[0]


def test_unknown_variable_in_spec(make_project, capsys):
    root = make_project({"pipelines/bronze/a.yaml": BRONZE.replace("raw_dir", "raw_dri")})
    assert main(["plan", "--project-dir", str(root)]) == 2
    assert capsys.readouterr().err == ("error: pipelines/bronze/a.yaml:5: unknown variable 'raw_dri' (did you mean "
                                       "'raw_dir'?); declare it under variables: in medallion.yaml or pass --var\n")


def test_debug_adds_a_traceback(make_project, capsys):
    root = make_project({"pipelines/bronze/a.yaml": BRONZE, "pipelines/silver/b.yaml": SILVER})
    assert main(["validate", "--debug", "--project-dir", str(root)]) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_usage_errors_exit_2(make_project, capsys):
    root = make_project({"pipelines/bronze/a.yaml": BRONZE})
    assert main(["plan", "--select", "bronze.x", "--project-dir", str(root)]) == 2
    assert "no spec named 'bronze.x' (did you mean 'bronze.a'?)" in capsys.readouterr().err
    assert main(["run", "--var", "nope=1", "--project-dir", str(root)]) == 2
    assert "--var nope: unknown variable" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert main(["query", "select 1", "--format", "xml", "--project-dir", str(root)]) == 2
    assert main(["runs", "20990101T000000Z-abcdef", "--project-dir", str(root)]) == 2
    assert "no run '20990101T000000Z-abcdef'" in capsys.readouterr().err


def test_plan_and_graph(make_project, capsys):
    root = make_project({"pipelines/bronze/a.yaml": BRONZE,
                         "pipelines/silver/b.yaml": SILVER.replace("fitler", "filter")})
    assert main(["plan", "--project-dir", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["#", "spec", "layer", "inputs", "output", "file"]
    assert lines[1].split("\t")[:4] == ["1", "bronze.a", "bronze", "(files)"]
    assert lines[2].split("\t") == ["2", "silver.b", "silver", "bronze.a", "silver.b", "pipelines/silver/b.yaml"]
    assert main(["graph", "--format", "dot", "--project-dir", str(root)]) == 0
    assert '"bronze.a" -> "silver.b";' in capsys.readouterr().out
    assert main(["graph", "--project-dir", str(root), "--select", "silver.b"]) == 0
    out = capsys.readouterr().out
    assert "silver__b" in out and "bronze__a" not in out
