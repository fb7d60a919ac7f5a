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
from dashboards.vocabulary import load_vocabulary
from engine.run.workspace import Workspace
from tests.dashboards.conftest import ROOT

TIMEOUT = 120  # a generous bound on a loaded machine; not a speed check


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
    return load_pages(ws.graph, ROOT, load_vocabulary(ROOT, ws.project.variables))


PAGES = _pages()
VOCABULARY = load_vocabulary(ROOT, Workspace.open(ROOT, None, []).project.variables)


def kpi_labels(page) -> list[str]:
    """The card labels a page's blocks declare (rule-vs-model blocks first, then KPIs), by hand."""
    labels = []
    for part in [page, *page.sections]:
        for block in part.board.blocks:
            if block.type == "rule_vs_model":
                labels += [block.rule.label, block.model.label]
        for kpi in part.board.kpis:
            term, value = VOCABULARY.term(kpi.term)
            labels.append(kpi.label or (value.label if value else term.label))
    return labels


def not_shown(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption if c.value.startswith("**Not shown:**"))


@pytest.mark.parametrize("page", PAGES, ids=[p.slug for p in PAGES])
def test_every_mart_page_draws_its_block(page, warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page(page.slug)
    assert_clean(at)
    assert at.title[0].value == page.board.title
    parts = [page, *page.sections]
    omitted = not_shown(at)
    shown = [m.label for m in at.metric]
    assert all(label in shown or f"*{label}*" in omitted for label in kpi_labels(page)), (shown, omitted)
    drawn = charts(at)
    titles = [c.title for p in parts for c in p.board.charts]
    assert len(drawn) + sum(f"*{t}*" in omitted for t in titles) == len(titles), omitted
    assert all(d["rows"] > 0 for d in drawn), "a chart without data"
    assert len(at.get("download_button")) == sum(1 for p in parts if p.board.table is not None)
    assert any(e.label == "Definitions" for e in at.expander)
    assert at.caption[0].value.startswith("Data as of") or "published" in at.caption[0].value


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
    assert (got["Active"], got["At risk"], got["Churned"]) == ("2", "2", "1")
    assert got["Revenue at risk (last 365 days)"] == "$100.50"  # 40.00 + 60.50
    table = next(d.value for d in at.dataframe if "user_id" in d.value.columns)
    assert list(table["churn_status"][:2]) == ["At risk", "At risk"]  # the vocabulary's label
    assert list(table["user_id"][:2]) == ["U2", "U5"]  # by overdue ratio 2.0, 1.1
    assert got["Churned by the silence rule (share of customers)"] == "20.0%"  # U3 of five
    assert any("Why they differ" in c.value for c in at.caption)
    at.multiselect(key="churn_indicators:filter:churn_status").set_value(["active"]).run()
    got = metrics(at)
    assert (got["Active"], got["At risk"], got["Churned"]) == ("2", "0", "0")


def test_pricing_page_states_the_discount_signal(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("pricing_effectiveness")
    assert_clean(at)
    assert any("no discount signal" in w.value for w in at.warning)
    assert metrics(at)["$0 lines (comps)"] == "3"  # 2 + 1
    assert metrics(at)["Revenue"] == "$420.00"
    assert "Discount amount" not in metrics(at)  # no signal: the KPI is omitted, with the reason
    assert "*Discount amount* — no discount signal in this data" in not_shown(at)
    assert "*$0 lines by category* — fewer than 30 $0 lines" in not_shown(at)


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
    assert got["Run status"] == "OK"
    assert got["Specs ok"] == "2 / 2"
    assert got["Rows written"] == "104"  # 99 + 5
    assert got["Rows quarantined"] == "3"
    assert got["Duration"] == "2.5 min"  # 00:00:00 -> 00:02:30
    specs = next(d.value for d in at.dataframe if "spec" in d.value.columns and "seconds" in d.value.columns)
    assert list(specs["seconds"]) == [4.5, 7.25]
    fresh = next(d.value for d in at.dataframe if "latest in data" in d.value.columns)
    sales = fresh[fresh["table"] == "gold.sales_trends"].iloc[0]
    assert str(sales["latest in data"]) == "2024-01-10" and sales["days behind as_of"] == 0
    conservation = next(d.value for d in at.dataframe if "balanced" in d.value.columns)
    assert conservation.iloc[0].to_dict() == {"spec": "silver.order_items", "input": "lines", "rows in": 102,
                                              "rows out": 99, "quarantined": 3, "filtered": 0,
                                              "deduplicated": 0, "dropped": 0, "balanced": "yes"}
    samples = [e for e in at.expander if e.label.startswith("Sample quarantined rows")]
    assert [e.label for e in samples] == ["Sample quarantined rows: silver.order_items · line_keys_present (3 shown)"]
    assert any("the trend needs two" in c.value for c in at.caption)  # one run recorded


def test_health_page_shows_a_failed_run_in_red(fresh_lake, use_project):
    from engine.run.record import RunRecord, RunStore, SpecRecord

    error = ("TerminalError: conservation failed for input 'lines': rows in 102 != rows out 90 + quarantined 3 + "
             "filtered 0 + deduplicated 0 + dropped 0; a join or step changed the row count without accounting "
             "for it. " + "Context: " + "x" * 400)  # long on purpose: it must not be cut off
    resume = "medallion run --resume 20240111T000000000Z-ffffff"
    RunStore(fresh_lake / "_runs").save(RunRecord(
        run_id="20240111T000000000Z-ffffff", project="test", profile="local", status="failed",
        started_at="2024-01-11T00:00:00+00:00", finished_at="2024-01-11T00:01:00+00:00", resume_command=resume,
        specs=[SpecRecord(spec="silver.order_items", layer="silver", status="failed", attempts=1, seconds=3.0,
                          error=error, error_class="TerminalError"),
               SpecRecord(spec="gold.sales_trends", layer="gold", status="skipped")]))
    use_project(ROOT, [f"lake_dir={fresh_lake}"])
    at = open_page("pipeline_health")
    assert not at.exception
    assert metrics(at)["Run status"] == "FAILED"  # the newest run is picked first
    red = [e.value for e in at.error]
    assert len(red) == 1 and "failed** at `silver.order_items`" in red[0] and f"To resume: `{resume}`" in red[0]
    assert [c.value for c in at.code] == [error]  # the full error, not cut
    assert any("Skipped because an input failed: `gold.sales_trends`" in c.value for c in at.caption)
    durations = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert durations["encoding"]["color"]["scale"]["range"][1] == "#c62828"  # failed = red
    at.selectbox(key="health:run").select_index(1).run()  # the run picker: back to the good run
    assert metrics(at)["Run status"] == "OK" and not at.error
    assert any(c.value.startswith("2 finished run") or "Run duration" in str(c) for c in at.markdown) \
        or len(at.get("vega_lite_chart")) == 2


def test_a_two_customer_group_is_greyed_with_its_count(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("loyalty_impact")
    assert_clean(at)
    chart = next(c for c in charts_data(at) if c["title"] == "Customers")
    rows = {r["xl"]: r for r in chart["data"]}
    assert set(rows) == {"never member (n=120)", "joined (n=80)", "always member (n=45)", "lapsed member (n=2)"}
    assert rows["lapsed member (n=2)"]["small"] and not rows["joined (n=80)"]["small"]  # below 30: greyed
    assert any("groups with fewer than 30 customers are greyed" in c.value for c in at.caption)


def test_a_partial_month_is_marked(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("loyalty_impact")
    assert_clean(at)
    # as_of 2024-02-20: February is covered from the 1st to the 20th, 20 of its 29 days (2024 is a leap year)
    note = "the last month (2024-02-01 to 2024-02-20: 20 of 29 days) is partial, drawn hollow"
    assert sum(note in c.value for c in at.caption) == 3  # the three monthly charts
    orders = next(c for c in charts_data(at) if c["title"] == "Orders by loyalty group")
    partial = sorted({r["x"] for r in orders["data"] if r["partial"]})
    assert len(partial) == 1 and partial[0].startswith(("2024-02-01", "1706745600000"))


def charts_data(at: AppTest) -> list[dict]:
    """Each chart's title (the markdown above it) and its rows."""
    out = []
    titles = [m.value.strip("*") for m in at.markdown if m.value.startswith("**") and m.value.endswith("**")]
    for el in at.get("vega_lite_chart"):
        rows = []
        for d in el.proto.datasets:
            rows += pa.ipc.open_stream(d.data.data).read_all().to_pylist()
        out.append({"data": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
                             for r in rows]})
    charted = [t for t in titles if t not in ("KPIs",)]
    for item, title in zip(out, charted):
        item["title"] = title
    return out
