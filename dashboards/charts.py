"""One chart per ``charts:`` entry: the queries it needs and the guards that keep it honest.

Why queries per chart: the warehouse aggregates (a daily table of years rolls up to weeks in
SQL), so the browser only receives what it draws. ``y`` decides the query: a column is plotted
row by row, an aggregate is grouped by x (and color), ``avg_daily(e)`` averages the daily
``sum(e)`` per x, and a list of aggregates draws one series each. Around it, by default:
group sizes on every comparison (small groups greyed, or left out of a ranking), per-day
normalisation when asked, partial first/last periods marked, categories with no rows drawn as
0 rather than vanishing, and a chart with nothing to draw omitted with a note.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.chart_models import AVG_DAILY, GroupSize, is_column
from dashboards.filters import Where
from dashboards.sql import Sql, ident, portable, trunc

ROW_LIMIT = 5000
SCATTER_LIMIT = 3000
HIST_LIMIT = 200_000
PERIOD_DAYS = {"day": 1, "week": 7}


@dataclass
class Prepared:
    """What a chart draws: its rows and what the reader must be told about them."""

    frame: pd.DataFrame
    grain: str | None = None
    notes: list[str] = field(default_factory=list)
    sizes: GroupSize | None = None  # group sizes drawn on the labels (frame column "n")
    partial: list[Any] = field(default_factory=list)  # x values of partial periods


def _x(chart: Any, grain: str | None) -> str:
    return trunc(grain, chart.x) if grain else (ident(chart.x) if is_column(chart.x) else chart.x)


def chart_query(chart: Any, table: str, where: Where, columns: list[str], dialect: str,
                grain: str | None = None, time: str | None = None) -> Sql:
    """The SQL that feeds ``chart`` under the current filters."""
    cond = where.sql(columns, extra=[portable(chart.where, dialect)] if chart.where else None)
    src = f" FROM {ident(table)}"
    ys = chart.ys
    if chart.type == "histogram":
        return "SELECT " + ident(chart.x) + " AS x" + src + cond + _and(cond, f"{ident(chart.x)} IS NOT NULL") + \
            f" LIMIT {HIST_LIMIT}"
    if chart.type == "heatmap":
        return (f"SELECT {_x(chart, None)} AS x, {ident(chart.y)} AS y, {portable(chart.value, dialect)} AS v"
                + src + cond + " GROUP BY 1, 2")
    if chart.opt("compare") == "year_over_year":
        col = ident(chart.x)
        return (f"SELECT CAST(extract(year FROM {col}) AS INTEGER) AS series, "
                f"CAST(extract(month FROM {col}) AS INTEGER) AS x, {portable(ys[0], dialect)} AS y0"
                + src + cond + " GROUP BY 1, 2 ORDER BY 1, 2")
    color = f", {ident(chart.color)} AS color" if chart.color else ""
    size = f", {ident(chart.size)} AS size" if chart.opt("size") else ""
    label = f", {ident(chart.label)} AS label" if chart.opt("label") else ""
    daily = AVG_DAILY.match(ys[0]) if len(ys) == 1 else None
    keys = 1 + bool(chart.color) + bool(label)
    group = " GROUP BY " + ", ".join(str(i) for i in range(1, keys + 1))
    if daily:
        if not time:
            raise ValueError("avg_daily(...) needs the page's `time:` column")
        inner = (f"SELECT {ident(time)} AS t, {_x(chart, grain)} AS x{color}{label}, "
                 f"sum({portable(daily.group('inner'), dialect)}) AS v" + src + cond
                 + " GROUP BY " + ", ".join(str(i) for i in range(1, keys + 2)))
        outer = ", ".join(["x"] + (["color"] if chart.color else []) + (["label"] if label else []))
        sql = Sql(f"SELECT {outer}, avg(v) AS y0 FROM (") + inner + f") d GROUP BY {outer}"
    elif len(ys) == 1 and is_column(ys[0]):
        sql = f"SELECT {_x(chart, grain)} AS x, {ident(ys[0])} AS y0{color}{size}{label}" + src + cond
    else:
        per_day = f" / nullif(count(DISTINCT CAST({ident(time)} AS DATE)), 0)" if chart.opt("per_day") else ""
        if per_day and not time:
            raise ValueError("per_day needs the page's `time:` column")
        aggs = ", ".join(f"({portable(y, dialect)}){per_day} AS y{i}" for i, y in enumerate(ys))
        if per_day:  # the divisor, so the page can say how many days each value covers
            aggs += f", count(DISTINCT CAST({ident(time)} AS DATE)) AS days"
        sql = f"SELECT {_x(chart, grain)} AS x{color}{label}, {aggs}" + src + cond + group
    order = {"x": "x", "-x": "x DESC", "y": "y0", "-y": "y0 DESC"}.get(chart.opt("sort") or "")
    if chart.type in ("line", "area") and not order:
        order = "x"
    if chart.type == "scatter" and not order:
        order = "random()"
    limit = chart.opt("top") or (SCATTER_LIMIT if chart.type == "scatter" else
                                 ROW_LIMIT if len(ys) == 1 and is_column(ys[0]) else None)
    if chart.opt("top") and chart.opt("n") is not None:
        limit = None  # the ranking is cut after small groups are set aside
    return sql + (f" ORDER BY {order}" if order else "") + (f" LIMIT {limit}" if limit else "")


def _and(cond: Sql, text: str) -> str:
    return (" AND " if cond.text else " WHERE ") + text


def sizes_query(chart: Any, sizes: GroupSize, table: str, where: Where, columns: list[str], dialect: str) -> Sql:
    """Each x group's size (``n``) under the same filters as the chart."""
    cond = where.sql(columns, extra=[portable(chart.where, dialect)] if chart.where else None)
    if is_column(sizes.count):  # a table with one row per group carries its own size
        return f"SELECT {_x(chart, None)} AS x, max({ident(sizes.count)}) AS n FROM {ident(table)}" + cond + \
            " GROUP BY 1"
    return f"SELECT {_x(chart, None)} AS x, {portable(sizes.count, dialect)} AS n FROM {ident(table)}" + cond + \
        " GROUP BY 1"


