"""Altair charts from prepared rows: readable labels, a legend whenever colour encodes a field,
group sizes on the labels, small groups greyed, partial periods hollow, log axes with ticks at
powers of ten (so they never read "$1, $0, $0").
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from dashboards.charts import Prepared, compares_groups, is_time
from dashboards.formatting import AXIS, TOOLTIP
from dashboards.labels import Labels

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
HEIGHT = 300
GREY = "#bdbdbd"
MAX_LEGEND = 10


def _axis(fmt: str | None, log: bool = False, values: list[float] | None = None) -> alt.Axis:
    if log:
        text = "$,~g" if fmt == "money" else ".0%" if fmt == "percent" else ",~g"
        return alt.Axis(format=text, values=values) if values else alt.Axis(format=text)
    return alt.Axis(format=AXIS[fmt]) if fmt in AXIS else alt.Axis()


def log_ticks(values: pd.Series) -> list[float]:
    """Powers of ten covering the positive values."""
    positive = pd.to_numeric(values, errors="coerce")
    positive = positive[positive > 0]
    if positive.empty:
        return []
    lo, hi = math.floor(math.log10(positive.min())), math.ceil(math.log10(positive.max()))
    return [10.0 ** k for k in range(lo, hi + 1)]


def _scale(log: bool) -> Any:
    return alt.Scale(type="log") if log else alt.Scale(zero=False)


def _palette(domain: list[str], colors: dict[str, str]) -> Any:
    if not colors:
        return alt.Undefined
    known = [c for c in colors if c in domain]  # the palette's own order (e.g. active, at risk, churned)
    if not known:
        return alt.Undefined
    rest = [d for d in domain if d not in colors]
    return alt.Scale(domain=known + rest, range=[colors[d] for d in known] + ["#7f7f7f"] * len(rest))


def _readable(frame: pd.DataFrame, chart: Any, labels: Labels) -> pd.DataFrame:
    frame = frame.copy()
    if "color" in frame:
        if pd.api.types.is_datetime64_any_dtype(frame["color"]):
            frame["color"] = frame["color"].dt.strftime("%Y-%m-%d")
        frame["color"] = [str(labels.value(chart.color, v)) for v in frame["color"]]
    return frame


def build(chart: Any, prepared: Prepared, labels: Labels) -> alt.Chart:
    """The Altair chart for a prepared result."""
    frame, grain = _readable(prepared.frame, chart, labels), prepared.grain
    fmt = chart.format or (labels.format(chart.ys[0]) if chart.ys else labels.format(chart.x))
    xtitle = chart.x_title or labels.axis(chart.x)
    ytitle = chart.y_title or (labels.axis(chart.ys[0]) if chart.ys else "Count")
    if chart.type == "histogram":
        return _histogram(chart, frame, fmt, xtitle)
    if chart.type == "heatmap":
        return _heatmap(chart, frame, labels, xtitle)
    if chart.opt("compare") == "year_over_year":
        frame = frame.assign(series=frame["series"].astype(str), x=frame["x"].map(lambda m: MONTHS[int(m) - 1]))
        return alt.Chart(frame).mark_line(point=True).encode(
            x=alt.X("x:O", title="Month", sort=MONTHS), y=alt.Y("y0:Q", title=ytitle, axis=_axis(fmt)),
            color=alt.Color("series:N", title="Year"),
            tooltip=["series", "x", alt.Tooltip("y0:Q", format=TOOLTIP.get(fmt or "", ""), title=ytitle)]
        ).properties(height=HEIGHT)
    if chart.type == "scatter":
        return _scatter(chart, frame, labels, fmt, xtitle, ytitle)
    if len(chart.ys) > 1:
        names = {f"y{i}": (chart.labels[i] if chart.labels else labels.axis(y)) for i, y in enumerate(chart.ys)}
        keep = [c for c in ("x", "n", "small", "label") if c in frame]
        frame = frame.rename(columns={k: f"v_{k}" for k in names}).melt(
            id_vars=keep, value_vars=[f"v_{k}" for k in names], var_name="series", value_name="y0")
        frame["series"] = frame["series"].str.removeprefix("v_")
        frame["series"] = frame["series"].map(names)
        if chart.opt("panels"):
            return _panels(chart, frame, labels, fmt, xtitle, list(names.values()))
    if chart.type == "bar":
        return _bar(chart, frame, labels, fmt, xtitle, ytitle, prepared)
    return _line(chart, frame, labels, fmt, xtitle, ytitle, prepared)


def _category(chart: Any, frame: pd.DataFrame, labels: Labels, prepared: Prepared) -> pd.DataFrame:
    """The x label of a group: readable value (or the mart's name for an id) and its size."""
    names = [str(v) for v in frame["label"]] if "label" in frame else [str(labels.value(chart.x, v)) for v in frame["x"]]
    if prepared.sizes is not None and "n" in frame:
        names = [f"{name} (n={int(n):,})" for name, n in zip(names, frame["n"])]
    return frame.assign(xl=pd.Series(names, index=frame.index, dtype=object))


def _bar(chart: Any, frame: pd.DataFrame, labels: Labels, fmt: str | None, xtitle: str, ytitle: str,
         prepared: Prepared) -> alt.Chart:
    columns = labels.columns
    timed = is_time(chart, columns, prepared.grain)
    tips = [alt.Tooltip("y0:Q", title=ytitle, format=TOOLTIP.get(fmt or "", ""))]
    if timed:
        frame = frame.assign(x=pd.to_datetime(frame["x"]))
        enc: dict[str, Any] = dict(x=alt.X("x:T", title=xtitle), y=alt.Y("y0:Q", title=ytitle, axis=_axis(fmt)))
        tips.insert(0, alt.Tooltip("x:T", title=xtitle))
        horizontal = False
    else:
        frame = _category(chart, frame, labels, prepared)
        order = list(dict.fromkeys(frame["xl"]))
        if chart.opt("x_order"):
            rank = {str(labels.value(chart.x, v)): i for i, v in enumerate(chart.x_order)}
            order = sorted(order, key=lambda s: rank.get(frame.loc[frame["xl"] == s, "x"].map(
                lambda v: str(labels.value(chart.x, v))).iloc[0], 999))
        elif chart.sort in ("-y", "y"):
            sums = frame.groupby("xl", sort=False)["y0"].sum()
            order = list(sums.sort_values(ascending=chart.sort == "y").index)
        horizontal = bool(chart.top) or frame["xl"].str.len().max() > 14
        axis = alt.Axis(labelLimit=260, labelOverlap=False) if horizontal else alt.Axis(labelAngle=0, labelLimit=180)
        cat = alt.X("xl:N", title=None if horizontal else xtitle, sort=order, axis=axis)
        val = alt.X("y0:Q", title=ytitle, axis=_axis(fmt, chart.log_y), scale=_scale(chart.log_y)) if horizontal \
            else alt.Y("y0:Q", title=ytitle, axis=_axis(fmt, chart.log_y), scale=_scale(chart.log_y))
        enc = dict(y=alt.Y("xl:N", title=None, sort=order, axis=axis), x=val) if horizontal else dict(x=cat, y=val)
        tips.insert(0, alt.Tooltip("xl:N", title=xtitle))
        if "label" in frame:
            tips.append(alt.Tooltip("x:N", title="ID"))
        if "n" in frame and prepared.sizes is not None:
            tips.append(alt.Tooltip("n:Q", title=f"n ({prepared.sizes.of})", format=","))
    if "series" in frame:
        enc["color"] = alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom"),
                                 scale=_palette(list(frame["series"].unique()), chart.colors or {}))
        enc["yOffset" if horizontal else "xOffset"] = "series:N"
        tips.append(alt.Tooltip("series:N", title="Series"))
    elif chart.color:
        domain = list(frame["color"].unique())
        same = chart.color == chart.x  # the axis already names each bar: no legend needed
        enc["color"] = alt.Color("color:N", title=labels.axis(chart.color), legend=None if same else alt.Legend(),
                                 scale=_palette(domain, labels.colors(chart.color, chart.colors)))
        tips.append(alt.Tooltip("color:N", title=labels.axis(chart.color)))
        if not timed and not same:
            enc["yOffset" if horizontal else "xOffset"] = "color:N"
    if "small" in frame and frame["small"].any() and "color" not in enc:
        enc["color"] = alt.condition("datum.small", alt.value(GREY), alt.value("#1f77b4"))
    elif "small" in frame and frame["small"].any():
        enc["opacity"] = alt.condition("datum.small", alt.value(0.3), alt.value(1.0))
    height = max(HEIGHT, 24 * frame["xl"].nunique()) if horizontal else HEIGHT
    return alt.Chart(frame).mark_bar().encode(**enc, tooltip=tips).properties(height=height)


