"""The calibration / holdout evaluation: summaries from order rows, the metrics, the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.clv import bgnbd
from engine.clv.evaluate import (auc, calibration_holdout, evaluate, naive_prediction, normalized_gini, summarise,
                                 true_alive_at)

ORDERS = pd.DataFrame({
    "customer": ["a", "a", "a", "a", "b", "b", "c", "d", None],
    "day": ["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-11", "2024-01-03", "2024-01-20",
            "2024-01-10", "2024-01-12", "2024-01-02"],
    "value": [10.0, 5.0, 20.0, 40.0, 7.0, 9.0, 3.0, 8.0, 100.0],
})


def test_day_grain_summary_from_order_rows():
    s = summarise(ORDERS, customer="customer", date="day", value="value", as_of="2024-01-11")
    # a: days 1 (two orders), 5, 11 -> 2 repeat days; repeat-day values 20 and 40
    assert s.loc["a"].to_dict() == {"frequency": 2.0, "recency": 10.0, "T": 10.0, "monetary": 30.0}
    # b: only Jan 3 is on or before as_of
    assert s.loc["b", "frequency"] == 0 and s.loc["b", "T"] == 8 and np.isnan(s.loc["b", "monetary"])
    assert set(s.index) == {"a", "b", "c"}  # d starts after as_of; a guest order has no customer


def test_calibration_holdout_counts_repeat_days():
    s, days = calibration_holdout(ORDERS, customer="customer", date="day", calibration_end="2024-01-05",
                                  holdout_days=10)
    assert days == 10
    assert s["actual"].to_dict() == {"a": 1.0, "b": 0.0}  # a: Jan 11; b's Jan 20 is after the holdout
    _, until_end = calibration_holdout(ORDERS, customer="customer", date="day", calibration_end="2024-01-05")
    assert until_end == 15
    with pytest.raises(ValueError, match="no holdout"):
        calibration_holdout(ORDERS, customer="customer", date="day", calibration_end="2024-01-20")


def test_metrics():
    actual = np.array([0, 0, 1, 3, 5.0])
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) < 0
    assert normalized_gini(actual, np.ones(5)) == pytest.approx(0.0)  # ties: no information
    assert normalized_gini(np.zeros(3), [1, 2, 3]) is None
    # order-independent with ties
    assert normalized_gini(actual, [0, 1, 1, 1, 2]) == pytest.approx(normalized_gini(actual[::-1], [2, 1, 1, 1, 0]))
    assert auc([True, True, False, False], [0.9, 0.8, 0.1, 0.2]) == 1.0
    assert auc([True, False], [0.5, 0.5]) == 0.5
    assert auc([True, True], [0.1, 0.2]) is None
    np.testing.assert_allclose(naive_prediction([2, 0, 3], [10, 0, 30], 5), [1.0, 0.0, 0.5])
    alive = true_alive_at(["TRUE", "FALSE", "FALSE"], ["", "2024-01-05", "2024-03-01"], "2024-02-01")
    assert alive.tolist() == [True, False, True]


def test_evaluation_on_simulated_customers_beats_the_naive_baseline():
    true = bgnbd.BgNbdParams(0.6, 40.0, 0.7, 3.0)
    T = np.random.default_rng(1).integers(1, 720, 20_000).astype(float)
    sim = bgnbd.simulate(true, T, holdout=180, seed=3)
    report = evaluate(sim["x"], sim["t_x"], sim["T"], sim["holdout_x"], 180, alive=sim["alive"])
    assert report["fit"]["converged"] and report["customers"] == 20_000
    agg = report["aggregate"]
    assert abs(agg["model"]["error_pct"]) < 5 < abs(agg["naive"]["error_pct"])
    assert report["mae"]["model"] < report["mae"]["naive"]
    assert report["gini"]["model"] > report["gini"]["naive"] > 0
    assert report["auc_p_alive"] > report["auc_recency_baseline"] > 0.5
    assert [b["frequency"] for b in report["by_frequency"]][-1] == "7+"
    assert sum(b["customers"] for b in report["by_frequency"]) == 20_000


def test_evaluation_without_a_fit_reports_the_baseline_and_why():
    report = evaluate([0, 1, 0], [0, 2, 0], [5, 5, 5], [0, 1, 0], 10)
    assert report["fit"]["converged"] is False and "too little data" in report["message"]
    assert report["mae"]["model"] is None and report["mae"]["naive"] is not None
    assert report["aggregate"]["model"] is None and report["auc_p_alive"] is None
