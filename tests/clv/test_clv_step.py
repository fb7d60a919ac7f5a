"""The clv_model step in Spark, on small simulated summaries: scoring equals the numpy models,
and a model that cannot be fitted leaves null predictive columns and a report that says why."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from engine.clv import bgnbd, gamma_gamma, summary_line
from engine.spec.clv import ClvModelStep
from engine.steps.clv import run_clv_model
from engine.steps.context import StepContext

TRUE_BG = bgnbd.BgNbdParams(r=0.6, alpha=40.0, a=0.7, b=3.0)   # days
TRUE_GG = gamma_gamma.GammaGammaParams(p=5.0, q=4.0, gamma=60.0)


def _summary(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Day-grain customer summaries drawn from the models (whole days, as a mart has them)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 720, n).astype(float)
    sim = bgnbd.simulate(TRUE_BG, T, seed=seed)
    x = sim["x"]
    t_x = np.where(x > 0, np.clip(np.ceil(sim["t_x"]), 1, T), 0.0)
    m = np.round(gamma_gamma.simulate(TRUE_GG, x, seed=seed + 1), 2)
    return pd.DataFrame({"customer": [f"c{i}" for i in range(n)], "order_days": (x + 1).astype(int),
                         "recency_days": t_x.astype(int), "tenure_days": T.astype(int),
                         "repeat_day_value": np.where(x > 0, m, np.nan)})


COLUMNS = {"frequency": "frequency", "recency": "recency_days", "T": "tenure_days", "monetary": "repeat_day_value"}


@pytest.fixture(scope="module")
def summary(spark):
    pdf = _summary()
    frame = spark.createDataFrame(pdf).selectExpr("*", "order_days - 1 AS frequency")
    return pdf, frame


def _run(spark, frame, tmp_path, **options):
    step = ClvModelStep.model_validate({"type": "clv_model", "columns": COLUMNS, **options})
    ctx = StepContext(spark=spark, run_id="test-run", base_dir=tmp_path, spec_name="gold.case",
                      step_label="step 1 (clv_model)")
    out = run_clv_model(step, frame, ctx).toPandas().sort_values("customer", ignore_index=True)
    for cached in ctx.cached:
        cached.unpersist()
    return out, ctx.artefacts[-1]


def test_step_scores_like_the_numpy_models(spark, summary, tmp_path):
    pdf, frame = summary
    out, report = _run(spark, frame, tmp_path, min_repeat_customers=50)
    pdf = pdf.sort_values("customer", ignore_index=True)
    assert report["status"] == "fitted" and report["purchase_model"]["converged"] and report["gamma_gamma"]["converged"]
    assert summary_line(report).startswith("clv_model fitted: BG/NBD r=")
    json.dumps(report)  # JSON-ready for the run record
    assert list(out.columns) == list(frame.columns) + [
        "clv_model", "p_alive", "expected_orders_365", "expected_orders_365_low", "expected_orders_365_high", "expected_order_value",
        "predicted_clv_365", "predicted_clv_365_low", "predicted_clv_365_high"]
    assert report["model"] == "bgnbd" and report["model_reason"] == "model: bgnbd in the spec"
    bg = bgnbd.BgNbdParams.from_dict(report["purchase_model"]["params"])
    gg = gamma_gamma.GammaGammaParams.from_dict(report["gamma_gamma"]["params"])
    x, t_x, T = (pdf["order_days"] - 1).to_numpy(float), pdf["recency_days"].to_numpy(float), pdf["tenure_days"].to_numpy(float)
    np.testing.assert_allclose(out["p_alive"], bgnbd.p_alive(bg, x, t_x, T), rtol=1e-9)
    expected = bgnbd.conditional_expected_purchases(bg, 365, x, t_x, T)
    np.testing.assert_allclose(out["expected_orders_365"], expected, rtol=1e-9)
    value = gamma_gamma.conditional_expected_value(gg, x, pdf["repeat_day_value"].to_numpy(float))
    np.testing.assert_allclose(out["expected_order_value"], value, rtol=1e-9)
    np.testing.assert_allclose(out["predicted_clv_365"], expected * value, rtol=1e-9)
    # the historical columns are untouched
    pd.testing.assert_frame_equal(out[pdf.columns.tolist()], pdf, check_dtype=False)
    # the fit recovers the generating process roughly (3,000 customers)
    assert report["purchase_model"]["params"]["r"] == pytest.approx(TRUE_BG.r, rel=0.35)
    assert report["customers"] == 3000 and report["invalid_customers"] == 0
    assert report["scoring"]["expected_orders_total"] == pytest.approx(expected.sum(), rel=1e-9)


PREDICTIVE = ["p_alive", "expected_orders_365", "expected_orders_365_low", "expected_orders_365_high",
              "expected_order_value", "predicted_clv_365", "predicted_clv_365_low", "predicted_clv_365_high"]


def test_too_little_data_publishes_nulls_and_says_why(spark, summary, tmp_path):
    pdf, frame = summary
    out, report = _run(spark, frame, tmp_path, min_repeat_customers=1_000_000)
    assert len(out) == len(pdf)
    assert out[PREDICTIVE + ["clv_model"]].isna().all().all()
    assert out["tenure_days"].notna().all()  # historical columns publish
    assert report["status"] == "not_fitted"
    assert "too little data" in report["purchase_model"]["message"] and "minimum is 1,000,000" in report["purchase_model"]["message"]
    assert "p_alive, expected orders and predicted CLV are null" in report["message"]
    assert report["purchase_model"]["params"] is None and report["purchase_model"]["converged"] is False
    assert summary_line(report).startswith("clv_model not_fitted: BG/NBD not used (too little data: ")
    json.dumps(report)  # JSON-ready for the run record


def test_a_fit_that_does_not_converge_publishes_nulls_and_says_why(spark, summary, tmp_path):
    _, frame = summary
    out, report = _run(spark, frame, tmp_path, min_repeat_customers=50, max_iterations=1)
    assert out[PREDICTIVE].isna().all().all()
    assert report["status"] == "not_fitted"
    assert "did not converge" in report["purchase_model"]["message"]
    assert report["purchase_model"]["params"] is not None  # kept for diagnosis, not used


def test_invalid_rows_discounting_and_units(spark, summary, tmp_path):
    pdf, frame = summary
    broken = frame.selectExpr(
        "customer", "order_days", "tenure_days", "repeat_day_value",
        # c0: recency after T; c1: a fractional frequency; c2: a null recency
        "CASE WHEN customer = 'c0' THEN tenure_days + 5 WHEN customer = 'c2' THEN NULL ELSE recency_days END"
        " AS recency_days",
        "CASE WHEN customer = 'c1' THEN frequency + 0.5 ELSE frequency END AS frequency")
    out, report = _run(spark, broken, tmp_path, min_repeat_customers=50, horizon=52, horizon_unit="weeks",
                       annual_discount_rate=0.1, fit_filter="customer NOT IN ('c3', 'c4', 'c5')")
    names = ["p_alive", "expected_orders_52", "expected_order_value", "predicted_clv_52"]
    assert report["invalid_customers"] == 3 and report["horizon_in_time_unit"] == 364
    reasons = report["invalid"]["reasons"]
    assert {k: v["count"] for k, v in reasons.items()} == {"missing": 1, "fractional frequency": 1, "recency > T": 1}
    c0 = pdf.loc[pdf["customer"] == "c0"].iloc[0]
    assert reasons["recency > T"]["example"] == {"x": int(c0["order_days"] - 1), "t_x": int(c0["tenure_days"] + 5),
                                                  "T": int(c0["tenure_days"])}
    assert "3 invalid summaries: missing 1" in report["warnings"][0]
    bad = out["customer"].isin(["c0", "c1", "c2"])
    assert out.loc[bad, names].isna().all().all()
    assert out.loc[~bad, names].notna().all().all()  # c3..c5 are scored, though not learnt from
    good = out.loc[~bad]
    x, t_x, T = good["frequency"].to_numpy(float), good["recency_days"].to_numpy(float), good["tenure_days"].to_numpy(float)
    learnt = ~good["customer"].isin(["c3", "c4", "c5"]).to_numpy()
    assert report["excluded_from_fit"] == 3 and report["purchase_model"]["n_customers"] == len(out) - 6
    # the run record lists every customer not learnt from, by reason (and the run summary says so)
    assert report["exclusions"] == {"invalid summary (not scored)": 3,
                                    "fit_filter (customer NOT IN ('c3', 'c4', 'c5'))": 3}
    assert "not learnt from: 3 invalid summary (not scored), 3 fit_filter (customer NOT IN" in report["summary"]
    refit = bgnbd.fit(x[learnt], t_x[learnt], T[learnt])
    assert report["purchase_model"]["params"] == pytest.approx(refit.params, rel=1e-9)
    bg = bgnbd.BgNbdParams.from_dict(report["purchase_model"]["params"])
    np.testing.assert_allclose(good["expected_orders_52"], bgnbd.conditional_expected_purchases(bg, 364, x, t_x, T),
                               rtol=1e-9)
    discounted = bgnbd.p_alive(bg, x, t_x, T) * bgnbd.discounted_growth(bg, 364, x, T, 0.1)
    np.testing.assert_allclose(good["predicted_clv_52"], discounted * good["expected_order_value"], rtol=1e-9)
    ratio = good["predicted_clv_52"] / (good["expected_orders_52"] * good["expected_order_value"])
    assert ((ratio > 0.9) & (ratio < 0.97)).all()  # a year at 10%: between 1/1.1 and no discount


def test_step_model_checks():
    step = ClvModelStep.model_validate({"type": "clv_model", "time_unit": "weeks", "horizon": 39})
    assert step.output_columns == {"model": "clv_model", "p_alive": "p_alive", "expected_orders": "expected_orders_39",
                                   "expected_orders_low": "expected_orders_39_low",
                                   "expected_orders_high": "expected_orders_39_high",
                                   "expected_order_value": "expected_order_value", "predicted_clv": "predicted_clv_39",
                                   "predicted_clv_low": "predicted_clv_39_low", "predicted_clv_high": "predicted_clv_39_high"}
    assert step.horizon_in_time_unit == 39
    days = ClvModelStep.model_validate({"type": "clv_model", "time_unit": "weeks", "horizon": 91,
                                        "horizon_unit": "days", "columns": {"monetary": None}})
    assert math.isclose(days.horizon_in_time_unit, 13) and set(days.output_columns) == {
        "model", "p_alive", "expected_orders", "expected_orders_low", "expected_orders_high"}
    with pytest.raises(ValidationError, match="needs a 'selection:' block"):
        ClvModelStep.model_validate({"type": "clv_model", "model": "auto"})
    with pytest.raises(ValidationError, match="extra"):
        ClvModelStep.model_validate({"type": "clv_model", "horizon_days": 5})
    with pytest.raises(ValidationError, match="must differ"):
        ClvModelStep.model_validate({"type": "clv_model", "columns": {"recency": "T"}})


def _orders(n: int = 1200, seed: int = 4) -> pd.DataFrame:
    """Order days drawn from Pareto/NBD at day grain: first purchase in days 0-299, data to day 719."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 300, n)
    lam, mu = rng.gamma(0.8, 1 / 30.0, n), rng.gamma(0.9, 1 / 150.0, n)
    end = np.minimum(first + rng.exponential(1 / mu), 719)
    rows = []
    for c in range(n):
        t, days = float(first[c]), [int(first[c])]
        while True:
            t += rng.exponential(1 / lam[c])
            if t > end[c]:
                break
            days.append(int(t))
        rows += [(f"c{c}", d) for d in sorted(set(days))]
    frame = pd.DataFrame(rows, columns=["customer", "day"])
    frame["day"] = pd.Timestamp("2022-01-01") + pd.to_timedelta(frame["day"], unit="D")
    return frame