def _panels(chart: Any, frame: pd.DataFrame, labels: Labels, fmt: str | None, xtitle: str,
            names: list[str]) -> alt.Chart:
    """One panel per series, each with its own axis: history and forecast are not one scale."""
    frame = frame.assign(xl=frame["x"].map(lambda v: str(labels.value(chart.x, v))))
    order = [str(labels.value(chart.x, v)) for v in chart.x_order] if chart.opt("x_order") else None
    if "n" in frame:
        sizes = dict(zip(frame["xl"], frame["n"]))
        frame["xl"] = frame["xl"] + " (n=" + frame["xl"].map(lambda s: f"{int(sizes[s]):,}") + ")"
        order = [o + f" (n={int(sizes[o]):,})" for o in order if o in sizes] if order else None
    parts = []
    for i, name in enumerate(names):
        part = frame[frame["series"] == name]
        parts.append(alt.Chart(part, title=name).mark_bar(color=["#5b7aa8", "#e08a2c"][i % 2]).encode(
            x=alt.X("xl:N", title=xtitle, sort=order, axis=alt.Axis(labelAngle=0, labelLimit=160,
                                                                    labelOverlap=False)),
            y=alt.Y("y0:Q", title=name, axis=_axis(fmt)),
            tooltip=[alt.Tooltip("xl:N", title=xtitle), alt.Tooltip("y0:Q", title=name,
                                                                     format=TOOLTIP.get(fmt or "", ""))]
        ).properties(height=HEIGHT - 40, width=340))
    return alt.hconcat(*parts).resolve_scale(y="independent")


