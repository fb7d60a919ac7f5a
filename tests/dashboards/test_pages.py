"""Every generated page in Streamlit's AppTest on the small warehouse (tests/dashboards/conftest.py):
no exception, the KPIs and charts its block declares, numbers computed by hand, and filters
that change the result through bound parameters."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.catalog import load_pages
from engine.run.workspace import Workspace
from tests.dashboards.conftest import ROOT

TIMEOUT = 30


def open_page(slug: str) -> AppTest:
    at = AppTest.from_string(f"from dashboards.app import main\nmain({slug!r})", default_timeout=TIMEOUT)
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> list[dict]:
    """The Vega-Lite specs on the page, each with the row count of its data (Arrow datasets)."""
    out = []
    for el in at.get("vega_lite_chart"):
        spec = json.loads(el.proto.spec)
        spec["rows"] = sum(pa.ipc.open_stream(d.data.data).read_all().num_rows for d in el.proto.datasets)
        out.append(spec)
    return out


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _pages():
    ws = Workspace.open(ROOT, None, [])
    return load_pages(ws.graph, ROOT)


PAGES = _pages()


@pytest.mark.parametrize("page", PAGES, ids=[p.slug for p in PAGES])
def test_every_mart_page_draws_its_block(page, warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page(page.slug)
    assert_clean(at)
    assert at.title[0].value == page.board.title
    parts = [page, *page.sections]
    assert [m.label for m in at.metric] == [k.label for p in parts for k in p.board.kpis]
    drawn = charts(at)
    assert len(drawn) == sum(len(p.board.charts) for p in parts)
    assert all(d["rows"] > 0 for d in drawn), "a chart without data"
    assert len(at.get("download_button")) == sum(1 for p in parts if p.board.table is not None)
    assert any(e.label == "Definitions" for e in at.expander)


def test_sales_page_numbers_and_filters(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("sales_trends")
    assert_clean(at)
    # six hand-written rows: 100 + 50 + 25 + 10 + 5 + 2.50; 4+2+1+1+1+1 lines; 5+2+1+1+2+1 units
    got = metrics(at)
    assert got["Revenue"] == "$192.50"
    assert got["Lines"] == "10" and got["Units"] == "12"
    assert got["Average daily revenue"] == "$32.08"  # 192.50 / 6 days
    assert got["Bulk share of revenue"] == "2.6%"  # 5 / 192.50, a fraction shown x100
    # the restaurant filter (a multiselect of the warehouse's values): R1 = 100 + 25 + 10
    at.multiselect(key="sales_trends:filter:restaurant_id").set_value(["R1"]).run()
    assert_clean(at)
    assert metrics(at)["Revenue"] == "$135.00"
    # a date range: Jan 2-3 = 50 + 25; the two days before (Dec 31 - Jan 1) = 100 -> -25.0%
    at.multiselect(key="sales_trends:filter:restaurant_id").set_value([]).run()
    at.date_input(key="sales_trends:filter:order_date").set_value((dt.date(2024, 1, 2), dt.date(2024, 1, 3))).run()
    assert_clean(at)
    revenue = next(m for m in at.metric if m.label == "Revenue")
    assert revenue.value == "$75.00"
    assert revenue.delta == "-25.0% vs previous period"


def test_filter_values_are_parameters_not_sql(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("sales_trends")
    evil = "R'3; DROP TABLE gold.sales_trends; --"
    at.multiselect(key="sales_trends:filter:restaurant_id").set_value([evil]).run()
    assert_clean(at)
    assert metrics(at)["Revenue"] == "$2.50"  # the row whose id holds the quote, nothing else
    at.multiselect(key="sales_trends:filter:restaurant_id").set_value([]).run()
    assert metrics(at)["Revenue"] == "$192.50"  # the table is still there


def test_churn_page_puts_at_risk_customers_first(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("churn_indicators")
    assert_clean(at)
    got = metrics(at)
    assert (got["Active customers"], got["At risk"], got["Churned"]) == ("2", "2", "1")
    assert got["Revenue at risk (last 365 days)"] == "$100.50"  # 40.00 + 60.50
    table = at.dataframe[0].value
    assert list(table["churn_status"][:2]) == ["at_risk", "at_risk"]
    assert list(table["user_id"][:2]) == ["U2", "U5"]  # by overdue ratio 2.0, 1.1
    at.multiselect(key="churn_indicators:filter:churn_status").set_value(["active"]).run()
    got = metrics(at)
    assert (got["Active customers"], got["At risk"], got["Churned"]) == ("2", "0", "0")


def test_pricing_page_states_the_discount_signal(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("pricing_effectiveness")
    assert_clean(at)
    assert any("no discount signal" in w.value for w in at.warning)
    assert metrics(at)["$0 lines (comps)"] == "3"  # 2 + 1
    assert metrics(at)["Revenue"] == "$420.00"


def test_clv_page_shows_the_fitted_model_and_asks_for_an_evaluation(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("customer_lifetime_value")
    assert_clean(at)
    frames = [d.value for d in at.dataframe]
    params = next(f for f in frames if "parameter" in f.columns and "r" in set(f["parameter"]))
    assert dict(zip(params["parameter"], params["estimate"]))["alpha"] == "4.414"
    assert any("medallion clv evaluate --calibration-end" in i.value for i in at.info)


def test_clv_page_says_why_the_model_did_not_fit(fresh_lake, use_project):
    from engine.run.record import RunRecord, RunStore, SpecRecord

    store = RunStore(fresh_lake / "_runs")
    why = "BG/NBD not used (too little data: 3 repeat customers, at least 100 needed)"
    store.save(RunRecord(run_id="20240111T000000000Z-bbbbbb", project="test", profile="local", status="ok",
                         specs=[SpecRecord(spec="gold.customer_lifetime_value", layer="gold", status="ok",
                                           artefacts=[{"kind": "clv_model", "status": "not_fitted",
                                                       "message": why, "bgnbd": {"converged": False,
                                                                                 "message": why, "params": None}}])]))
    store.save_artefact("clv_evaluation", {"mae": {"model": 0.5, "naive": 0.75}, "gini": {"model": 0.4, "naive": 0.3},
                                           "aggregate": {"actual": 10, "model": {"error_pct": -2.0},
                                                         "naive": {"error_pct": 15.0}},
                                           "calibration_end": "2023-12-31", "by_frequency": []})
    use_project(ROOT, [f"lake_dir={fresh_lake}"])
    at = open_page("customer_lifetime_value")
    assert_clean(at)
    assert any(why in w.value and "not_fitted" in w.value for w in at.warning)
    evaluation = next(d.value for d in at.dataframe if "measure" in d.value.columns)
    assert list(evaluation["model"]) == ["0.500", "0.400", "-2.0%"]
    assert list(evaluation["naive"]) == ["0.750", "0.300", "+15.0%"]


def test_health_page_reads_the_run_store(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("pipeline_health")
    assert_clean(at)
    got = metrics(at)
    assert got["Last run"] == "OK"
    assert got["Specs ok"] == "2 / 2"
    assert got["Rows written"] == "104"  # 99 + 5
    assert got["Rows quarantined"] == "3"
    specs = next(d.value for d in at.dataframe if "spec" in d.value.columns and "seconds" in d.value.columns)
    assert list(specs["seconds"]) == [4.5, 7.25]
    fresh = next(d.value for d in at.dataframe if "latest in data" in d.value.columns)
    sales = fresh[fresh["table"] == "gold.sales_trends"].iloc[0]
    assert str(sales["latest in data"]) == "2024-01-10" and sales["days behind as_of"] == 0
    assert len(at.get("vega_lite_chart")) == 2  # durations, failing rules
