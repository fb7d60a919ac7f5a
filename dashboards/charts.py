"""One Altair chart per ``charts:`` entry: the query it needs and how it is drawn.

Why queries per chart: the warehouse aggregates (a daily table of years rolls up to weeks in
SQL), so the browser only receives what it draws. ``y`` decides the query: a column is plotted
row by row, an aggregate is grouped by x (and color), ``avg_daily(e)`` averages the daily
``sum(e)`` per x (uplift charts), and a list of aggregates draws one series each.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.filters import Where
from dashboards.formatting import AXIS, TOOLTIP, expr_format, humanize
from dashboards.schema import AVG_DAILY, Chart, is_column
from dashboards.sql import Sql, ident, portable, trunc

ROW_LIMIT = 5000
SCATTER_LIMIT = 3000
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
HIST_LIMIT = 200_000
HEIGHT = 300


def _x(chart: Chart, grain: str | None) -> str:
    return trunc(grain, chart.x) if grain else (ident(chart.x) if is_column(chart.x) else chart.x)


def chart_query(chart: Chart, table: str, where: Where, columns: list[str], dialect: str,
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
    if chart.compare == "year_over_year":
        col = ident(chart.x)
        return (f"SELECT CAST(extract(year FROM {col}) AS INTEGER) AS series, "
                f"CAST(extract(month FROM {col}) AS INTEGER) AS x, {portable(ys[0], dialect)} AS y0"
                + src + cond + " GROUP BY 1, 2 ORDER BY 1, 2")
    color = f", {ident(chart.color)} AS color" if chart.color else ""
    size = f", {ident(chart.size)} AS size" if chart.size else ""
    daily = AVG_DAILY.match(ys[0]) if len(ys) == 1 else None
    if daily:
        if not time:
            raise ValueError("avg_daily(...) needs the page's `time:` column")
        inner = (f"SELECT {ident(time)} AS t, {_x(chart, grain)} AS x{color}, "
                 f"sum({portable(daily.group('inner'), dialect)}) AS v" + src + cond
                 + " GROUP BY 1, 2" + (", 3" if chart.color else ""))
        sql = Sql("SELECT x" + (", color" if chart.color else "") + ", avg(v) AS y0 FROM (") + inner + \
            ") d GROUP BY x" + (", color" if chart.color else "")
    elif len(ys) == 1 and is_column(ys[0]):
        sql = (f"SELECT {_x(chart, grain)} AS x, {ident(ys[0])} AS y0{color}{size}" + src + cond)
    else:
        aggs = ", ".join(f"{portable(y, dialect)} AS y{i}" for i, y in enumerate(ys))
        sql = (f"SELECT {_x(chart, grain)} AS x{color}, {aggs}" + src + cond
               + " GROUP BY 1" + (", 2" if chart.color else ""))
    order = {"x": "x", "-x": "x DESC", "y": "y0", "-y": "y0 DESC"}.get(chart.sort or "")
    if chart.type in ("line", "area") and not order:
        order = "x"
    if chart.type == "scatter" and not order:
        order = "random()"
    limit = chart.top or (SCATTER_LIMIT if chart.type == "scatter" else
                          ROW_LIMIT if len(ys) == 1 and is_column(ys[0]) else None)
    return sql + (f" ORDER BY {order}" if order else "") + (f" LIMIT {limit}" if limit else "")


def _and(cond: Sql, text: str) -> str:
    return (" AND " if cond.text else " WHERE ") + text


def render_chart(chart: Chart, table: str, where: Where, columns: dict[str, Any], key: str,
                 time: str | None = None) -> None:
    """Draw one chart (with its grain switch) inside the current container."""
    title = chart.title or f"{humanize(chart.ys[0] if chart.ys else chart.x)} by {humanize(chart.x)}"
    st.markdown(f"**{title}**", help=chart.help)
    grain = None
    if chart.grain:
        grain = st.segmented_control("Grain", chart.grain, default=chart.grain[0], key=f"{key}:grain",
                                     label_visibility="collapsed") or chart.grain[0]
    frame = context.query(chart_query(chart, table, where, list(columns), context.dialect(), grain, time))
    if frame.empty:
        st.info("No rows for the current filters.")
        return
    fmt = chart.format or (expr_format(chart.ys[0], columns) if chart.ys else None)
    if chart.type == "histogram":
        fmt = chart.format or expr_format(chart.x, columns)
    st.altair_chart(build(chart, frame, fmt, columns, grain), width="stretch")
    notes = []
    if chart.moving_average and grain not in (None, "day"):
        notes.append("moving averages are drawn at day grain")
    if grain:
        notes.append(f"the first and last {grain} may be partial")
    if chart.type == "scatter" and len(frame) >= SCATTER_LIMIT:
        notes.append(f"a random sample of {SCATTER_LIMIT:,} rows")
    if notes:
        st.caption("Note: " + "; ".join(notes) + ".")


def build(chart: Chart, frame: pd.DataFrame, fmt: str | None, columns: dict[str, Any],
          grain: str | None) -> alt.Chart:
    """The Altair chart for a query result."""
    xtitle = humanize(chart.x)
    ytitle = chart.y_title or (humanize(chart.ys[0]) if chart.ys else "Count")
    yaxis = alt.Axis(format=AXIS[fmt]) if fmt in AXIS else alt.Axis()
    ytip = TOOLTIP.get(fmt or "", "")
    frame = _readable(frame)
    if chart.type == "histogram":
        return _histogram(chart, frame, fmt)
    if chart.type == "heatmap":
        return alt.Chart(frame).mark_rect().encode(
            x=alt.X("x:O", title=xtitle, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("y:O", title=humanize(chart.y), sort="descending"),
            color=alt.Color("v:Q", title=humanize(chart.value), scale=alt.Scale(scheme="blues")),
            tooltip=["x", "y", alt.Tooltip("v:Q", format=",")]).properties(height=HEIGHT)
    if chart.compare == "year_over_year":
        frame = frame.assign(series=frame["series"].astype(str), x=frame["x"].map(lambda m: MONTHS[int(m) - 1]))
        return alt.Chart(frame).mark_line(point=True).encode(
            x=alt.X("x:O", title="Month", sort=MONTHS), y=alt.Y("y0:Q", title=ytitle, axis=yaxis),
            color=alt.Color("series:N", title="Year"),
            tooltip=["series", "x", alt.Tooltip("y0:Q", format=ytip, title=ytitle)]).properties(height=HEIGHT)
    if len(chart.ys) > 1:
        names = {f"y{i}": (chart.labels[i] if chart.labels else humanize(y)) for i, y in enumerate(chart.ys)}
        frame = frame.melt(id_vars=["x"], value_vars=list(names), var_name="series", value_name="value")
        frame = frame.rename(columns={"value": "y0"})
        frame["series"] = frame["series"].map(names)
    x_type = _x_type(chart, frame, columns, grain)
    if x_type == "T":
        frame["x"] = pd.to_datetime(frame["x"])
    color = alt.Color("series:N" if "series" in frame else "color:N", title="" if "series" in frame
                      else humanize(chart.color or ""), scale=_palette(chart)) \
        if ("series" in frame or chart.color) else alt.Undefined
    tips = [alt.Tooltip("x", title=xtitle), alt.Tooltip("y0:Q", title=ytitle, format=ytip)]
    if chart.color:
        tips.append(alt.Tooltip("color", title=humanize(chart.color)))
    if chart.type == "scatter":
        if chart.log_x:
            frame = frame[pd.to_numeric(frame["x"], errors="coerce") > 0]
        if chart.log_y:
            frame = frame[pd.to_numeric(frame["y0"], errors="coerce") > 0]
        if chart.color and frame["color"].nunique() > 12:  # a legend taller than the chart helps nobody
            color = alt.Color("color:N", legend=None, scale=_palette(chart))
        enc: dict[str, Any] = dict(
            x=alt.X("x:Q", title=xtitle + (" (log scale)" if chart.log_x else ""),
                    axis=_axis(expr_format(chart.x, columns), chart.log_x), scale=_scale(chart.log_x)),
            y=alt.Y("y0:Q", title=ytitle + (" (log scale)" if chart.log_y else ""), axis=_axis(fmt, chart.log_y),
                    scale=_scale(chart.log_y)), tooltip=tips, color=color)
        if chart.size:
            enc["size"] = alt.Size("size:Q", title=humanize(chart.size), legend=None)
        return alt.Chart(frame).mark_circle(opacity=0.55, size=28).encode(**enc).properties(
            height=HEIGHT).interactive()
    if chart.type == "bar":
        horizontal = x_type == "N" and (chart.top or frame["x"].astype(str).str.len().max() > 12)
        order: Any = "-x" if chart.sort == "-y" else "x" if chart.sort == "y" else None
        if horizontal:
            enc = dict(y=alt.Y("x:N", title=None, sort=order or "ascending",
                               axis=alt.Axis(labelLimit=220, labelOverlap=False)),
                       x=alt.X("y0:Q", title=ytitle, axis=yaxis))
            height = max(HEIGHT, 24 * frame["x"].nunique())
        else:
            sort = chart.x_order or (order.replace("x", "y") if order else alt.Undefined)
            short = frame["x"].astype(str).str.len().max() <= 12
            enc = dict(x=alt.X(f"x:{x_type}", title=xtitle, sort=sort,
                               axis=alt.Axis(labelAngle=0) if short and x_type in ("N", "O") else alt.Undefined),
                       y=alt.Y("y0:Q", title=ytitle, axis=yaxis))
            height = HEIGHT
        if color is not alt.Undefined:
            enc["color"] = color
            if "series" in frame:
                enc["yOffset" if horizontal else "xOffset"] = "series:N"
        return alt.Chart(frame).mark_bar().encode(**enc, tooltip=tips).properties(height=height)
    mark = alt.Chart(frame).mark_area(opacity=0.7) if chart.type == "area" else alt.Chart(frame).mark_line()
    xaxis = alt.Axis(format="%b %Y", labelAngle=0) if x_type == "T" and grain in ("month", "quarter", "year") \
        else alt.Undefined
    enc = dict(x=alt.X(f"x:{x_type}", title=xtitle, axis=xaxis), y=alt.Y("y0:Q", title=ytitle, axis=yaxis,
                                                              stack=True if chart.type == "area" else None),
               tooltip=tips)
    if color is not alt.Undefined:
        enc["color"] = color
    layers = [mark.encode(**enc)]
    if chart.moving_average and grain in (None, "day") and "series" not in frame and not chart.color:
        layers[0] = mark.encode(**enc).mark_line(opacity=0.35)
        ma = _moving_averages(frame, chart.moving_average)
        layers.append(alt.Chart(ma).mark_line(strokeWidth=2).encode(
            x=alt.X(f"x:{x_type}"), y=alt.Y("v:Q"), color=alt.Color("window:N", title="Moving average"),
            tooltip=[alt.Tooltip("x", title=xtitle), "window", alt.Tooltip("v:Q", format=ytip, title=ytitle)]))
    return alt.layer(*layers).properties(height=HEIGHT).interactive(bind_y=False)


def _scale(log: bool) -> Any:
    return alt.Scale(type="log") if log else alt.Scale(zero=False)


def _palette(chart: Chart) -> Any:
    """The block's value -> color map, if it gives one (e.g. a status read red/amber/green)."""
    if not chart.colors:
        return alt.Undefined
    return alt.Scale(domain=list(chart.colors), range=list(chart.colors.values()))