def _line(chart: Any, frame: pd.DataFrame, labels: Labels, fmt: str | None, xtitle: str, ytitle: str,
          prepared: Prepared) -> alt.Chart:
    timed = is_time(chart, labels.columns, prepared.grain)
    x_type = "T" if timed else ("Q" if pd.api.types.is_numeric_dtype(frame["x"]) else "O")
    if timed:
        frame = frame.assign(x=pd.to_datetime(frame["x"]))
    frame = frame.assign(partial=frame["x"].isin(prepared.partial) if prepared.partial else False)
    xaxis = alt.Axis(format="%b %Y", labelAngle=0) if timed and (prepared.grain in ("month", "quarter", "year")
                                                                 or chart.opt("period")) else alt.Undefined
    tips = [alt.Tooltip("x", title=xtitle, type=x_type.replace("O", "N").replace("T", "temporal")
                        .replace("Q", "quantitative").replace("N", "nominal")),
            alt.Tooltip("y0:Q", title=ytitle, format=TOOLTIP.get(fmt or "", "")),
            alt.Tooltip("partial:N", title="Partial period")]
    enc: dict[str, Any] = dict(x=alt.X(f"x:{x_type}", title=xtitle, axis=xaxis),
                               y=alt.Y("y0:Q", title=ytitle, axis=_axis(fmt, chart.opt("log_y", False)),
                                       stack=True if chart.type == "area" else None,
                                       scale=_scale(chart.opt("log_y", False)) if chart.opt("log_y") else alt.Undefined))
    if "series" in frame:
        enc["color"] = alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom"))
    elif chart.color:
        domain = sorted(frame["color"].unique())
        enc["color"] = alt.Color("color:N", title=labels.axis(chart.color),
                                 scale=_palette(domain, labels.colors(chart.color, chart.colors)),
                                 legend=alt.Legend(orient="bottom"))
        tips.append(alt.Tooltip("color:N", title=labels.axis(chart.color)))
    base = alt.Chart(frame)
    mark = base.mark_area(opacity=0.75) if chart.type == "area" else base.mark_line()
    layers = [mark.encode(**enc, tooltip=tips)]
    if prepared.partial:  # hollow points on the partial periods
        layers.append(base.transform_filter("datum.partial").mark_point(filled=False, size=90, color="#444")
                      .encode(x=enc["x"], y=alt.Y("y0:Q", stack=True if chart.type == "area" else None),
                              tooltip=tips))
    ma = chart.opt("moving_average")
    if ma and prepared.grain in (None, "day") and "series" not in frame and not chart.color:
        layers[0] = mark.encode(**enc, tooltip=tips).mark_line(opacity=0.35)
        layers.append(alt.Chart(_moving_averages(frame, ma)).mark_line(strokeWidth=2).encode(
            x=alt.X(f"x:{x_type}"), y=alt.Y("v:Q"), color=alt.Color("window:N", title="Moving average"),
            tooltip=[alt.Tooltip("x", title=xtitle), "window", alt.Tooltip("v:Q", format=TOOLTIP.get(fmt or "", ""),
                                                                          title=ytitle)]))
    return alt.layer(*layers).properties(height=HEIGHT).interactive(bind_y=False)


