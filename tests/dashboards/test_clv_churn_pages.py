"""The CLV and churn pages say which model made the predictions and why, show its intervals
and the backtest's coverage, and count customers by the one customer status of
docs/metrics.md section 3 (rule and model combined) — in Streamlit's AppTest, on a private copy
of the small warehouse whose CLV and churn tables hold the hand-written rows below.

Expected values are worked out by hand from those rows and from the hand-written run report
(the clv_model step's report shape, engine/steps/clv.py) and evaluation (engine/clv/compare.py).
A second test renders reports the real code wrote: the clv_model step on a small Spark frame
and ``compare.evaluate_all`` on simulated customers.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from engine.run.record import RunRecord, RunStore, SpecRecord
from tests.dashboards.conftest import ROOT
from tests.dashboards.test_pages import assert_clean, metrics, open_page

RUN = "20240112T000000000Z-cccccc"
# user_id, days since last order, rule_status, churn_risk_score, churn_status, basis, revenue_last_365d
CHURN = [
    ("C1", 10, "active", 0.1, "active", "rule and model agree", 50.00),
    ("C2", 60, "at_risk", 0.3, "at_risk", "rule and model agree", 30.00),
    ("C3", 200, "churned", 0.8, "churned", "rule and model agree", 0.00),
    ("C4", 300, "churned", 0.2, "at_risk", "model: likely alive despite the silence", 20.00),
    ("C5", 5, "active", 0.7, "at_risk", "model: likely gone despite a recent order", 12.50),
    ("C6", 120, "churned", None, "churned", "rule only (no model risk)", 0.00),
]
# user_id, total_revenue, clv, clv low, clv high, p_alive, expected orders, low, high, tier
CLV = [
    ("C1", 100.00, 50.00, 40.00, 60.00, 0.9, 2.0, 1.8, 2.2, "High"),
    ("C2", 40.00, 10.00, 7.00, 14.00, 0.5, 0.5, 0.4, 0.6, "Medium"),
    ("C3", 10.00, 2.00, 1.00, 3.50, 0.2, 0.1, 0.05, 0.2, "Low"),
]
REASON = "Pareto/NBD has the lowest holdout MAE per customer (0.7545; MBG/NBD 0.7648, BG/NBD 0.7855)"
STEP_REPORT = {
    "kind": "clv_model", "status": "fitted", "message": "Pareto/NBD + Gamma-Gamma fitted; predictive columns published",
    "model": "pareto_nbd", "model_label": "Pareto/NBD", "model_setting": "auto", "model_reason": REASON,
    "selection": {"chosen": "pareto_nbd", "calibration_end": "1997-09-30", "holdout_days": 273, "customers": 2357,
                  "candidates": {
                      "bgnbd": {"label": "BG/NBD", "converged": True, "message": "converged", "mae": 0.7855,
                                "log_likelihood": -9582.43},
                      "mbgnbd": {"label": "MBG/NBD", "converged": True, "message": "converged", "mae": 0.7648,
                                 "log_likelihood": -9586.12},
                      "pareto_nbd": {"label": "Pareto/NBD", "converged": True, "message": "converged", "mae": 0.7545,
                                     "log_likelihood": -9594.98}}},
    # CDNOW's Pareto/NBD estimate and CLVTools' standard errors (tests/cases/clv/reference_values.json)
    "purchase_model": {"model": "pareto_nbd", "converged": True, "message": "converged", "log_likelihood": -9594.98,
                       "params": {"r": 0.5533, "alpha": 10.58, "s": 0.6062, "beta": 11.67},
                       "standard_errors": {"r": 0.04765, "alpha": 0.8406, "s": 0.1888, "beta": 6.211},
                       "n_customers": 2357},
    "gamma_gamma": {"model": "gamma_gamma", "converged": True, "message": "converged", "log_likelihood": -4039.6,
                    "params": {"p": 6.25, "q": 3.74, "gamma": 15.44}, "n_customers": 946},
    "scoring": {"expected_orders_total": 2.6, "predicted_clv_total": 62.0,
                "intervals": {"draws": 100, "level": 0.8, "seed": 19,
                              "method": "asymptotic normal of log-parameters (observed information)",
                              "totals": {"expected_low": 2.31, "expected_high": 2.94, "clv_low": 51.2,
                                         "clv_high": 73.6}}},
    "warnings": ["2 invalid summaries: negative 1 (e.g. x=-1, t_x=0, T=5); recency > T 1 (e.g. x=2, t_x=9, T=5)"],
    "customers": 3, "excluded_from_fit": 0, "invalid_customers": 2,
}


def _model(label: str, mae: float, money: float, cover: float, predictive: float) -> dict:
    return {"label": label, "orders": {"mae": mae, "rmse": 1.6, "aggregate_error_pct": -11.5, "gini": 0.673},
            "money": {"mae": money, "aggregate_error_pct": -14.8, "gini": 0.659},
            "coverage": {"orders": cover, "money": 0.019, "orders_predictive": predictive,
                         "orders_predictive_claimed": 0.912, "money_predictive": 0.88}}


EVALUATION = {
    "spec": "gold.customer_lifetime_value", "calibration_end": "1997-09-30", "holdout_days": 273,
    "holdout_end": "1998-06-30", "customers": 2357, "chosen": "pareto_nbd", "chosen_reason": REASON,
    "models": {"bgnbd": _model("BG/NBD", 0.785, 30.41, 0.007, 0.91),
               "pareto_nbd": {**_model("Pareto/NBD", 0.755, 29.45, 0.017, 0.905),
                              "calibration": [{"group": g, "customers": 236, "predicted_p_alive": g / 10,
                                               "observed_active": g / 12, "true_alive": g / 11}
                                              for g in range(1, 11)]},
               "mbgnbd": {"label": "MBG/NBD", "converged": False, "message": "the optimiser did not converge"}},
    "baselines": {"naive": {"label": "naive rate", "orders": {"mae": 1.589, "rmse": 2.338, "aggregate_error_pct": 148.9,
                                                              "gini": 0.586},
                            "money": {"mae": 66.62, "aggregate_error_pct": 157.1, "gini": 0.546}},
                  "rfm_regression": {"label": "RFM regression (cross-fitted halves)",
                                     "orders": {"mae": 0.833, "rmse": 1.695, "aggregate_error_pct": 0.7, "gini": 0.658},
                                     "money": {"mae": 34.08, "aggregate_error_pct": 4.0, "gini": 0.647}}},
    "coverage_note": "interval coverage is the share of customers whose holdout orders fall inside ...",
}


def _fill(lake, table: str, rows: list[dict]) -> None:
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    con.execute(f"DELETE FROM {table}")
    for row in rows:
        names = list(row)
        con.execute(f"INSERT INTO {table} (" + ", ".join(f'"{n}"' for n in names) + ") VALUES ("
                    + ", ".join("?" for _ in names) + ")", [row[n] for n in names])
    con.close()


@pytest.fixture()
def clv_lake(fresh_lake):
    """The small warehouse with the rows above, the step's report in a run record, the evaluation saved."""
    _fill(fresh_lake, "gold.churn_indicators", [
        {"user_id": u, "days_since_last_order": d, "rule_status": r, "churn_risk_score": risk, "churn_status": s,
         "churn_status_basis": b, "revenue_last_365d": v, "p_alive": None if risk is None else 1 - risk,
         "clv_model": "pareto_nbd", "is_suspected_bot": False, "overdue_ratio": float(i)}
        for i, (u, d, r, risk, s, b, v) in enumerate(CHURN)])
    _fill(fresh_lake, "gold.customer_lifetime_value", [
        {"user_id": u, "total_revenue": t, "predicted_clv_365": c, "predicted_clv_365_low": lo,
         "predicted_clv_365_high": hi, "p_alive": p, "expected_orders_365": e, "expected_orders_365_low": elo,
         "expected_orders_365_high": ehi, "clv_tier": tier, "clv_model": "pareto_nbd", "is_suspected_bot": False,
         "orders": 2, "revenue_rank": i + 1}
        for i, (u, t, c, lo, hi, p, e, elo, ehi, tier) in enumerate(CLV)])
    store = RunStore(fresh_lake / "_runs")
    store.save(RunRecord(run_id=RUN, project="test", profile="local", status="ok",
                         specs=[SpecRecord(spec="gold.customer_lifetime_value", layer="gold", status="ok",
                                           artefacts=[STEP_REPORT])]))
    store.save_artefact("clv_evaluation", EVALUATION)
    return fresh_lake


