"""The calibration / holdout evaluation: summaries from order rows, the metrics, the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.clv import bgnbd
from engine.clv.compare import calibration_deciles, evaluate_all, naive_rate, rfm_regression
from engine.clv.evaluate import auc, calibration_holdout, naive_prediction, normalized_gini, summarise, true_alive_at

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


def _frame(x, t_x, T, y, m=None, v=None) -> pd.DataFrame:
    out = pd.DataFrame({"frequency": x, "recency": t_x, "T": T, "actual": y,
                        "monetary": np.nan if m is None else m})
    if v is not None:
        out["actual_value"] = v
    return out


def test_evaluation_on_simulated_customers_beats_the_baselines():
    true = bgnbd.BgNbdParams(0.6, 40.0, 0.7, 3.0)
    T = np.random.default_rng(1).integers(1, 720, 20_000).astype(float)
    sim = bgnbd.simulate(true, T, holdout=180, seed=3)
    report = evaluate_all(_frame(sim["x"], sim["t_x"], sim["T"], sim["holdout_x"]), 180, alive=sim["alive"],
                          setting="auto", draws=20)
    assert report["customers"] == 20_000 and set(report["models"]) == {"bgnbd", "mbgnbd", "pareto_nbd"}
    bg = report["models"]["bgnbd"]
    assert bg["converged"] and abs(bg["orders"]["aggregate_error_pct"]) < 5
    naive, rfm = report["baselines"]["naive"]["orders"], report["baselines"]["rfm_regression"]["orders"]
    assert bg["orders"]["mae"] < naive["mae"] and bg["orders"]["mae"] < rfm["mae"]
    assert bg["orders"]["gini"] > naive["gini"] > 0
    # the chosen model is the one with the lowest MAE, and its figures feed the dashboard's summary keys
    maes = {k: e["orders"]["mae"] for k, e in report["models"].items()}
    assert report["chosen"] == min(maes, key=maes.get) and report["mae"]["model"] == maes[report["chosen"]]
    assert report["auc_p_alive"] > report["auc_recency_baseline"] > 0.5
    assert [b["frequency"] for b in report["by_frequency"]][-1] == "7+"
    groups = bg["calibration"]
    assert len(groups) == 10 and sum(g["customers"] for g in groups) == 20_000
    assert groups[-1]["observed_active"] > groups[0]["observed_active"]
    assert 0 <= bg["coverage"]["orders"] <= 1


def test_baselines_by_hand():
    x, T, m = np.array([2.0, 0, 4]), np.array([10.0, 5, 20]), np.array([30.0, np.nan, 10])
    orders, money = naive_rate(x, T, m, 10)
    pop = 6 / 35  # a one-time buyer gets the population's repeat rate, not 0
    np.testing.assert_allclose(orders, [2.0, pop * 10, 2.0])
    pop_value = (2 * 30 + 4 * 10) / 6  # purchase-weighted mean repeat spend
    np.testing.assert_allclose(money, [60.0, pop * 10 * pop_value, 20.0])
    # the regression is fitted on one half and applied to the other: an exactly linear target is recovered
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, 400).astype(float)
    T = rng.uniform(50, 100, 400)
    t_x = np.where(x > 0, T * rng.uniform(0.1, 1, 400), 0.0)
    target = 0.5 + 0.3 * x + 0.01 * T
    np.testing.assert_allclose(rfm_regression(x, t_x, T, np.full(400, np.nan), target), target, rtol=1e-8)
    groups = calibration_deciles(np.array([0.1, 0.9, 0.5, 0.3]), np.array([False, True, True, False]), groups=2)
    assert groups == [{"group": 1, "customers": 2, "predicted_p_alive": pytest.approx(0.2), "observed_active": 0.0},
                      {"group": 2, "customers": 2, "predicted_p_alive": pytest.approx(0.7), "observed_active": 1.0}]


def test_evaluation_without_a_fit_reports_the_baselines_and_why():
    report = evaluate_all(_frame([0, 1, 0], [0, 2, 0], [5, 5, 5], [0, 1, 0]), 10, setting="bgnbd")
    assert report["fit"]["converged"] is False and "too little data" in report["message"]
    assert report["mae"]["model"] is None and report["mae"]["naive"] is not None
    assert report["aggregate"]["model"] is None and report["auc_p_alive"] is None
    assert "orders" not in report["models"]["pareto_nbd"]