def _scatter(chart: Any, frame: pd.DataFrame, labels: Labels, fmt: str | None, xtitle: str,
             ytitle: str) -> alt.Chart:
    dropped = 0
    for axis_col, log, col_fmt in (("x", chart.log_x, labels.format(chart.x)), ("y0", chart.log_y, fmt)):
        if log:
            values = pd.to_numeric(frame[axis_col], errors="coerce")
            floor = 0.01 if col_fmt == "money" else max(float(values[values > 0].min() or 0), values.max() / 1e6)
            keep = values >= floor
            dropped += int((~keep).sum())
            frame = frame[keep]
    if dropped:
        frame.attrs["log_dropped"] = dropped
    tips = [alt.Tooltip("x:Q", title=xtitle, format=TOOLTIP.get(labels.format(chart.x) or "", "")),
            alt.Tooltip("y0:Q", title=ytitle, format=TOOLTIP.get(fmt or "", ""))]
    enc: dict[str, Any] = dict(
        x=alt.X("x:Q", title=xtitle + (" (log scale)" if chart.log_x else ""), scale=_scale(chart.log_x),
                axis=_axis(labels.format(chart.x), chart.log_x, log_ticks(frame["x"]) if chart.log_x else None)),
        y=alt.Y("y0:Q", title=ytitle + (" (log scale)" if chart.log_y else ""), scale=_scale(chart.log_y),
                axis=_axis(fmt, chart.log_y, log_ticks(frame["y0"]) if chart.log_y else None)))
    if chart.color:
        counts = frame["color"].value_counts()
        if len(counts) > MAX_LEGEND:  # keep the legend readable: the largest groups, the rest as Other
            keep = set(counts.index[:MAX_LEGEND - 1])
            frame = frame.assign(color=frame["color"].where(frame["color"].isin(keep), "Other"))
        domain = list(dict.fromkeys(frame["color"]))
        enc["color"] = alt.Color("color:N", title=labels.axis(chart.color),
                                 scale=_palette(domain, labels.colors(chart.color, chart.colors)))
        tips.append(alt.Tooltip("color:N", title=labels.axis(chart.color)))
    if chart.size:
        enc["size"] = alt.Size("size:Q", title=labels.axis(chart.size),
                               legend=alt.Legend(format=AXIS.get(labels.format(chart.size) or "", "")))
        tips.append(alt.Tooltip("size:Q", title=labels.axis(chart.size), format=","))
    return alt.Chart(frame).mark_circle(opacity=0.55, size=28).encode(**enc, tooltip=tips).properties(
        height=HEIGHT).interactive()