def _axis(fmt: str | None, log: bool = False) -> alt.Axis:
    if log and fmt in ("money", "number", "integer"):
        return alt.Axis(format="$,.2~f" if fmt == "money" else ",.2~f")  # ticks below 1 stay readable
    return alt.Axis(format=AXIS[fmt]) if fmt in AXIS else alt.Axis()


def _x_type(chart: Chart, frame: pd.DataFrame, columns: dict[str, Any], grain: str | None) -> str:
    if grain or pd.api.types.is_datetime64_any_dtype(frame["x"]):
        return "T"
    fmt = expr_format(chart.x, columns)
    if fmt in ("date", "datetime"):
        return "T"
    if chart.type in ("line", "area") and pd.api.types.is_numeric_dtype(frame["x"]):
        return "Q"
    return "N" if frame["x"].dtype == object or fmt in ("text", "boolean") else "O"


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Booleans read Yes/No, nulls '(none)', dates YYYY-MM-DD on category axes and legends."""
    if "color" in frame and pd.api.types.is_datetime64_any_dtype(frame["color"]):
        frame["color"] = frame["color"].dt.strftime("%Y-%m-%d")
    for col in ("x", "color"):
        if col in frame and (frame[col].dtype == bool or frame[col].dtype == object):
            frame[col] = frame[col].map(lambda v: "(none)" if v is None or v is pd.NA else
                                        ("Yes" if v is True else "No" if v is False else v))
    return frame


def _moving_averages(frame: pd.DataFrame, windows: list[int]) -> pd.DataFrame:
    series = frame.sort_values("x").set_index("x")["y0"].astype(float)
    if pd.api.types.is_datetime64_any_dtype(series.index):  # fill missing days with 0 first
        series = series.asfreq("D", fill_value=0.0)
    parts = [pd.DataFrame({"x": series.index, "v": series.rolling(w, min_periods=w).mean().to_numpy(),
                           "window": f"{w}-day"}) for w in windows]
    return pd.concat(parts).dropna()


def _histogram(chart: Chart, frame: pd.DataFrame, fmt: str | None) -> alt.Chart:
    values = pd.to_numeric(frame["x"], errors="coerce").dropna().to_numpy(dtype=float)
    title = humanize(chart.x)
    if chart.log_x and (values > 0).any():
        values = values[values > 0]
        edges = np.unique(np.geomspace(values.min(), values.max(), chart.bins + 1))
    else:
        edges = np.histogram_bin_edges(values, bins=chart.bins)
    counts, edges = np.histogram(values, bins=edges)
    data = pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "count": counts})
    scale = alt.Scale(type="log") if chart.log_x else alt.Scale()
    return alt.Chart(data).mark_rect(stroke="white", strokeWidth=0.5, color="#1f77b4").encode(
        x=alt.X("lo:Q", title=title + (" (log scale)" if chart.log_x else ""), scale=scale,
                axis=_axis(fmt, chart.log_x)),
        x2="hi:Q", y=alt.Y("count:Q", title="Count"), y2=alt.Y2(datum=0),
        tooltip=[alt.Tooltip("lo:Q", title="from", format=TOOLTIP.get(fmt or "", "")),
                 alt.Tooltip("hi:Q", title="to", format=TOOLTIP.get(fmt or "", "")),
                 alt.Tooltip("count:Q", format=",")]).properties(height=HEIGHT)