def is_time(chart: Any, columns: dict[str, Any], grain: str | None) -> bool:
    """Whether x is a time axis (a grain, a period table or a date column)."""
    return bool(grain or chart.opt("period") or getattr(columns.get(chart.x), "format", None) in ("date", "datetime"))


def compares_groups(chart: Any, columns: dict[str, Any]) -> bool:
    """A bar chart over categories that compares groups (an aggregate per group, or declared sizes);
    a ranking of single rows (one bar per customer) has no group size."""
    grouped = chart.opt("n") is not None or not all(is_column(y) for y in chart.ys)
    return chart.type == "bar" and grouped and not chart.opt("grain") and not is_time(chart, columns, None)


def prepare(chart: Any, page: Any, where: Where, grain: str | None, min_group: int) -> Prepared | str:
    """The chart's rows and notes, or the sentence saying why it is omitted."""
    table, columns, time = page.table, page.columns, page.board.time
    dialect = context.dialect()
    if chart.only_if:
        ok = context.query(Sql(f"SELECT {portable(chart.only_if, dialect)} AS ok FROM {ident(table)}"))
        if not len(ok) or not bool(ok.iloc[0, 0]):
            return chart.omitted or "the data has nothing for it"
    frame = context.query(chart_query(chart, table, where, list(columns), dialect, grain, time))
    prepared = Prepared(frame, grain)
    if chart.type != "histogram" and chart.ys and not frame.empty:
        values = frame[[c for c in frame.columns if c.startswith("y") and c[1:].isdigit()]]
        if len(values.columns) and values.isna().all(axis=None):
            return "no values for the current filters"
    if frame.empty:
        return "no rows for the current filters"
    if chart.opt("x_order") and not grain:
        _fill_categories(prepared, chart)
    if compares_groups(chart, columns):
        _group_sizes(prepared, chart, page, where, min_group)
        if prepared.frame.empty:
            floor = (chart.opt("n") and chart.n.min) or min_group
            return f"every group has fewer than {floor:,} {prepared.sizes.of}: too few to rank"
    if chart.type in ("line", "area", "bar") and chart.opt("partial") and is_time(chart, columns, grain) \
            and chart.opt("compare") is None:
        _partial_periods(prepared, chart, page, where, grain)
    if chart.opt("compare") == "year_over_year" and time:
        _partial_years(prepared, page, where)
    if chart.opt("per_day"):
        from dashboards.labels import Labels

        prepared.notes.append("values are per day (each group's total divided by the days it covers)"
                              + _day_counts(prepared.frame, chart, Labels(columns, context.vocabulary())))
    if chart.type == "scatter" and len(frame) >= SCATTER_LIMIT:
        prepared.notes.append(f"a random sample of {SCATTER_LIMIT:,} rows")
    if chart.type == "heatmap":
        for axis in ("x", "y"):
            values = pd.to_numeric(frame[axis], errors="coerce")
            if values.notna().all() and (values % 1 == 0).all():
                gaps = sorted(set(range(int(values.min()), int(values.max()) + 1)) - set(values.astype(int)))
                if gaps:
                    prepared.notes.append(f"no rows with {getattr(chart, axis)} = "
                                          + ", ".join(map(str, gaps)) + " (shown as 0)")
    if chart.type == "histogram":
        unit = chart.of if chart.of != "rows" else page.board.rows_are
        prepared.notes.append(f"n = {len(frame):,} {unit}" + (" (first 200,000)" if len(frame) >= HIST_LIMIT else ""))
    return prepared