def _heatmap(chart: Any, frame: pd.DataFrame, labels: Labels, xtitle: str) -> alt.Chart:
    """Integer axes get every value between their min and max (an empty column is shown, as 0)."""
    axes = {}
    for col in ("x", "y"):
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.notna().all() and (values % 1 == 0).all():
            axes[col] = list(range(int(values.min()), int(values.max()) + 1))
        else:
            axes[col] = list(dict.fromkeys(frame[col]))
    full = pd.MultiIndex.from_product([axes["x"], axes["y"]], names=["x", "y"]).to_frame(index=False)
    frame = full.merge(frame.assign(x=frame["x"].astype(type(axes["x"][0])) if axes["x"] else frame["x"],
                                    y=frame["y"].astype(type(axes["y"][0])) if axes["y"] else frame["y"]),
                       on=["x", "y"], how="left").fillna({"v": 0})
    base = alt.Chart(frame).encode(x=alt.X("x:O", title=xtitle, axis=alt.Axis(labelAngle=0)),
                                   y=alt.Y("y:O", title=labels.axis(chart.y), sort="descending"))
    cells = base.mark_rect().encode(color=alt.Color("v:Q", title=labels.axis(chart.value),
                                                    scale=alt.Scale(scheme="blues")),
                                    tooltip=[alt.Tooltip("x:O", title=xtitle), alt.Tooltip("y:O", title=labels.axis(chart.y)),
                                             alt.Tooltip("v:Q", format=",", title=labels.axis(chart.value))])
    text = base.mark_text(fontSize=10).encode(text=alt.Text("v:Q", format=",.0f"),
                                              color=alt.condition("datum.v > 0", alt.value("#222"), alt.value("#999")))
    return alt.layer(cells, text).properties(height=HEIGHT)


def _moving_averages(frame: pd.DataFrame, windows: list[int]) -> pd.DataFrame:
    series = frame.sort_values("x").set_index("x")["y0"].astype(float)
    if pd.api.types.is_datetime64_any_dtype(series.index):  # fill missing days with 0 first
        series = series.asfreq("D", fill_value=0.0)
    parts = [pd.DataFrame({"x": series.index, "v": series.rolling(w, min_periods=w).mean().to_numpy(),
                           "window": f"{w}-day"}) for w in windows]
    return pd.concat(parts).dropna()


def _histogram(chart: Any, frame: pd.DataFrame, fmt: str | None, title: str) -> alt.Chart:
    values = pd.to_numeric(frame["x"], errors="coerce").dropna().to_numpy(dtype=float)
    if chart.log_x and (values > 0).any():
        values = values[values > 0]
        edges = np.unique(np.geomspace(values.min(), values.max(), chart.bins + 1))
    else:
        edges = np.histogram_bin_edges(values, bins=chart.bins)
    counts, edges = np.histogram(values, bins=edges)
    data = pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "count": counts})
    ticks = log_ticks(pd.Series(values)) if chart.log_x else None
    return alt.Chart(data).mark_rect(stroke="white", strokeWidth=0.5, color="#1f77b4").encode(
        x=alt.X("lo:Q", title=title + (" (log scale)" if chart.log_x else ""),
                scale=alt.Scale(type="log") if chart.log_x else alt.Scale(), axis=_axis(fmt, chart.log_x, ticks)),
        x2="hi:Q", y=alt.Y("count:Q", title="Count"), y2=alt.Y2(datum=0),
        tooltip=[alt.Tooltip("lo:Q", title="from", format=TOOLTIP.get(fmt or "", "")),
                 alt.Tooltip("hi:Q", title="to", format=TOOLTIP.get(fmt or "", "")),
                 alt.Tooltip("count:Q", format=",")]).properties(height=HEIGHT)