def _frame(at, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _chart(at, *texts: str) -> pd.DataFrame:
    """The data of the one chart whose Vega-Lite spec mentions every one of ``texts`` (axis titles, fields)."""
    found = [el for el in at.get("vega_lite_chart") if all(t in el.proto.spec for t in texts)]
    assert len(found) == 1, (texts, len(found))
    return pd.concat([pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in found[0].proto.datasets])


def _says(at, text: str) -> bool:
    return any(text in m.value for m in at.markdown)


def _model_report_is_shown(at) -> None:
    """Chosen model and why, estimates with standard errors, intervals, the backtest with coverage."""
    assert _says(at, f"**Model: Pareto/NBD** — {REASON}")
    candidates = _frame(at, "holdout MAE per customer")
    assert list(candidates["model"]) == ["BG/NBD", "MBG/NBD", "Pareto/NBD (chosen)"]
    assert list(candidates["holdout MAE per customer"]) == ["0.7855", "0.7648", "0.7545"]
    params = _frame(at, "standard error")
    first = params[params["parameter"] == "alpha"].iloc[0]
    assert (first["estimate"], first["standard error"]) == ("10.58", "0.841")  # 4 and 3 significant digits
    totals = _frame(at, "total over all customers")
    assert list(totals["80% interval"]) == ["2.31 – 2.94", "$51.20 – $73.60"]
    assert list(totals["estimate"]) == ["2.60", "$62.00"]
    assert any("2 invalid summaries: negative 1" in w.value for w in at.warning)
    assert _says(at, f"**Chosen: Pareto/NBD** — {REASON}")
    table = _frame(at, "interval coverage, orders")
    assert list(table["model"]) == ["BG/NBD", "Pareto/NBD (chosen)", "MBG/NBD", "naive rate",
                                    "RFM regression (cross-fitted halves)"]
    assert list(table["interval coverage, orders"]) == ["0.7%", "1.7%", "—", "—", "—"]
    assert list(table["predictive coverage, orders (model's claim)"]) == ["91.0% (91.2%)", "90.5% (91.2%)", "—", "—", "—"]
    assert list(table["predictive coverage, money (model's claim)"])[:2] == ["88.0%", "88.0%"]  # no claim given
    assert list(table["money MAE"]) == ["30.41", "29.45", "—", "66.62", "34.08"]
    assert list(table["orders aggregate error"])[3] == "+148.9%"
    assert list(table["fit"]) == ["", "", "the optimiser did not converge", "", ""]
    assert any(c.value.startswith("**Coverage:** interval coverage is the share") for c in at.caption)
    calibration = _chart(at, '"title": "Group (by predicted P(alive))"')
    group3 = calibration[calibration["group"] == 3].set_index("series")["share"].round(6).to_dict()
    assert group3 == {"predicted P(alive)": 0.3, "observed share active": 0.25,
                      "true share alive (simulated data)": round(3 / 11, 6)}


def test_clv_page_shows_the_chosen_model_its_intervals_and_coverage(clv_lake, use_project):
    use_project(ROOT, [f"lake_dir={clv_lake}"])
    at = open_page("customer_lifetime_value")
    assert_clean(at)
    _model_report_is_shown(at)
    got = metrics(at)
    assert got["Predicted CLV (next 365 days)"] == "$62.00"  # 50 + 10 + 2
    assert got["Mean P(alive)"] == "53.3%"  # (0.9 + 0.5 + 0.2) / 3
    assert got["Not churned by the silence rule (active or at risk)"] == "50.0%"  # C1, C2, C5 of six (churn table)
    detail = _frame(at, "predicted_clv_365_low")
    row = detail[detail["user_id"] == "C3"].iloc[0]
    assert (row["predicted_clv_365_low"], row["predicted_clv_365"], row["predicted_clv_365_high"]) == (1.0, 2.0, 3.5)
    assert (row["expected_orders_365_low"], row["expected_orders_365_high"]) == (0.05, 0.2)
    top = _chart(at, '"title": "Predicted CLV next 365 days"', '"field": "series"')  # bars in three series
    c1 = top[top["x"] == "C1"].set_index("series")["y0"]
    assert c1.to_dict() == {"Predicted CLV": 50.0, "10th percentile (80% interval)": 40.0,
                            "90th percentile (80% interval)": 60.0}
    assert len(top) == 9  # three customers x three series


def test_churn_page_counts_the_one_customer_status_and_names_the_model(clv_lake, use_project):
    use_project(ROOT, [f"lake_dir={clv_lake}"])
    at = open_page("churn_indicators")
    assert_clean(at)
    got = metrics(at)
    # customer status (rule + model): active C1; at risk C2, C4 (rule churned, risk 0.2), C5 (recent, risk 0.7);
    # churned C3 (rule and risk agree) and C6 (rule only: no model risk)
    assert (got["Active"], got["At risk"], got["Churned"]) == ("1", "3", "2")
    assert got["Revenue at risk (last 365 days)"] == "$62.50"  # 30.00 + 20.00 + 12.50
    assert got["Churned by the rule, kept at risk by the model"] == "1"  # C4
    assert got["Without a model risk"] == "1"  # C6
    assert got["Churned by the silence rule (share of customers)"] == "50.0%"  # C3, C4, C6 of six
    assert got["Churn risk by the model (mean)"] == "42.0%"  # (0.1 + 0.3 + 0.8 + 0.2 + 0.7) / 5
    assert any("**3 customers are at risk**" in w.value for w in at.warning)
    table = _frame(at, "churn_status_basis")
    assert list(table["user_id"][:3]) == ["C5", "C4", "C2"]  # at risk first, by overdue ratio 4, 3, 1
    assert list(table["churn_status_basis"][:2]) == ["model: likely gone despite a recent order",
                                                     "model: likely alive despite the silence"]
    _model_report_is_shown(at)  # read from the CLV mart's run record
    moved = _chart(at, '"title": "Silence rule"')  # x: the rule; colour: the customer status
    pairs = {(x, c): y for x, c, y in zip(moved["x"], moved["color"], moved["y0"]) if y}
    assert pairs == {("active", "Active"): 1, ("active", "At risk"): 1,  # C1; C5
                     ("at_risk", "At risk"): 1, ("churned", "Churned"): 2,  # C2; C3, C6
                     ("churned", "At risk"): 1}  # C4
    assert set(moved["xl"]) == {"Active (rule) (n=2)", "At risk (rule) (n=1)", "Churned (rule) (n=3)"}


def test_pages_render_the_reports_the_code_writes(spark, fresh_lake, use_project, tmp_path):
    """The report shapes are the real ones: the clv_model step's (Spark) and the backtest's."""
    from engine.clv import bgnbd, compare
    from engine.clv.evaluate import calibration_holdout
    from engine.spec.clv import ClvModelStep
    from engine.steps.clv import run_clv_model
    from engine.steps.context import StepContext
    from tests.clv.test_clv_step import _orders

    rng = np.random.default_rng(7)
    sim = bgnbd.simulate(bgnbd.BgNbdParams(0.5, 20.0, 0.7, 3.0), rng.integers(50, 400, 800).astype(float), seed=8)
    t_x = np.where(sim["x"] > 0, np.maximum(np.floor(sim["t_x"]), 1.0), 0.0)
    frame = spark.createDataFrame(pd.DataFrame({"customer": [f"c{i}" for i in range(800)], "x": sim["x"],
                                                "t_x": t_x, "T": np.maximum(sim["T"], t_x)}))
    step = ClvModelStep.model_validate({"type": "clv_model", "model": "mbgnbd", "min_repeat_customers": 50,
                                        "columns": {"frequency": "x", "recency": "t_x", "T": "T", "monetary": None},
                                        "intervals": {"draws": 20}})
    ctx = StepContext(spark=spark, run_id="t", base_dir=tmp_path, spec_name="gold.customer_lifetime_value",
                      step_label="step 1")
    run_clv_model(step, frame, ctx).count()
    for cached in ctx.cached:
        cached.unpersist()
    report = ctx.artefacts[-1]
    days = _orders(600, seed=5)  # order days drawn from Pareto/NBD, with a value each
    days["v"] = rng.gamma(4.0, 10.0, len(days))
    summary, holdout = calibration_holdout(days, customer="customer", date="day", calibration_end="2023-06-30",
                                           value="v")
    evaluation = compare.evaluate_all(summary, float(holdout), min_repeat_customers=20, draws=20)
    store = RunStore(fresh_lake / "_runs")
    store.save(RunRecord(run_id=RUN, project="test", profile="local", status="ok",
                         specs=[SpecRecord(spec="gold.customer_lifetime_value", layer="gold", status="ok",
                                           artefacts=[report])]))
    store.save_artefact("clv_evaluation", evaluation)
    use_project(ROOT, [f"lake_dir={fresh_lake}"])
    for slug in ("customer_lifetime_value", "churn_indicators"):
        at = open_page(slug)
        assert_clean(at)
        assert _says(at, "**Model: MBG/NBD** — model: mbgnbd in the spec")
        params = _frame(at, "standard error")
        assert params.loc[params["parameter"] == "r", "standard error"].iloc[0] != "—"
        totals = _frame(at, "total over all customers")
        band = report["scoring"]["intervals"]["totals"]
        assert totals["80% interval"].iloc[0] == f"{band['expected_low']:,.2f} – {band['expected_high']:,.2f}"
        table = _frame(at, "interval coverage, orders")
        assert len(table) == 5 and "predictive coverage, orders (model's claim)" in table.columns
        chosen = evaluation["chosen"]
        assert f"{evaluation['models'][chosen]['label']} (chosen)" in list(table["model"])


def test_a_model_report_from_a_page_that_does_not_exist_is_located(tmp_path, capsys):
    from tests.dashboards.test_validate import _break, _copy, _validate

    root = _copy(tmp_path)
    line = _break(root / "marts/churn_indicators.yaml", "spec: gold.customer_lifetime_value,",
                  "spec: gold.customer_lifetime_valu,")
    code, lines = _validate(root, capsys)
    assert code == 2
    assert lines == [f"error: marts/churn_indicators.yaml:{line}: dashboard.blocks.2.spec: no page for "
                     "'gold.customer_lifetime_valu' (did you mean 'gold.customer_lifetime_value'?)"], lines
