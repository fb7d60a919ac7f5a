"""Pages come from YAML alone; the block schema rejects mistakes clearly; user input is always
bound as a parameter; an empty or unreachable warehouse is a message, not a traceback."""

from __future__ import annotations

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.sql import Sql, in_list, param, portable, render
from engine.cli import main
from tests.dashboards.test_pages import assert_clean, metrics, open_page

SPEC = """\
name: gold.widget_counts
description: Widgets per colour.
inputs: {raw: bronze.widgets}
steps:
  - {type: select, columns: [colour, widgets, made_on]}
output: {keys: [colour]}
columns:
  colour: {description: The colour, format: text}
  widgets: {description: Widgets made, format: integer}
  made_on: {description: Day made, format: date}
dashboard:
  title: Widget counts
  kpis:
    - {label: Widgets, value: sum(widgets), format: integer}
    - {label: Colours, value: count(DISTINCT colour), format: integer}
    - {label: Largest batch, value: max(widgets), format: integer, delta: min(widgets) - max(widgets)}
  charts:
    - {type: bar, x: colour, y: sum(widgets), sort: -y, title: Widgets by colour}
  filters: [colour]
  table: {sort: -widgets}
"""
BRONZE = """\
name: bronze.widgets
steps:
  - {type: read, format: csv, path: raw/widgets.csv, columns: {colour: string, widgets: string, made_on: string}}
"""


