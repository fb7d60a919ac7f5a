"""``medallion clv evaluate``'s logic: which step, the truth file, the report and its lines."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from engine.clv import backtest
from engine.errors import UsageError
from engine.spec.clv import ClvModelStep

ORDERS = pd.DataFrame({
    "customer": ["a", "a", "a", "a", "b", "b", "c", "d"],
    "day": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 5), date(2024, 1, 11), date(2024, 1, 3),
            date(2024, 1, 20), date(2024, 1, 10), date(2024, 1, 12)],
    "value": [10.0, 5.0, 20.0, 40.0, 7.0, 9.0, 3.0, 8.0],
})


def step(**evaluation) -> ClvModelStep:
    cfg = {"orders": "gold.orders", "customer": "customer", "date": "day", "value": "value", **evaluation}
    return ClvModelStep.model_validate({"type": "clv_model", "min_repeat_customers": 1, "evaluation": cfg})


def graph(**specs) -> SimpleNamespace:
    return SimpleNamespace(specs={name: SimpleNamespace(spec=SimpleNamespace(steps=steps))
                                  for name, steps in specs.items()})


def test_find_step_needs_an_evaluation_block_and_a_choice_when_ambiguous():
    plain = ClvModelStep.model_validate({"type": "clv_model"})
    with pytest.raises(UsageError, match="no clv_model step with an 'evaluation:' block in the project"):
        backtest.find_step(graph(**{"gold.x": [plain]}), None)
    one, two = step(), step()
    with pytest.raises(UsageError, match=r"choose one with --spec \(gold.a, gold.b\)"):
        backtest.find_step(graph(**{"gold.a": [one], "gold.b": [two]}), None)
    assert backtest.find_step(graph(**{"gold.a": [one], "gold.b": [two]}), "gold.b") == ("gold.b", two)
    with pytest.raises(UsageError, match="in spec 'gold.c'"):
        backtest.find_step(graph(**{"gold.a": [one]}), "gold.c")


def test_backtest_report_counts_the_holdout_and_the_baseline(tmp_path: Path):
    # calibration to Jan 5: a (Jan 1, Jan 5: x=1, T=4), b (Jan 3: x=0, T=2); holdout Jan 6-15:
    # a buys on Jan 11 (1 day), b's Jan 20 falls outside; c and d start after the calibration end
    truth = tmp_path / "truth.csv"
    truth.write_text("id,alive,dropped\na,TRUE,\nb,FALSE,2024-01-03\nc,TRUE,\n", encoding="utf-8")
    s = step(truth={"path": str(truth), "customer": "id", "alive_at_end": "alive", "dropout_date": "dropped"})
    end = date(2024, 1, 5)
    report = backtest.backtest(ORDERS, s, end, 10,
                               lambda index: backtest.true_alive(s.evaluation, tmp_path, index, end))
    assert report["customers"] == 2 and report["holdout_days"] == 10 and report["holdout_end"] == "2024-01-15"
    assert report["aggregate"]["actual"] == 1.0
    # naive: past rate x holdout = 1/4 x 10 for a; b (no repeat) gets the population's 1/(4+2) x 10
    assert report["aggregate"]["naive"]["predicted"] == pytest.approx(2.5 + 10 / 6)
    assert report["mae"]["naive"] == pytest.approx((abs(2.5 - 1) + 10 / 6) / 2)
    # money: a's holdout revenue is 40 (Jan 11); naive money = orders x own mean repeat spend (20)
    naive_money = report["baselines"]["naive"]["money"]
    assert naive_money["predicted"] == pytest.approx(2.5 * 20 + 10 / 6 * 20)
    # b dropped out on Jan 3, before the calibration end: a alive, b not; recency ranks a first
    assert report["auc_recency_baseline"] == 1.0 and report["truth_note"] is None
    lines = backtest.report_lines({**report, "spec": "gold.x"})
    assert lines[0] == ("clv evaluation of gold.x: calibration to 2024-01-05, holdout 10 days (to 2024-01-15), "
                        "2 customers")
    naive_row = next(line for line in lines if line.strip().startswith("naive rate"))
    assert naive_row.split()[2] == f"{(1.5 + 10 / 6) / 2:,.3f}"


def test_truth_file_missing_or_incomplete_is_said_not_guessed(tmp_path: Path):
    s = step(truth={"path": "nowhere.csv", "customer": "id", "alive_at_end": "alive", "dropout_date": "dropped"})
    alive, note = backtest.true_alive(s.evaluation, tmp_path, pd.Index(["a"]), date(2024, 1, 5))
    assert alive is None and note == f"no truth file at {tmp_path / 'nowhere.csv'}"
    (tmp_path / "nowhere.csv").write_text("id,alive,dropped\na,TRUE,\n", encoding="utf-8")
    alive, note = backtest.true_alive(s.evaluation, tmp_path, pd.Index(["a", "z"]), date(2024, 1, 5))
    assert alive is None and note == "1 customer(s) missing from nowhere.csv"
    alive, note = backtest.true_alive(s.evaluation, tmp_path, pd.Index(["a"]), date(2024, 1, 5))
    assert note is None and np.array_equal(alive, [True])