def test_auto_chooses_by_holdout_mae_and_publishes_intervals(spark, tmp_path):
    from engine.clv.evaluate import summarise

    orders = _orders()
    summary = summarise(orders, customer="customer", date="day", as_of=pd.Timestamp("2023-12-21")).reset_index()
    frame = spark.createDataFrame(summary[["customer", "frequency", "recency", "T"]])
    step = ClvModelStep.model_validate({
        "type": "clv_model", "model": "auto", "min_repeat_customers": 50,
        "columns": {"frequency": "frequency", "recency": "recency", "T": "T", "monetary": None},
        "selection": {"orders": "orders", "customer": "customer", "date": "day", "holdout_days": 120},
        "intervals": {"draws": 40, "seed": 3}})
    runs = []
    for _ in range(2):
        ctx = StepContext(spark=spark, run_id="t", base_dir=tmp_path, spec_name="gold.case", step_label="step 1",
                          frames={"orders": spark.createDataFrame(orders)})
        runs.append((run_clv_model(step, frame, ctx).toPandas().sort_values("customer", ignore_index=True),
                     ctx.artefacts[-1]))
        for cached in ctx.cached:
            cached.unpersist()
    (out, report), (again, _) = runs
    candidates = report["selection"]["candidates"]
    assert set(candidates) == {"bgnbd", "mbgnbd", "pareto_nbd"}
    maes = {k: v["mae"] for k, v in candidates.items() if "mae" in v}
    assert report["model"] == min(maes, key=maes.get) == out["clv_model"].iloc[0]
    last = orders["day"].max()
    assert report["selection"]["calibration_end"] == str((last - pd.Timedelta(days=120)).date())
    assert report["model_reason"].startswith(f"{report['model_label']} has the lowest holdout MAE per customer")
    assert "chosen: " in summary_line(report)
    low, mid, high = (out[f"expected_orders_365{s}"] for s in ("_low", "", "_high"))
    assert (low <= mid * (1 + 1e-6)).all() and (mid <= high * (1 + 1e-6)).all() and (high > low).mean() > 0.99
    pd.testing.assert_frame_equal(out, again)  # same seed, same intervals
    se = report["purchase_model"]["standard_errors"]
    assert set(se) == set(report["purchase_model"]["params"]) and all(v > 0 for v in se.values())
    one_day = out["frequency"] == 0
    if report["model"] != "bgnbd":  # the chosen model lets one-time buyers churn
        assert (out.loc[one_day, "p_alive"] < 1).all()
        assert report["scoring"]["mean_p_alive_one_time_buyers"] < 1


def test_the_fit_does_not_depend_on_the_order_spark_returns_the_customers_in(spark, summary, tmp_path):
    # specs running at the same time (or another shuffle size) make Spark hand back the summary
    # groups in another order; the fit sums over them, so unsorted the parameters moved in the
    # last bits between runs. Same customers, another partitioning and order: identical fits.
    _, frame = summary
    shuffled = frame.repartition(5, "customer").sortWithinPartitions("tenure_days", ascending=False)
    first = _run(spark, frame, tmp_path, min_repeat_customers=50)[1]
    second = _run(spark, shuffled, tmp_path, min_repeat_customers=50)[1]
    assert first["status"] == second["status"] == "fitted"
    for model in ("purchase_model", "gamma_gamma"):
        assert first[model]["params"] == second[model]["params"], model  # ==, not approx
        assert first[model]["log_likelihood"] == second[model]["log_likelihood"], model
