"""The details of issue 20 an audit found untested, checked on the pages in Streamlit's AppTest:
calendar groups per day, growth with its volume, legends, log-axis ticks, an empty segment kept
with 0, human labels, and headline KPIs against SQL written here (not the KPI's own expression).

Expected values are worked out by hand from the fixture rows of tests/dashboards/conftest.py
(or from rows written in the test itself, on a private copy of the warehouse).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.catalog import load_pages
from dashboards.vocabulary import load_vocabulary
from engine.run.workspace import Workspace
from tests.dashboards.conftest import ROOT, _create, _page_tables

TIMEOUT = 120  # a generous bound on a loaded machine; not a speed check


def open_page(slug: str) -> AppTest:
    at = AppTest.from_string(f"from dashboards.app import main\nmain({slug!r})", default_timeout=TIMEOUT)
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> list[dict[str, Any]]:
    """Each Vega-Lite spec on the page with its data rows under ``_rows``."""
    out = []
    for el in at.get("vega_lite_chart"):
        spec = json.loads(el.proto.spec)
        rows: list[dict] = []
        for d in el.proto.datasets:
            rows += pa.ipc.open_stream(d.data.data).read_all().to_pylist()
        spec["_rows"] = rows
        out.append(spec)
    return out


def encodings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The encoding blocks of a chart and of its layers."""
    found = [spec["encoding"]] if "encoding" in spec else []
    for layer in spec.get("layer", []):
        found += encodings(layer)
    return found


def chart_with(at: AppTest, title_part: str) -> dict[str, Any]:
    """The chart whose tooltip/axis titles mention ``title_part``."""
    for spec in charts(at):
        if title_part in json.dumps({k: v for k, v in spec.items() if k != "_rows"}):
            return spec
    raise AssertionError(f"no chart mentions {title_part!r}")


def by_label(rows: list[dict]) -> dict[str, dict]:
    return {r["xl"]: r for r in rows}


PAGES = load_pages(Workspace.open(ROOT, None, []).graph, ROOT,
                   load_vocabulary(ROOT, Workspace.open(ROOT, None, []).project.variables))
SLUGS = [p.slug for p in PAGES]


def replace_table(lake: Path, table: str, rows: list[dict[str, Any]]) -> None:
    """Rewrite one table of a private lake copy with hand-written rows (other columns generated)."""
    con = duckdb.connect(str(lake / "warehouse.duckdb"))
    try:
        _create(con, table, _page_tables()[table], rows)
    finally:
        con.close()


# --- 1. calendar groups per day, with the number of days -------------------------------------

