"""BG/NBD and Gamma-Gamma in numpy: the published CDNOW results, the maths, and honest failure.

The CDNOW reference values are from Fader, Hardie & Lee (2005) and Fader & Hardie (2013);
the data file's provenance is in tests/cases/clv/README.md.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from engine.clv import compress, minimize_log
from engine.clv import bgnbd, gamma_gamma, mbgnbd, pareto_nbd
from engine.clv.validation import screen
from engine.errors import InvalidSummaryError

CDNOW = __import__("pathlib").Path(__file__).resolve().parents[1] / "cases" / "clv" / "cdnow_summary.csv"


def agrees(got: float, published: float) -> bool:
    """Equal to 3 significant digits (or to all the digits published, when fewer: 0.0078 has 2)."""
    digits = min(3, len(f"{published:e}".split("e")[0].replace(".", "").replace("-", "").rstrip("0")))
    return float(f"{got:.{digits}g}") == float(f"{published:.{digits}g}")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    data = pd.read_csv(CDNOW)
    assert len(data) == 2357 and int((data["x"] > 0).sum()) == 946
    return data


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_bgnbd_reproduces_the_published_cdnow_fit(cdnow_fit):
    assert cdnow_fit.converged, cdnow_fit.message
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert agrees(cdnow_fit.params[name], value), (name, cdnow_fit.params[name])
        assert cdnow_fit.params[name] == pytest.approx(value, rel=2e-3)
    assert cdnow_fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert cdnow_fit.n_customers == 2357 and cdnow_fit.extra["n_repeat"] == 946
    assert cdnow_fit.n_rows < 2357  # fitted on distinct (x, t_x, T) rows with counts


def test_bgnbd_published_expectations(cdnow_fit):
    params = bgnbd.BgNbdParams.from_dict(cdnow_fit.params)
    # customer 1 of the paper: x = 2, t_x = 30.43, T = 38.86
    expected = float(bgnbd.conditional_expected_purchases(params, 39, 2, 30.43, 38.86))
    assert agrees(expected, 1.226) and expected == pytest.approx(1.226, abs=5e-4)
    t = [0.1429, 1, 3, 31.8571, 32, 78]
    published = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    for got, want in zip(bgnbd.expected_purchases(params, t), published):
        assert agrees(got, want) and got == pytest.approx(want, rel=3e-3), (got, want)


def test_gamma_gamma_reproduces_the_published_cdnow_fit(cdnow):
    fit = gamma_gamma.fit(cdnow["x"], cdnow["zbar"])
    assert fit.converged, fit.message
    assert fit.n_customers == 946 and fit.extra["n_excluded"] == 2357 - 946
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert agrees(fit.params[name], value), (name, fit.params[name])
        assert fit.params[name] == pytest.approx(value, rel=2e-3)
    params = gamma_gamma.GammaGammaParams.from_dict(fit.params)
    # eq. (5): a weighted average of the population mean and the customer's own mean
    x, m = 2.0, 22.35
    weight = params.p * x / (params.p * x + params.q - 1)
    expected = (1 - weight) * params.population_mean + weight * m
    assert float(gamma_gamma.conditional_expected_value(params, x, m)) == pytest.approx(expected, rel=1e-12)
    # no repeat purchase: the population mean pγ/(q-1)
    assert float(gamma_gamma.conditional_expected_value(params, 0, 0.0)) == pytest.approx(
        params.p * params.gamma / (params.q - 1))


def _direct_growth(p: bgnbd.BgNbdParams, t: float, x: float, T: float) -> float:
    """The bracket of FHL eq. (10) summed term by term (all terms positive, in logs)."""
    z = t / (p.alpha + T + t)
    A, B, C = p.r + x, p.b + x, p.a + p.b + x - 1
    logs, term, j = [0.0], 0.0, 0
    while j < 50 or term > max(logs) - 40:
        term += math.log((A + j) * (B + j) / ((C + j) * (j + 1)) * z)
        logs.append(term)
        j += 1
    top = max(logs)
    log_f = top + math.log(sum(math.exp(v - top) for v in logs))
    return C / (p.a - 1) * -math.expm1((p.r + x) * math.log1p(-z) + log_f)


@pytest.mark.parametrize("params", [bgnbd.BgNbdParams(0.243, 4.414, 0.793, 2.426),
                                    bgnbd.BgNbdParams(0.5, 30.0, 0.8, 2.5),
                                    bgnbd.BgNbdParams(2.0, 200.0, 1.5, 0.7),
                                    bgnbd.BgNbdParams(0.3, 10.0, 0.9999, 2.0)])
def test_euler_transformed_hypergeometric_matches_the_direct_series(params):
    for x in (0, 1, 5, 40):
        for T in (0.0, 10.0, 300.0):
            for t in (1.0, 39.0, 365.0):
                if t / (params.alpha + T + t) > 0.95:
                    continue  # the direct series needs too many terms there
                got = float(bgnbd.growth(params, t, x, T))
                assert got == pytest.approx(_direct_growth(params, t, x, T), rel=1e-7), (x, T, t)


def test_p_alive():
    p = bgnbd.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    assert bgnbd.p_alive(p, 0, 0, 38.86) == 1.0  # no repeat: cannot have dropped out yet
    direct = 1 / (1 + p.a / (p.b + 2 - 1) * ((p.alpha + 38.86) / (p.alpha + 30.43)) ** (p.r + 2))
    assert float(bgnbd.p_alive(p, 2, 30.43, 38.86)) == pytest.approx(direct, rel=1e-12)
    # longer silence, lower p_alive; extreme values neither overflow nor give NaN
    values = bgnbd.p_alive(p, [5, 5, 5, 500], [10, 10, 10, 1], [10, 20, 40, 1e6])
    assert values[0] > values[1] > values[2] and values[3] == pytest.approx(0.0) and np.isfinite(values).all()


def test_discounted_growth():
    p = bgnbd.BgNbdParams(0.5, 30.0, 0.8, 2.5)
    x, T = np.array([0.0, 3.0]), np.array([100.0, 400.0])
    plain = bgnbd.growth(p, 365, x, T)
    np.testing.assert_allclose(bgnbd.discounted_growth(p, 365, x, T, 0.0), plain, rtol=1e-12)
    discounted = bgnbd.discounted_growth(p, 365, x, T, 0.1)
    assert (discounted < plain).all() and (discounted > plain / 1.1).all()
    # one step: the whole horizon discounted from its end
    one = bgnbd.discounted_growth(p, 30, x, T, 0.1, step_days=30)
    np.testing.assert_allclose(one, bgnbd.growth(p, 30, x, T) * 1.1 ** (-30 / 365.25), rtol=1e-12)


@pytest.mark.parametrize("theta", [np.log([0.3, 5.0, 0.7, 2.0]), np.log([2.0, 50.0, 3.0, 0.5])])
def test_bgnbd_gradient_is_exact(cdnow, theta):
    data = bgnbd._Data(*(cdnow[c].to_numpy(float) for c in ("x", "t_x", "T")), np.ones(len(cdnow)))
    f = lambda th: bgnbd._neg_ll_and_grad(th, data)[0]  # noqa: E731
    g = lambda th: bgnbd._neg_ll_and_grad(th, data)[1]  # noqa: E731
    assert check_grad(f, g, theta) < 1e-5 * np.abs(g(theta)).max()


def test_gamma_gamma_gradient_is_exact(cdnow):
    rep = cdnow[cdnow["x"] > 0]
    data = gamma_gamma._Data(rep["x"].to_numpy(float), rep["zbar"].to_numpy(float), np.ones(len(rep)))
    f = lambda th: gamma_gamma._neg_ll_and_grad(th, data)[0]  # noqa: E731
    g = lambda th: gamma_gamma._neg_ll_and_grad(th, data)[1]  # noqa: E731
    theta = np.log([1.0, 2.0, 30.0])
    assert check_grad(f, g, theta) < 1e-5 * np.abs(g(theta)).max()


def test_compressed_weighted_rows_fit_like_the_raw_rows(cdnow):
    (x, t_x, T), counts = compress(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert counts.sum() == 2357 and len(x) < 2357
    params = bgnbd.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    assert bgnbd.log_likelihood(params, x, t_x, T, counts) == pytest.approx(
        bgnbd.log_likelihood(params, cdnow["x"], cdnow["t_x"], cdnow["T"]), rel=1e-12)


def test_fit_recovers_simulated_parameters():
    true = bgnbd.BgNbdParams(0.6, 40.0, 0.7, 3.0)
    T = np.random.default_rng(5).integers(30, 720, 30_000).astype(float)
    sim = bgnbd.simulate(true, T, seed=11)
    fit = bgnbd.fit(sim["x"], sim["t_x"], sim["T"])
    assert fit.converged
    for name in ("r", "alpha", "a", "b"):
        assert fit.params[name] == pytest.approx(getattr(true, name), rel=0.2), name
    gg_true = gamma_gamma.GammaGammaParams(5.0, 4.0, 60.0)
    m = gamma_gamma.simulate(gg_true, sim["x"], seed=3)
    gg = gamma_gamma.fit(sim["x"], m)
    assert gg.converged and abs(gg.extra["corr_x_m"]) < 0.05
    assert gg.extra["population_mean"] == pytest.approx(gg_true.population_mean, rel=0.1)


def test_too_little_data_is_skipped_with_a_reason():
    fit = bgnbd.fit([0, 0, 1, 2], [0, 0, 3, 5], [9, 9, 9, 9], min_repeat_customers=10)
    assert not fit.converged and fit.params is None
    assert fit.message == "too little data: 2 repeat customer(s) of 4 (the minimum is 10)"
    none = bgnbd.fit([0, 0], [0, 0], [3, 4])
    assert not none.converged and "0 repeat customer(s)" in none.message
    gg = gamma_gamma.fit([0, 1, 2], [0.0, -3.0, np.nan])  # no positive spend to learn from
    assert not gg.converged and gg.extra["n_excluded"] == 3 and "too little data" in gg.message


def test_invalid_rows_are_refused_with_a_count_and_an_example_per_reason(cdnow):
    x = np.r_[cdnow["x"], [-1, 1.5, 2, 0, np.nan, 3, 1]]
    t_x = np.r_[cdnow["t_x"], [0, 3, 50, 4, 1, 0, 2]]   # t_x > T; x = 0 with t_x > 0; x > 0 with t_x = 0
    T = np.r_[cdnow["T"], [10, 10, 10, 10, 10, 10, -2]]
    assert bgnbd.check_summary(x, t_x, T).sum() == 2357
    found = screen(x, t_x, T)
    assert {k: v["count"] for k, v in found.reasons.items()} == {
        "missing": 1, "negative": 2, "fractional frequency": 1, "recency > T": 1, "recency without repeats": 1,
        "repeats without recency": 1}
    assert found.reasons["negative"]["example"] == {"x": -1, "t_x": 0, "T": 10}
    assert found.reasons["recency > T"]["example"] == {"x": 2, "t_x": 50, "T": 10}
    for module in (bgnbd, mbgnbd, pareto_nbd):
        with pytest.raises(InvalidSummaryError, match=r"7 invalid summaries: missing 1 \(e.g. x=None, t_x=1, T=10\); "
                                                      r"negative 2 \(e.g. x=-1"):
            module.fit(x, t_x, T)
    ok = found.valid
    assert bgnbd.fit(x[ok], t_x[ok], T[ok]).log_likelihood == pytest.approx(-9582.43, abs=0.01)


def test_non_convergence_is_reported_not_hidden(cdnow):
    fit = bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"], max_iterations=1)
    assert not fit.converged and fit.params is not None
    assert fit.message.startswith("the optimiser did not converge")
    # a likelihood whose optimum is at infinity: the estimate runs to the box and is rejected
    runaway = minimize_log(lambda th: (float(np.exp(-th[0])), np.array([-np.exp(-th[0])])), [1.0], ["k"],
                           total_weight=1.0, model="test")
    assert not runaway.converged and runaway.message.startswith("degenerate fit: k=")


def test_gamma_gamma_without_a_finite_mean_is_unusable():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 5, 3000).astype(float)
    m = rng.pareto(0.7, 3000) * 10 + 0.5  # tail too heavy for a finite mean
    fit = gamma_gamma.fit(x, m)
    assert not fit.converged and "q = " in fit.message and "unbounded" in fit.message
