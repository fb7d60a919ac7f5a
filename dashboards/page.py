"""A mart page drawn from its block: filters, top blocks, KPIs, charts, bottom blocks, table,
definitions — and then its sections (specs declaring ``part_of`` this one).

Why one function per part: each catches its own query failure and shows it as a message in
place, so a column another run has not built yet costs one chart, not the page.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from dashboards import context
from dashboards.blocks import render_block
from dashboards.catalog import PageSpec, definition_text
from dashboards.charts import render_chart
from dashboards.filters import Where, date_condition, render_filters
from dashboards.formatting import column_config, show, show_delta
from dashboards.session import LOG, as_of_line
from dashboards.source import QueryFailed, WarehouseUnavailable
from dashboards.sql import Sql, ident, param, portable


def guarded(what: str, draw: Callable[[], None]) -> None:
    """Run one part of a page; a failed query becomes a warning naming the part, any other
    failure an error in place (tests and the browser check look for those)."""
    try:
        draw()
    except QueryFailed as exc:
        st.warning(f"{what}: the warehouse could not answer ({exc}). Has the latest run built this table?")
    except WarehouseUnavailable:
        raise
    except ScriptControlException:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad block costs its own place on the page, not the page
        LOG.error("%s failed", what, exc_info=exc)
        st.error(f"{what}: cannot be drawn: {type(exc).__name__}: {exc} (details in the dashboard's log)")


def table_state(table: str, spec: str) -> str | None:
    """None when ``table`` holds rows, else the sentence saying what to run."""
    schema, _, name = table.partition(".")
    found = context.query(Sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = ")
                          + param(schema) + " AND table_name = " + param(name))
    command = f"`medallion run --select {spec}`"
    if int(found.iloc[0, 0]) == 0:
        return f"`{table}` is not in the warehouse yet. Run {command} to build and publish it."
    rows = context.query(Sql(f"SELECT count(*) AS n FROM (SELECT 1 AS one FROM {ident(table)} LIMIT 1) t"))
    if int(rows.iloc[0, 0]) == 0:
        return f"`{table}` is empty. Run {command} (with `+{spec}` to rebuild its inputs too) to fill it."
    return None


def as_of_caption(page: PageSpec) -> None:
    """"Data as of" (the table's as_of date, when it has one) and the publishing run."""
    run_id, finished = context.last_publish()
    data_as_of = None
    if "as_of" in page.columns:
        try:
            got = context.query(Sql(f'SELECT max("as_of") AS a FROM {ident(page.table)}'))
            data_as_of = got.iloc[0, 0] if len(got) and not pd.isna(got.iloc[0, 0]) else None
        except QueryFailed:
            data_as_of = None
    st.caption(as_of_line(finished, run_id, data_as_of))


def render_page(page: PageSpec, root: Path, parent_where: Where | None = None, level: int = 1) -> None:
    """Draw a page (level 1) or a section (level 2)."""
    (st.title if level == 1 else st.header)(page.title)
    if page.error or page.board is None:
        st.error(f"This dashboard block is invalid (`medallion validate` prints the same):\n\n```\n{page.error}\n```")
        return
    board = page.board
    if level == 1:
        as_of_caption(page)
    if board.description:
        st.caption(board.description)
    try:
        missing = table_state(page.table, page.name)
    except QueryFailed as exc:
        missing = f"the warehouse could not list its tables ({exc})"
    where = parent_where or Where()
    if missing:
        st.info(missing)
    else:
        where = _body(page, root, parent_where, level)
    for section in page.sections:
        st.divider()
        render_page(section, root, where, level=2)


def _body(page: PageSpec, root: Path, parent_where: Where | None, level: int) -> Where:
    board = page.board
    if board.filters or board.time:
        st.sidebar.markdown(f"**Filters — {page.title}**" if level > 1 else "**Filters**")
    where = render_filters(board.filter_list, page.table, page.columns, page.slug, board.time)
    if parent_where is not None:  # the parent's filters apply where this table has the column
        merged = {k: v for k, v in parent_where.conditions.items() if k in page.columns}
        merged.update(where.conditions)
        where = Where(merged, where.date_range or parent_where.date_range)
    omitted: list[str] = []
    top = [b for b in board.blocks if (b.at or _default_at(b)) == "top"]
    for i, block in enumerate(top):
        guarded(f"block {i + 1}", lambda b=block: render_block(b, page.table, page.name, where, page.columns))
    if board.kpis:
        guarded("KPIs", lambda: render_kpis(page, where, omitted))
    _charts(page, where, omitted)
    for i, block in enumerate(b for b in board.blocks if b not in top):
        guarded(f"block {block.type}", lambda b=block: render_block(b, page.table, page.name, where, page.columns))
    if omitted:
        st.caption("**Not shown:** " + " · ".join(omitted))
    if board.table is not None:
        guarded("table", lambda: render_table(page, where))
    render_definitions(page, root)
    return where


def _default_at(block: Any) -> str:
    return "top" if block.type in ("note", "signal_check", "rule_vs_model") else "bottom"


def _charts(page: PageSpec, where: Where, omitted: list[str]) -> None:
    """Charts two per row (``width: full`` takes a row); an omitted chart leaves no hole."""
    charts = page.board.charts
    floor = context.vocabulary().min_group_size
    i = 0
    while i < len(charts):
        row = [charts[i]] if charts[i].width == "full" or i + 1 >= len(charts) or charts[i + 1].width == "full" \
            else charts[i:i + 2]
        cols = st.columns(len(row)) if len(row) > 1 else [st.container()]
        for j, (col, chart) in enumerate(zip(cols, row)):
            with col:
                guarded(chart.title or f"chart {i + j + 1}", lambda c=chart, k=i + j: render_chart(
                    c, page, where, f"{page.slug}:chart{k}", floor, omitted))
        i += len(row)


def kpi_query(page: PageSpec, where: Where, dialect: str, replace: dict[str, Sql] | None = None,
              deltas: bool = False) -> Sql:
    """One row: every KPI value (``k0, k1, ...``) and the SQL-given deltas (``d0, ...``)."""
    exprs = [f"{portable(k.value, dialect)} AS k{i}" for i, k in enumerate(page.board.kpis)]
    if deltas:
        exprs += [f"{portable(k.delta, dialect)} AS d{i}" for i, k in enumerate(page.board.kpis)
                  if k.delta and k.delta != "previous_period"]
    return "SELECT " + ", ".join(exprs) + f" FROM {ident(page.table)}" + where.sql(list(page.columns),
                                                                                   replace=replace)


def _shown(page: PageSpec, omitted: list[str]) -> list[int]:
    """Indexes of the KPIs whose ``only_if`` holds (the others become notes)."""
    keep = []
    for i, kpi in enumerate(page.board.kpis):
        if kpi.only_if:
            ok = context.query(Sql(f"SELECT {portable(kpi.only_if, context.dialect())} AS ok FROM {ident(page.table)}"))
            if not len(ok) or not bool(ok.iloc[0, 0]):
                omitted.append(f"*{kpi_label(kpi)}* — {kpi.omitted or 'not measurable on this data'}")
                continue
        keep.append(i)
    return keep


def kpi_label(kpi: Any) -> str:
    """The card's label: its own, else its vocabulary term's."""
    if kpi.label:
        return kpi.label
    term, value = context.vocabulary().term(kpi.term)
    return (value.label if value else term.label if term else kpi.value)


def kpi_help(kpi: Any) -> str:
    """The card's tooltip: its own help, else the term's definition, then the SQL."""
    term, value = context.vocabulary().term(kpi.term)
    meaning = (value.means if value and value.means else None) or (term.means if term else None)
    text = kpi.help or meaning or ""
    return (text + "\n\n" if text else "") + f"`{kpi.value}`"


def render_kpis(page: PageSpec, where: Where, omitted: list[str] | None = None) -> None:
    """The KPI cards; deltas from a SQL aggregate or against the previous period of equal length.
    A KPI with no value under the filters, or whose ``only_if`` fails, is omitted with a note."""
    omitted = [] if omitted is None else omitted
    kpis = page.board.kpis
    dialect = context.dialect()
    now = context.query(kpi_query(page, where, dialect, deltas=True))
    if now.empty:
        return
    previous = None
    if any(k.delta == "previous_period" for k in kpis) and where.date_range:
        column, start, end = where.date_range
        days = (end - start).days + 1
        prev_start, prev_end = start - dt.timedelta(days=days), start - dt.timedelta(days=1)
        previous = context.query(kpi_query(page, where, dialect,
                                           replace={column: date_condition(column, prev_start, prev_end)}))
    row = now.iloc[0]
    shown = []
    for i in _shown(page, omitted):
        value = row[f"k{i}"]
        if value is None or pd.isna(value):
            omitted.append(f"*{kpi_label(kpis[i])}* — no value for the current filters")
        else:
            shown.append(i)
    per_row = 4 if len(shown) in (4, 7, 8) else 5 if len(shown) in (5, 9, 10) else 3 if len(shown) == 6 \
        else min(max(len(shown), 1), 5)
    for start in range(0, len(shown), per_row):
        cols = st.columns(per_row)
        for col, i in zip(cols, shown[start:start + per_row]):
            kpi = kpis[i]
            value = row[f"k{i}"]
            delta = None
            if kpi.delta == "previous_period" and previous is not None and len(previous):
                before = previous.iloc[0][f"k{i}"]
                if before is not None and not pd.isna(before) and before:
                    delta = f"{(float(value) - float(before)) / abs(float(before)):+.1%} vs previous period"
            elif kpi.delta and kpi.delta != "previous_period" and f"d{i}" in row:
                d = row[f"d{i}"]
                if d is not None and not pd.isna(d):
                    delta = show_delta(float(d), float(value), kpi.delta_format or kpi.format)
            col.metric(kpi_label(kpi), show(value, kpi.format), delta=delta, delta_color=kpi.delta_color,
                       help=kpi_help(kpi), border=True)


def table_query(page: PageSpec, where: Where, dialect: str) -> tuple[Sql, Sql]:
    """(rows, count) queries of the detail table under the filters."""
    spec_table = page.board.table
    cols = spec_table.columns or list(page.columns) or ["*"]
    select = ", ".join("*" if c == "*" else ident(c) for c in cols)
    cond = where.sql(list(page.columns))
    order = []
    if spec_table.first:
        order.append(f"CASE WHEN {portable(spec_table.first, dialect)} THEN 0 ELSE 1 END")
    order += [f"{ident(c)} {'DESC' if desc else 'ASC'}" + (" NULLS LAST" if desc else "")
              for c, desc in spec_table.sort_keys]
    rows = (f"SELECT {select} FROM {ident(page.table)}" + cond + (f" ORDER BY {', '.join(order)}" if order else "")
            + f" LIMIT {spec_table.limit}")
    return rows, f"SELECT count(*) AS n FROM {ident(page.table)}" + cond


def render_table(page: PageSpec, where: Where) -> None:
    """The detail table (column help = the column's description) and its CSV download."""
    spec_table = page.board.table
    rows_sql, count_sql = table_query(page, where, context.dialect())
    frame = context.query(rows_sql)
    total = int(context.query(count_sql).iloc[0, 0])
    st.subheader(spec_table.title or "Detail")
    shown = f"{len(frame):,} of {total:,} rows" if total > len(frame) else f"{total:,} rows"
    st.caption(f"{shown} · click a column header to sort · hover it for its definition")
    vocabulary = context.vocabulary()
    config = {c: column_config(c, page.columns.get(c), vocabulary) for c in frame.columns}
    shown = frame.copy()
    for c in shown.columns:  # defined values read as their labels (the CSV keeps the stored values)
        if vocabulary.for_column(c) and vocabulary.for_column(c).values:
            shown[c] = shown[c].map(lambda v, c=c: vocabulary.value_label(c, v))
    st.dataframe(shown, column_config=config, hide_index=True, width="stretch",
                 height=min(420, 38 + 35 * max(len(frame), 1)))
    st.download_button("Download CSV", frame.to_csv(index=False).encode("utf-8"),
                       file_name=f"{page.slug}.csv", mime="text/csv", key=f"{page.slug}:csv")


def render_definitions(page: PageSpec, root: Path) -> None:
    """The 'Definitions' expander: the spec's description, each KPI's SQL, the column glossary
    and the section of the metrics document that defines the table."""
    with st.expander("Definitions"):
        if page.description:
            st.markdown(page.description)
        if page.board.kpis:
            st.markdown("**KPIs**\n\n" + "\n".join(f"- **{kpi_label(k)}** = `{k.value}`" for k in page.board.kpis))
        if page.columns:
            glossary = pd.DataFrame([{"column": n, "format": d.format or "", "definition": d.description}
                                     for n, d in page.columns.items()])
            st.dataframe(glossary, hide_index=True, width="stretch")
        text = definition_text(root, page)
        if text:
            st.markdown(f"**From {page.board.definition.doc}:**")
            st.markdown("\n".join("> " + line for line in text.splitlines()))