def _day_counts(frame: pd.DataFrame, chart: Any, labels: Any) -> str:
    """``; n = days: …`` — how many days the per-day values divide by, per colour group (the
    points of a time axis cover disjoint days, so a group's days are the sum over its points)."""
    if "days" not in frame.columns or frame.empty:
        return ""
    if chart.color and "color" in frame.columns:
        counts = frame.groupby("color", dropna=False)["days"].sum()
        return "; n = days: " + ", ".join(f"{labels.value(chart.color, key.item() if hasattr(key, 'item') else key)} {int(n):,}"
                                     for key, n in counts.items())
    return f"; n = days: {int(frame['days'].sum()):,}"


def _fill_categories(prepared: Prepared, chart: Any) -> None:
    """Categories the block lists but the data lacks are drawn as 0 and named in a note."""
    frame = prepared.frame
    present = set(frame["x"].astype(str))
    missing = [c for c in chart.x_order if c not in present]
    if missing and not chart.color and len(chart.ys) == 1:
        filler = pd.DataFrame({"x": missing, "y0": [0] * len(missing)})
        prepared.frame = pd.concat([frame, filler], ignore_index=True)
        prepared.notes.append("no rows in " + ", ".join(f"'{m}'" for m in missing) + " (drawn as 0)")


def _group_sizes(prepared: Prepared, chart: Any, page: Any, where: Where, min_group: int) -> None:
    from dashboards.schema import default_size

    sizes = chart.opt("n") or default_size(page.board)
    n = context.query(sizes_query(chart, sizes, page.table, where, list(page.columns), context.dialect()))
    frame = prepared.frame.merge(n, on="x", how="left")
    frame["n"] = frame["n"].fillna(0).astype("int64")
    floor = sizes.min or min_group
    below = sizes.below or ("hide" if chart.opt("top") else "grey")
    small = frame["n"] < floor
    prepared.sizes = sizes
    if small.any() and below == "hide":
        left_out = int(small.sum())
        frame = frame[~small]
        prepared.notes.append(f"{left_out:,} group{'s' if left_out > 1 else ''} with fewer than {floor:,} "
                              f"{sizes.of} left out of the ranking")
    elif small.any():
        prepared.notes.append(f"groups with fewer than {floor:,} {sizes.of} are greyed: too few to compare")
    frame["small"] = frame["n"] < floor
    if chart.opt("top"):
        frame = frame.head(chart.top) if chart.sort else frame.head(chart.top)
    prepared.frame = frame
    prepared.notes.insert(0, f"n = {sizes.of} per group")