def test_a_new_mart_yaml_is_a_new_page(make_project, use_project):
    root = make_project({"marts/widget_counts.yaml": SPEC, "pipelines/bronze/widgets.yaml": BRONZE},
                        config=_config())
    (root / "lake").mkdir()
    with duckdb.connect(str(root / "lake" / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA gold")
        con.execute("CREATE TABLE gold.widget_counts (colour VARCHAR, widgets BIGINT, made_on DATE)")
        con.execute("INSERT INTO gold.widget_counts VALUES ('red', 3, '2024-01-01'), ('blue', 4, '2024-01-02'), "
                    "('red', 5, '2024-01-03')")
    use_project(root, [])
    at = open_page("widget_counts")
    assert_clean(at)
    assert at.title[0].value == "Widget counts"
    assert metrics(at) == {"Widgets": "12", "Colours": "2", "Largest batch": "5"}  # 3 + 4 + 5; red, blue
    assert at.metric[2].delta == "-2"  # min 3 - max 5: a negative delta reads as one
    at.multiselect(key="widget_counts:filter:colour").set_value(["red"]).run()
    assert metrics(at) == {"Widgets": "8", "Colours": "1", "Largest batch": "5"}
    assert len(at.get("vega_lite_chart")) == 1


def _config() -> str:
    return """\
name: widgets
spec_dirs: [pipelines/bronze, marts]
variables: {lake_dir: lake}
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
  unreachable:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: postgres, host: 127.0.0.1, port: 1, database: nowhere, user: nobody}
"""


def test_missing_empty_and_unreachable_warehouses_are_messages(make_project, use_project):
    root = make_project({"marts/widget_counts.yaml": SPEC, "pipelines/bronze/widgets.yaml": BRONZE},
                        config=_config())
    use_project(root, [])  # no lake folder at all
    at = open_page("widget_counts")
    assert_clean(at)
    assert "run `medallion run` first" in at.warning[0].value
    (root / "lake").mkdir()
    duckdb.connect(str(root / "lake" / "warehouse.duckdb")).close()
    use_project(root, [])
    at = open_page("widget_counts")
    assert_clean(at)
    assert "the warehouse is empty" in at.warning[0].value
    use_project(root, [], profile="unreachable")
    at = open_page("widget_counts")
    assert_clean(at)
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/nowhere" in at.warning[0].value
    at = open_page("pipeline_health")  # the run store is still readable
    assert_clean(at)
    assert [i.value for i in at.info] == ["No runs recorded yet: `medallion run` writes a record of every run here."], \
        ([t.value for t in at.title], [w.value for w in at.warning])


def test_an_unopenable_project_is_a_message(tmp_path, use_project):
    use_project(tmp_path, [])
    at = AppTest.from_string("from dashboards.app import main\nmain()", default_timeout=30).run()
    assert not at.exception
    assert "The project could not be opened" in at.error[0].value


def test_user_values_travel_as_parameters():
    evil = "x' OR 1=1; DROP TABLE t; --"
    sql = "SELECT count(*) FROM t WHERE " + in_list("name", ["a", evil]) + " AND d >= " + param("2024-01-01")
    text, params = render(sql, "duckdb")
    assert text == 'SELECT count(*) FROM t WHERE "name" IN (?, ?) AND d >= ?'
    assert params == ("a", evil, "2024-01-01")
    text, params = render(sql + " AND note LIKE 'x%'", "postgres")
    assert text.endswith("\"name\" IN (%s, %s) AND d >= %s AND note LIKE 'x%%'")  # psycopg: % doubled
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (name VARCHAR, d VARCHAR, note VARCHAR)")
        con.execute("INSERT INTO t VALUES ('a', '2024-02-01', 'x'), ('b', '2024-02-01', 'x')")
        text, params = render(sql, "duckdb")
        assert con.execute(text, list(params)).fetchone() == (1,)  # 'a' only; the quote matched nothing
        assert con.execute("SELECT count(*) FROM t").fetchone() == (2,)
    with pytest.raises(ValueError, match="markers"):
        render(Sql("SELECT \x1f"), "duckdb")


def test_spec_functions_become_portable_sql():
    expr = "count_if(status = 'a') / count(*) + COUNT_IF(x IN (1, 2))"
    assert portable(expr, "duckdb") == expr
    assert portable(expr, "postgres") == ("count(CASE WHEN status = 'a' THEN 1 END) / count(*) + "
                                          "count(CASE WHEN x IN (1, 2) THEN 1 END)")
    assert portable("my_count_if(x)", "redshift") == "my_count_if(x)"


def _widgets_warehouse(root, create: str | None) -> None:
    (root / "lake").mkdir(exist_ok=True)
    with duckdb.connect(str(root / "lake" / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS gold")
        con.execute("CREATE TABLE IF NOT EXISTS gold.other (x INTEGER)")  # the warehouse is not empty
        if create:
            con.execute(create)


def test_a_missing_or_empty_table_says_what_to_run(make_project, use_project):
    root = make_project({"marts/widget_counts.yaml": SPEC, "pipelines/bronze/widgets.yaml": BRONZE},
                        config=_config())
    _widgets_warehouse(root, None)
    use_project(root, [])
    at = open_page("widget_counts")
    assert_clean(at)
    assert [i.value for i in at.info] == ["`gold.widget_counts` is not in the warehouse yet. Run "
                                          "`medallion run --select gold.widget_counts` to build and publish it."]
    assert not at.metric and not at.get("vega_lite_chart")
    _widgets_warehouse(root, "CREATE TABLE gold.widget_counts (colour VARCHAR, widgets BIGINT, made_on DATE)")
    use_project(root, [])
    at = open_page("widget_counts")
    assert_clean(at)
    assert "`gold.widget_counts` is empty. Run `medallion run --select gold.widget_counts`" in at.info[0].value


def test_a_changed_yaml_is_read_again_without_a_restart(make_project, use_project):
    root = make_project({"marts/widget_counts.yaml": SPEC, "pipelines/bronze/widgets.yaml": BRONZE},
                        config=_config())
    _widgets_warehouse(root, "CREATE TABLE gold.widget_counts AS SELECT 'red' AS colour, 3::BIGINT AS widgets, "
                             "DATE '2024-01-01' AS made_on")
    use_project(root, [])
    assert open_page("widget_counts").title[0].value == "Widget counts"
    spec = root / "marts" / "widget_counts.yaml"
    spec.write_text(spec.read_text().replace("title: Widget counts", "title: Widgets by colour"))
    (root / "marts" / "more.yaml").write_text(SPEC.replace("gold.widget_counts", "gold.more_widgets")
                                              .replace("title: Widget counts", "title: More widgets"))
    at = open_page("widget_counts")  # same process, same caches: no restart
    assert_clean(at)
    assert at.title[0].value == "Widgets by colour"
    assert open_page("more_widgets").title[0].value == "More widgets"  # a new YAML is a new page at once


def test_medallion_dashboard_is_a_command(capsys):
    assert main(["dashboard", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--profile" in out