def test_weekday_holiday_weekend_are_per_day_with_day_counts(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("sales_trends")
    assert_clean(at)
    # SALES rows and their generated day_of_week (Monday, Tuesday, Sunday cycling over row index):
    # Monday = rows 0, 3 = 100 + 10 = 110 over 2 days -> 55.00 per day (a total would read 110)
    # Tuesday = rows 1, 4 = 50 + 5 = 55 over 2 days -> 27.50; Sunday = rows 2, 5 = 25 + 2.50 = 27.50 / 2 -> 13.75
    weekday = by_label(chart_with(at, "Day of week")["_rows"])
    assert weekday["Monday (n=2)"]["y0"] == pytest.approx(55.0)
    assert weekday["Tuesday (n=2)"]["y0"] == pytest.approx(27.5)
    assert weekday["Sunday (n=2)"]["y0"] == pytest.approx(13.75)
    # holiday: only 2024-01-01 (100) -> 100 / 1 day; others 50 + 25 + 10 + 5 + 2.50 = 92.50 / 5 days = 18.50
    holiday = by_label(chart_with(at, '"Holiday"')["_rows"])
    assert holiday["Yes (n=1)"]["y0"] == pytest.approx(100.0)
    assert holiday["No (n=5)"]["y0"] == pytest.approx(18.5)
    assert holiday["Yes (n=1)"]["small"] and not holiday["No (n=5)"]["small"]  # min: 5 days
    # weekend: every row is a weekday (is_weekend false): 192.50 over its 6 order dates = 32.0833 per day
    weekend = chart_with(at, "Revenue per day")
    assert [(r["color"], round(r["y0"], 4)) for r in weekend["_rows"]] == [("No", round(192.5 / 6, 4))]
    assert any("values are per day" in c.value for c in at.caption)


def test_weekend_per_day_line_shows_its_day_count(warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page("sales_trends")
    assert_clean(at)
    chart_with(at, "Revenue per day")
    # 6 weekday order dates in January (conftest SALES), no weekend date: the note names the divisor
    notes = [c.value for c in at.caption if "values are per day" in c.value]
    assert any(n.rstrip(".").endswith("; n = days: No 6") for n in notes), notes


# --- 2. growth with volume; tiny locations not ranked -----------------------------------------

LOCATIONS = [  # restaurant_id, status, orders, orders_last_90d, growth_90d_pct, rank_growth
    ("Big", "active", 400, 150, 12.0, 3),
    ("Mid", "active", 200, 60, 25.0, 2),
    ("Tiny", "active", 4, 3, 88.0, 1),  # ranked first by the mart, but 3 orders: too few to rank
    ("Gone", "inactive", 50, 0, None, None),
]


def test_growth_bars_show_volume_and_skip_tiny_locations(fresh_lake, use_project):
    replace_table(fresh_lake, "gold.location_performance",
                  [{"restaurant_id": r, "status": s, "orders": o, "orders_last_90d": n, "growth_90d_pct": g,
                    "rank_growth": k} for r, s, o, n, g, k in LOCATIONS])
    use_project(ROOT, [f"lake_dir={fresh_lake}"])
    at = open_page("location_performance")
    assert_clean(at)
    growth = chart_with(at, "n (orders in the last 90 days)")
    rows = by_label(growth["_rows"])
    # Big: +12.0% on 150 orders; Mid: +25.0% on 60; Gone has no rank (where rank_growth IS NOT NULL)
    assert rows["Mid (n=60)"]["y0"] == pytest.approx(25.0)
    assert rows["Big (n=150)"]["y0"] == pytest.approx(12.0)
    assert not any(label.startswith("Gone") for label in rows)
    # Tiny (+88% on 3 orders, below the 30-order guard) is left out of the ranking, and the page says so
    assert list(rows) == ["Mid (n=60)", "Big (n=150)"]
    # the scatter colours by status: its legend is on (no "legend": null) and titled from the vocabulary
    color = next(enc["color"] for enc in encodings(chart_with(at, "Location status")) if "color" in enc)
    assert color["field"] == "color" and color.get("legend", {}) is not None and color["title"] == "Location status"
    assert any("1 group with fewer than 30 orders in the last 90 days left out of the ranking" in c.value
               for c in at.caption)


# --- 3. a legend whenever colour encodes a field -----------------------------------------------

@pytest.mark.parametrize("slug", SLUGS)
def test_colour_by_a_field_always_has_a_legend(slug, warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page(slug)
    assert not at.exception
    missing = []
    for spec in charts(at):
        for enc in encodings(spec):
            color = enc.get("color", {})
            if "field" in color and color.get("legend", {}) is None:
                # allowed only where the colour repeats the axis category of every bar (the axis label
                # already names the colour), checked on the data: each row's colour starts its axis label
                field = color["field"]
                same_as_axis = bool(spec["_rows"]) and all(
                    str(r.get("xl", r.get("x"))).startswith(str(r[field])) for r in spec["_rows"])
                if not same_as_axis:
                    missing.append(color)
    assert not missing, missing


# --- 4. log axes: ticks at powers of ten, labels never "$1, $0, $0" ----------------------------

def spec_rows(at: AppTest, channel: dict[str, Any]) -> list[dict]:
    """The data rows of the chart that holds ``channel``."""
    return next(spec["_rows"] for spec in charts(at) if any(channel in enc.values() for enc in encodings(spec)))


def _d3_trim_g(value: float) -> str:
    """What d3's ``~g`` prints for a power of ten (independent of the app): 6 significant digits, zeros trimmed."""
    return f"{value:g}" if value >= 1e-4 else f"{value:.0e}"


@pytest.mark.parametrize("slug", ["customer_lifetime_value", "pricing_effectiveness"])
def test_log_axes_label_powers_of_ten(slug, warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page(slug)
    assert_clean(at)
    log_axes = []
    for spec in charts(at):
        for enc in encodings(spec):
            for name in ("x", "y"):
                channel = enc.get(name, {})
                if channel.get("scale", {}).get("type") == "log":
                    log_axes.append(channel)
    assert log_axes, "the page declares log axes (log_x/log_y in its YAML)"
    for channel in log_axes:
        axis = channel["axis"]
        assert not axis["format"].endswith((".0f", ",d")), axis  # a fixed-decimal format prints $0 below 0.5
        assert "~g" in axis["format"], axis
        values = axis.get("values")
        assert values, axis  # explicit ticks: consecutive powers of ten covering the data, labelled differently
        if values:
            exponents = [math.log10(v) for v in values]
            assert all(e == pytest.approx(round(e)) for e in exponents), values
            assert [round(e) for e in exponents] == list(range(round(exponents[0]), round(exponents[-1]) + 1))
            data = [r[channel["field"]] for r in spec_rows(at, channel) if (r[channel["field"]] or 0) > 0]
            assert values[0] <= min(data) and values[-1] >= max(data), (values, min(data), max(data))
            labels = [_d3_trim_g(v) for v in values]
            assert len(set(labels)) == len(labels), labels


# --- 5. an empty segment kept with 0; the R×F grid keeps F = 2 --------------------------------

SEGMENTS = [  # user_id, segment, r_score, f_score: no customer has F = 2, none is "At Risk"
    ("C1", "Champions", 5, 5), ("C2", "Champions", 4, 4), ("C3", "Loyal", 3, 4),
    ("C4", "New", 5, 1), ("C5", "Hibernating", 1, 1), ("C6", "Need Attention", 3, 3),
]


def test_at_risk_segment_shows_zero_and_grid_has_f2(fresh_lake, use_project):
    replace_table(fresh_lake, "gold.customer_segments",
                  [{"user_id": u, "segment": s, "r_score": r, "f_score": f, "rfm_cell": f"{r}{f}1"}
                   for u, s, r, f in SEGMENTS])
    use_project(ROOT, [f"lake_dir={fresh_lake}"])
    at = open_page("customer_segments")
    assert_clean(at)
    per_segment = by_label(chart_with(at, "RFM segment")["_rows"])
    # counts by hand: Champions 2, Loyal 1, New 1, Hibernating 1, Need Attention 1, At Risk 0, Promising 0
    assert per_segment["At Risk (n=0)"]["y0"] == 0
    assert per_segment["Champions (n=2)"]["y0"] == 2 and per_segment["Promising (n=0)"]["y0"] == 0
    grid = chart_with(at, "F score")
    cells = {(r["x"], r["y"]): r["v"] for r in grid["_rows"]}
    assert {x for x, _ in cells} >= {1, 2, 3, 4, 5}  # F = 2 is a column although no customer has it
    assert all(cells[(2, y)] == 0 for y in range(1, 6))
    # F = 1: C4 (R 5), C5 (R 1); F = 4: C2 (R 4), C3 (R 3); F = 5: C1 (R 5); F = 3: C6 (R 3)
    assert (cells[(1, 5)], cells[(1, 1)], cells[(4, 4)], cells[(4, 3)], cells[(5, 5)], cells[(3, 3)]) == (1,) * 6


# --- 6. human labels, no raw column names ------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=SLUGS)
def test_axis_titles_and_kpi_labels_are_human(page, warehouse_lake, use_project):
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    at = open_page(page.slug)
    assert not at.exception
    raw = {c for part in [page, *page.sections] for c in part.columns}
    titles = [m.label for m in at.metric]
    for spec in charts(at):
        for enc in encodings(spec):
            for name in ("x", "y", "color", "size"):
                if "title" in enc.get(name, {}) and enc[name]["title"] is not None:
                    titles.append(enc[name]["title"])
            titles += [t["title"] for t in enc.get("tooltip", []) if isinstance(t, dict) and "title" in t]
    bad = [t for t in titles if t in raw or t in ("None", "none", "null") or "_" in t
           or t.lower().replace(" ", "_") in raw and t[0].islower()]
    assert not bad, bad
    # table headers: every mart column shown in a table carries a readable label (st.column_config)
    unlabelled = []
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        for column in frame.value.columns:
            label = (config.get(str(column)) or {}).get("label")
            if column in raw and (not label or "_" in label or label == "None"):
                unlabelled.append((column, label))
    assert not unlabelled, unlabelled
    # the audit's example: growth_90d_pct is labelled from its description, not "Growth 90d pct"
    assert "Growth 90d pct" not in titles


# --- 7. headline KPIs against SQL written here -------------------------------------------------

def _money(x: float) -> str:
    return f"${x:,.2f}"


def test_sales_and_churn_kpis_match_independent_sql(warehouse_lake, use_project):
    con = duckdb.connect(str(warehouse_lake / "warehouse.duckdb"), read_only=True)
    try:
        # the same numbers asked another way: per-row totals in a subquery, days from a GROUP BY
        revenue, lines, units, bulk = con.execute(
            "SELECT sum(t.revenue), sum(t.lines), sum(t.units), sum(t.bulk_revenue) FROM "
            "(SELECT revenue, lines, units, bulk_revenue FROM gold.sales_trends) t").fetchone()
        days = con.execute("SELECT count(*) FROM (SELECT order_date FROM gold.sales_trends GROUP BY 1)").fetchone()[0]
        status = dict(con.execute("SELECT churn_status, count(*) FROM gold.churn_indicators GROUP BY 1").fetchall())
        at_risk_revenue = con.execute("SELECT sum(revenue_last_365d) FROM gold.churn_indicators "
                                      "WHERE churn_status IN ('at_risk')").fetchone()[0]
        locations = con.execute("SELECT count(*) FILTER (WHERE status = 'active'), sum(revenue), "
                                "sum(revenue) / sum(orders) FROM gold.location_performance").fetchone()
    finally:
        con.close()
    # by hand (conftest SALES): 192.50, 10 lines, 12 units, 5.00 bulk, 6 dates; CHURN: 2 / 2 / 1, 40 + 60.50
    assert (float(revenue), lines, units, float(bulk), days) == (192.5, 10, 12, 5.0, 6)
    assert status == {"active": 2, "at_risk": 2, "churned": 1} and float(at_risk_revenue) == 100.5
    use_project(ROOT, [f"lake_dir={warehouse_lake}"])
    sales = open_page("sales_trends")
    assert_clean(sales)
    got = {m.label: m.value for m in sales.metric}
    assert got["Revenue"] == _money(float(revenue))
    assert got["Average daily revenue"] == _money(float(revenue) / days)
    assert (got["Lines"], got["Units"]) == (f"{lines:,}", f"{units:,}")
    assert got["Bulk share of revenue"] == f"{float(bulk) / float(revenue):.1%}"
    churn = open_page("churn_indicators")
    assert_clean(churn)
    got = {m.label: m.value for m in churn.metric}
    assert (got["Active"], got["At risk"], got["Churned"]) == tuple(
        str(status[s]) for s in ("active", "at_risk", "churned"))
    assert got["Revenue at risk (last 365 days)"] == _money(float(at_risk_revenue))
    place = open_page("location_performance")
    assert_clean(place)
    got = {m.label: m.value for m in place.metric}
    assert got["Active locations"] == str(locations[0])
    assert got["Revenue"] == _money(float(locations[1]))
    assert got["Average order value"] == _money(float(locations[2]))
