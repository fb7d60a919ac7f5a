"""The ``charts:`` entries of a dashboard block: one model per chart type, keyed by ``type``.

Why a discriminated union: each chart type takes only the options it can draw, so
``log_y`` on a histogram or ``bins`` on a line is an error at ``medallion validate`` naming the
key, not a silently ignored option. The honesty options (``n``, ``per_day``, ``panels``,
``partial``) live here so every page gets the same guards.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Format = Literal["text", "integer", "number", "money", "percent", "date", "datetime", "boolean"]
Grain = Literal["day", "week", "month", "quarter", "year"]
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
AVG_DAILY = re.compile(r"^avg_daily\((?P<inner>.+)\)$", re.S)


def is_column(expr: str) -> bool:
    """A bare identifier names a column (row-level); anything else is a SQL aggregate expression."""
    return bool(IDENT.match(expr.strip()))


class Strict(BaseModel):
    """Every dashboard model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_control_chars(cls, value: Any) -> Any:
        # \x1f marks parameters in dashboards.sql; keep it out of any configured text
        if isinstance(value, dict) and any(isinstance(v, str) and "\x1f" in v for v in value.values()):
            raise ValueError("control character \\x1f is not allowed")
        return value


class GroupSize(Strict):
    """How many of what stand behind each group of a comparison, and the smallest group worth reading."""

    count: str = Field("count(*)", description="SQL aggregate (or, for a row-per-group table, a column) "
                                               "giving each group's size")
    of: str = Field("rows", description="what is counted, for the labels: customers, orders, days ...")
    min: int | None = Field(None, ge=1, description="groups smaller than this are greyed (or hidden in a "
                                                    "top-N ranking); default: the vocabulary's min_group_size")
    below: Literal["grey", "hide"] | None = Field(None, description="what happens to a small group "
                                                                    "(default: hide in top-N, else grey)")


class _Chart(Strict):
    title: str | None = None
    help: str | None = Field(None, description="tooltip of the chart title")
    where: str | None = Field(None, description="SQL condition applied to this chart only")
    format: Format | None = Field(None, description="y format; default: the y column's format")
    y_title: str | None = Field(None, description="axis title of y (default: the y column's label)")
    x_title: str | None = Field(None, description="axis title of x (default: the x column's label)")
    width: Literal["half", "full"] = "half"
    only_if: str | None = Field(None, description="SQL aggregate over the whole table: the chart is drawn "
                                                  "only when true, else omitted with a note")
    omitted: str | None = Field(None, description="the note shown when only_if is false")

    @property
    def ys(self) -> list[str]:
        """y as a list (one element for a single series, none for a histogram)."""
        y = getattr(self, "y", None)
        return [] if y is None else [y] if isinstance(y, str) else list(y)

    def opt(self, name: str, default: Any = None) -> Any:
        """An option this chart type may not have (then ``default``)."""
        return getattr(self, name, default)


class _Series(_Chart):
    x: str = Field(description="a column (or, for bar/line, an expression)")
    y: str | list[str] = Field(description="a column (row by row), an aggregate (grouped by x and color), "
                                           "avg_daily(e), or a list of aggregates (one series each)")
    color: str | None = Field(None, description="column whose values are coloured series (legend shown)")
    colors: dict[str, str] | None = Field(None, description="colour per value of the color column (or series); "
                                                            "default: the vocabulary's colours")
    label: str | None = Field(None, description="column with a readable name for the ids in x")


class _Grouped(_Series):
    labels: list[str] | None = Field(None, description="legend names of the series when y is a list")
    sort: Literal["x", "-x", "y", "-y"] | None = None
    x_order: list[str] | None = Field(None, description="category order of x; categories with no rows show as 0")
    grain: list[Grain] | None = Field(None, description="a switch above a time series; the first is the default")
    per_day: bool = Field(False, description="divide each aggregate by the days it covers (the page's time "
                                             "column): calendar groups of unequal length compare fairly")
    partial: bool = Field(True, description="mark a first/last period the data does not fully cover")
    period: Grain | None = Field(None, description="x holds period starts at this grain (a monthly table): "
                                                   "used to mark partial periods")

    @model_validator(mode="after")
    def _series(self) -> "_Grouped":
        if isinstance(self.y, list) and (self.color or any(is_column(y) for y in self.y)):
            raise ValueError("a list of y values must be aggregates and takes no color (the series are colored)")
        if self.labels is not None and len(self.labels) != len(self.ys):
            raise ValueError("labels must name each y")
        if self.per_day and any(is_column(y) or AVG_DAILY.match(y) for y in self.ys):
            raise ValueError("per_day divides aggregates: y must be an aggregate such as sum(revenue)")
        return self


class LineChart(_Grouped):
    """Values over an ordered x (usually time); ``moving_average`` and ``compare`` for daily data."""

    type: Literal["line"]
    moving_average: list[int] | None = Field(None, description="windows in days (at day grain)")
    compare: Literal["year_over_year"] | None = Field(None, description="one line per year, by month")
    log_y: bool = False


class AreaChart(_Grouped):
    """Stacked areas: parts of a whole over time."""

    type: Literal["area"]


class BarChart(_Grouped):
    """Groups compared side by side; every group's size is shown (``n``) and small groups are guarded."""

    type: Literal["bar"]
    top: int | None = Field(None, ge=1, le=200, description="keep the first N after sorting (a ranking)")
    log_y: bool = False
    n: GroupSize | None = Field(None, description="group sizes shown on the axis labels (default: count(*) "
                                                  "of the page's rows_are)")
    panels: bool = Field(False, description="a list of y drawn in separate panels with their own axes "
                                            "(e.g. history next to a forecast)")


class ScatterChart(_Series):
    """One dot per row: two columns, optional size and colour (a legend whenever colour is used)."""

    type: Literal["scatter"]
    size: str | None = Field(None, description="column giving the dot size")
    log_x: bool = False
    log_y: bool = False

    @model_validator(mode="after")
    def _columns(self) -> "ScatterChart":
        if not (is_column(self.x) and isinstance(self.y, str) and is_column(self.y)):
            raise ValueError("a scatter plots columns: x and y must be column names")
        return self


class HistogramChart(_Chart):
    """The distribution of one column, with the number of rows it covers."""

    type: Literal["histogram"]
    x: str = Field(description="a column")
    bins: int = Field(30, ge=2, le=200)
    log_x: bool = False
    of: str = Field("rows", description="what one row is, for the caption (customers, items ...)")

    @model_validator(mode="after")
    def _column(self) -> "HistogramChart":
        if not is_column(self.x):
            raise ValueError("a histogram takes one column x")
        return self


class HeatmapChart(_Chart):
    """A grid of two columns; integer axes show every value between their min and max."""

    type: Literal["heatmap"]
    x: str
    y: str
    value: str = Field(description="cell aggregate, e.g. count(*)")


Chart = Annotated[Union[LineChart, AreaChart, BarChart, ScatterChart, HistogramChart, HeatmapChart],
                  Field(discriminator="type")]
CHART_MODELS = (LineChart, AreaChart, BarChart, ScatterChart, HistogramChart, HeatmapChart)