def _period_end(start: dt.date, grain: str) -> dt.date:
    if grain in PERIOD_DAYS:
        return start + dt.timedelta(days=PERIOD_DAYS[grain] - 1)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    year, month = divmod(start.month - 1 + months, 12)
    return dt.date(start.year + year, month + 1, 1) - dt.timedelta(days=1)


def _partial_periods(prepared: Prepared, chart: Any, page: Any, where: Where, grain: str | None) -> None:
    """Mark the first/last period when the data starts after its first day or ends before its last."""
    period = grain or chart.opt("period")
    time = page.board.time
    if not period or not time:
        return
    bound = "max(\"as_of\")" if "as_of" in page.columns and chart.opt("period") else f"max({ident(time)})"
    got = context.query(Sql(f"SELECT min({ident(time)}) AS lo, {bound} AS hi FROM {ident(page.table)}")
                        + where.sql(list(page.columns)))
    if not len(got) or got.isna().any(axis=None):
        return
    lo, hi = pd.Timestamp(got.iloc[0, 0]).date(), pd.Timestamp(got.iloc[0, 1]).date()
    starts = sorted({pd.Timestamp(v).date() for v in prepared.frame["x"].dropna()})
    if not starts:
        return
    marks = []
    first, last = starts[0], starts[-1]
    if lo > first and not chart.opt("period"):
        marks.append((first, f"the first {period} (from {lo}) is partial"))
    end = _period_end(last, period)
    if hi < end:
        covered = (hi - last).days + 1
        total = (end - last).days + 1
        marks.append((last, f"the last {period} ({last} to {hi}: {covered} of {total} days) is partial"))
    prepared.partial = [pd.Timestamp(m) for m, _ in marks]
    for _, text in marks:
        prepared.notes.append(text + ", drawn hollow")


def _partial_years(prepared: Prepared, page: Any, where: Where) -> None:
    """Year-over-year lines: say which years the data covers only in part."""
    time = page.board.time
    got = context.query(Sql(f"SELECT min({ident(time)}) AS lo, max({ident(time)}) AS hi FROM {ident(page.table)}")
                        + where.sql(list(page.columns)))
    if not len(got) or got.isna().any(axis=None):
        return
    lo, hi = pd.Timestamp(got.iloc[0, 0]).date(), pd.Timestamp(got.iloc[0, 1]).date()
    if (lo.month, lo.day) != (1, 1):
        prepared.notes.append(f"{lo.year} starts on {lo} (a partial year)")
    if (hi.month, hi.day) != (12, 31):
        prepared.notes.append(f"{hi.year} ends on {hi} (a partial year; its last month is partial)")


def render_chart(chart: Any, page: Any, where: Where, key: str, min_group: int, omitted: list[str]) -> None:
    """Draw one chart (with its grain switch) in a bordered box, or record why it is omitted."""
    from dashboards.draw import build
    from dashboards.labels import Labels

    labels = Labels(page.columns, context.vocabulary())
    title = chart.title or f"{labels.axis(chart.ys[0] if chart.ys else chart.x)} by {labels.axis(chart.x)}"
    grain = None
    if chart.opt("grain"):
        state = st.session_state.get(f"{key}:grain")
        grain = state if state in chart.grain else chart.grain[0]
    got = prepare(chart, page, where, grain, min_group)
    if isinstance(got, str):
        omitted.append(f"*{title}* — {got}")
        return
    with st.container(border=True):
        st.markdown(f"**{title}**", help=chart.help)
        if chart.opt("grain"):
            st.segmented_control("Grain", chart.grain, default=chart.grain[0], key=f"{key}:grain",
                                 label_visibility="collapsed")
        drawn = build(chart, got, labels)
        st.altair_chart(drawn, width="stretch")
        notes = list(got.notes)
        dropped = getattr(drawn, "data", None) is not None and getattr(drawn.data, "attrs", {}).get("log_dropped")
        if dropped:
            notes.append(f"{dropped:,} rows with values too small for the log axis (below a millionth of the "
                         "largest, or under $0.01) are not drawn")
        if chart.opt("moving_average") and grain not in (None, "day"):
            notes.append("moving averages are drawn at day grain")
        if notes:
            st.caption("Note: " + "; ".join(notes) + ".")
