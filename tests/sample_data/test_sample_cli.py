"""``medallion sample`` as registered on a Typer app (the engine discovers it via entry point)."""

from __future__ import annotations

import shutil

import typer
from typer.testing import CliRunner

from sample_data.cli import register


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """medallion"""

    register(app)
    return app


runner = CliRunner()


def test_generates_small_sample(tmp_path):
    out = tmp_path / "raw"
    res = runner.invoke(_app(), ["sample", "--scale", "0.01", "--seed", "7", "--out", str(out),
                                 "--profile", "local", "--var", "a=b", "--var", "c=d"])
    assert res.exit_code == 0, res.output
    assert (out / "order_items.csv").exists() and (out / "order_item_options.csv").exists()
    assert (out / "date_dim.csv").exists() and (out / "ground_truth.csv").exists()
    assert "order_items.csv" in res.output


def test_bad_scale_is_a_usage_error(tmp_path):
    res = runner.invoke(_app(), ["sample", "--scale", "0", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "scale" in res.output and len(res.output.strip().splitlines()) == 1


def test_bad_var_is_a_usage_error(tmp_path):
    res = runner.invoke(_app(), ["sample", "--var", "novalue", "--out", str(tmp_path)])
    assert res.exit_code == 2


def test_report_exit_codes(sample_small, tmp_path):
    ok = runner.invoke(_app(), ["sample", "--report", str(sample_small[0])], terminal_width=200)
    assert ok.exit_code == 0, ok.output
    assert "within tolerance" in ok.output
    broken = tmp_path / "broken"
    shutil.copytree(sample_small[0], broken)
    (broken / "date_dim.csv").write_bytes(b"date_key\n")
    bad = runner.invoke(_app(), ["sample", "--report", str(broken)], terminal_width=200)
    assert bad.exit_code == 1
    missing = runner.invoke(_app(), ["sample", "--report", str(tmp_path / "nothing")])
    assert missing.exit_code == 2
