"""Intervals beyond the per-customer expectation (engine/clv/intervals.py): the interval of the
totals, the predictive intervals the backtest's second coverage uses, and estimates too
uncertain for any interval.

Independent checks: each family's simulated future (``future_if_alive``) against its closed-form
conditional expectation (``growth``, checked against lifetimes in test_clv_families.py) by
Monte Carlo; Gamma-Gamma's simulated spend against its conditional mean (Fader & Hardie 2013,
eq. (5)); the totals against sums recomputed by hand from the same seeded draws.
"""

from __future__ import annotations


import numpy as np
import pytest

from engine.clv import FitResult, compress, gamma_gamma, pareto_nbd
from engine.clv.families import FAMILIES, score
from engine.clv.intervals import draw_params, intervals, predictive_intervals

@pytest.mark.parametrize("name", list(FAMILIES))
def test_simulated_future_has_the_closed_form_mean(fits, name):
    family = FAMILIES[name]
    params = family.params(fits[name].params)
    x, T = np.array([0.0, 1.0, 5.0, 20.0]), np.array([30.0, 20.0, 35.0, 38.0])
    rng = np.random.default_rng(1)
    draws = np.stack([family.future_if_alive(params, 39.0, x, T, rng) for _ in range(40_000)])
    error = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - family.growth(params, 39.0, x, T)) < 4 * error), name
    assert np.all(draws == np.round(draws)) and draws.min() == 0


def test_simulated_spend_has_the_conditional_mean():
    gg = gamma_gamma.GammaGammaParams(6.25, 3.74, 15.44)  # CDNOW's published estimate
    x, m, n = np.array([0.0, 2.0, 10.0]), np.array([np.nan, 30.0, 50.0]), np.array([3.0, 2.0, 0.0])
    rng = np.random.default_rng(2)
    draws = np.stack([gamma_gamma.future_spend(gg, x, m, n, rng) for _ in range(40_000)])
    # eq. (5) by hand: p(γ + x m̄)/(px + q - 1); population mean pγ/(q - 1) without a spend history
    by_hand = np.array([3 * 6.25 * 15.44 / 2.74, 2 * 6.25 * (15.44 + 60) / (12.5 + 2.74), 0.0])
    error = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - by_hand) <= 4 * error + 1e-12)
    assert np.all(draws[:, 2] == 0)


def test_total_interval_is_the_quantile_of_each_draws_total(cdnow, fits):
    family, fit = FAMILIES["pareto_nbd"], fits["pareto_nbd"]
    x, t_x, T = (cdnow[c].to_numpy(float)[:400] for c in ("x", "t_x", "T"))
    (dx, dtx, dT), weights = compress(x, t_x, T)
    band = intervals(family, fit, None, 39.0, dx, dtx, dT, None, draws=50, seed=4, weights=weights)
    params, _ = draw_params(fit, 50, np.random.default_rng(4))  # the same seeded draws, by hand
    totals = [float(score(family, family.params(p), 39.0, x, t_x, T)["expected"].sum()) for p in params]
    low, high = np.quantile(totals, [0.1, 0.9])
    assert band["totals"]["expected_low"] == pytest.approx(low, rel=1e-5)  # float32 per-row storage
    assert band["totals"]["expected_high"] == pytest.approx(high, rel=1e-5)
    point = float(score(family, family.params(fit.params), 39.0, x, t_x, T)["expected"].sum())
    assert low < point < high
    per_row = float(weights @ band["expected_low"])  # a sum of per-row quantiles is another number
    assert per_row != pytest.approx(low, rel=1e-3)


def test_predictive_intervals_cover_customers_drawn_from_the_model():
    true = pareto_nbd.ParetoNbdParams(r=0.8, alpha=20.0, s=0.9, beta=60.0)
    sim = pareto_nbd.simulate(true, np.random.default_rng(5).uniform(30, 300, 4_000), holdout=100.0, seed=6)
    family = FAMILIES["pareto_nbd"]
    fit = family.fit(sim["x"], sim["t_x"], sim["T"])
    pred = predictive_intervals(family, fit, None, 100.0, sim["x"], sim["t_x"], sim["T"], None, draws=100, seed=7)
    again = predictive_intervals(family, fit, None, 100.0, sim["x"], sim["t_x"], sim["T"], None, draws=100, seed=7)
    np.testing.assert_array_equal(pred["orders_high"], again["orders_high"])
    y = sim["holdout_x"]
    covered = np.mean((pred["orders_low"] <= y) & (y <= pred["orders_high"]))
    # the right model: coverage as claimed, and at least the nominal 80% (whole-number counts, mostly 0)
    assert covered == pytest.approx(pred["orders_claimed"], abs=0.015) and covered >= 0.8
    band = intervals(family, fit, None, 100.0, sim["x"], sim["t_x"], sim["T"], None, draws=100, seed=7)
    assert np.mean((band["expected_low"] <= y) & (y <= band["expected_high"])) < 0.2  # the expectation's: not the count's
    # an overconfident model - everyone buys at the population's rate, nobody drops out - falls short of its claim
    rate = sim["x"].sum() / sim["T"].sum()
    sure = FitResult("pareto_nbd", {"r": 100.0, "alpha": 100.0 / rate, "s": 100.0, "beta": 3e4}, -1.0, True,
                     "converged", extra={"covariance_log": (np.eye(4) * 1e-8).tolist()})
    bad = predictive_intervals(family, sure, None, 100.0, sim["x"], sim["t_x"], sim["T"], None, draws=100, seed=7)
    assert np.mean((bad["orders_low"] <= y) & (y <= bad["orders_high"])) < bad["orders_claimed"] - 0.03


def test_an_estimate_too_uncertain_for_an_interval_gets_none_with_the_reason(cdnow):
    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("x", "t_x", "T"))
    vague = FitResult("mbgnbd", {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}, -1.0, True, "converged",
                      extra={"covariance_log": (np.eye(4) * 400.0).tolist()})  # sd 20 in log-parameters
    band = intervals(FAMILIES["mbgnbd"], vague, None, 39.0, x, t_x, T, None, draws=50, seed=1)
    assert band["draws"] == 0 and "parameter draws fall outside the model" in band["note"]
    kept, why = draw_params(vague, 50, np.random.default_rng(1), accept=lambda rows: rows[:, 0] > 0)
    assert kept is None and why.startswith("mbgnbd: ")
