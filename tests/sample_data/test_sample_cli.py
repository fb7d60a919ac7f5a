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


def test_daily_writes_one_file_per_business_day(tmp_path):
    import csv

    single, daily = tmp_path / "single", tmp_path / "daily"
    for out, extra in ((single, []), (daily, ["--daily"])):
        res = runner.invoke(_app(), ["sample", "--scale", "0.01", "--seed", "7", "--out", str(out), *extra])
        assert res.exit_code == 0, res.output
    assert not (daily / "order_items.csv").exists() and (daily / "date_dim.csv").exists()
    days = sorted(p.name for p in (daily / "order_items").glob("*.csv"))
    assert len(days) > 30 and days[0] < days[-1]

    def records(paths):
        out = []
        for path in paths:
            with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
                out += list(csv.reader(fh))[1:]
        return sorted(out)

    # the same records as the single files, each once
    assert records((daily / "order_items").glob("*.csv")) == records([single / "order_items.csv"])
    assert records((daily / "order_item_options").glob("*.csv")) == records([single / "order_item_options.csv"])
