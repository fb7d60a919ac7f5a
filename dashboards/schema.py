"""The ``dashboard:`` block of a spec, as pydantic models (``extra="forbid"``).

Why models: a typo in a YAML key (``tilte:``) must be an error naming the key and the allowed
ones, not a silently missing chart. ``check_columns`` adds the cross-check pydantic cannot do:
every plain column a block names must be a documented column of the spec.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Format = Literal["text", "integer", "number", "money", "percent", "date", "datetime", "boolean"]
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
AVG_DAILY = re.compile(r"^avg_daily\((?P<inner>.+)\)$", re.S)


def is_column(expr: str) -> bool:
    """A bare identifier names a column (row-level); anything else is a SQL aggregate expression."""
    return bool(IDENT.match(expr.strip()))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_control_chars(cls, value: Any) -> Any:
        # \x1f marks parameters in dashboards.sql; keep it out of any configured text
        if isinstance(value, dict) and any(isinstance(v, str) and "\x1f" in v for v in value.values()):
            raise ValueError("control character \\x1f is not allowed")
        return value


class Kpi(_Model):
    """One headline number: a SQL aggregate over the (filtered) table."""

    label: str
    value: str = Field(description="SQL aggregate, e.g. sum(amount)")
    format: Format | None = None
    help: str | None = None
    delta: str | None = Field(None, description="'previous_period' (needs the page's time column and a "
                                                "date-range filter) or a SQL aggregate giving the delta")
    delta_format: Format | None = None
    delta_color: Literal["normal", "inverse", "off"] = "normal"


class Chart(_Model):
    """One Altair chart. ``y`` is a column (row-level), an aggregate, ``avg_daily(expr)`` or a list."""

    type: Literal["line", "bar", "area", "scatter", "histogram", "heatmap"]
    x: str
    y: str | list[str] | None = None
    value: str | None = Field(None, description="heatmap cell aggregate, e.g. count(*)")
    color: str | None = None
    size: str | None = None
    title: str | None = None
    where: str | None = Field(None, description="SQL condition applied to this chart only")
    sort: Literal["x", "-x", "y", "-y"] | None = None
    x_order: list[str] | None = Field(None, description="category order of x, e.g. weekday names")
    labels: list[str] | None = Field(None, description="legend names of the series when y is a list")
    colors: dict[str, str] | None = Field(None, description="color per value of the color column (or series)")
    top: int | None = Field(None, ge=1, le=200)
    grain: list[Literal["day", "week", "month", "quarter", "year"]] | None = None
    moving_average: list[int] | None = Field(None, description="windows in periods of the finest grain")
    compare: Literal["year_over_year"] | None = None
    log_x: bool = False
    log_y: bool = False
    bins: int = Field(30, ge=2, le=200)
    format: Format | None = Field(None, description="y format; default: the y column's format")
    y_title: str | None = Field(None, description="axis title of y (default: from the y expression)")
    help: str | None = None
    width: Literal["half", "full"] = "half"

    @model_validator(mode="after")
    def _fields_for_type(self) -> "Chart":
        if self.type in ("line", "bar", "area", "scatter") and not self.y:
            raise ValueError(f"a {self.type} chart needs y")
        if self.type == "heatmap" and not (self.y and self.value):
            raise ValueError("a heatmap needs y and value")
        if self.type == "histogram" and (self.y or not is_column(self.x)):
            raise ValueError("a histogram takes one column x and no y")
        if self.type == "scatter" and not (is_column(self.x) and isinstance(self.y, str) and is_column(self.y)):
            raise ValueError("a scatter plots columns: x and y must be column names")
        if self.log_y and self.type not in ("scatter", "line", "bar"):
            raise ValueError("log_y is for scatter, line and bar charts")
        if (self.grain or self.compare or self.moving_average) and self.type not in ("line", "area", "bar"):
            raise ValueError("grain, compare and moving_average are for line, area and bar charts")
        if isinstance(self.y, list) and (self.color or any(is_column(y) for y in self.y)):
            raise ValueError("a list of y values must be aggregates and takes no color (the series are colored)")
        if self.labels is not None and len(self.labels) != len(self.ys):
            raise ValueError("labels must name each y")
        return self

    @property
    def ys(self) -> list[str]:
        """y as a list (one element for a single series)."""
        return [] if self.y is None else [self.y] if isinstance(self.y, str) else list(self.y)


class Filter(_Model):
    """A sidebar filter on a column; the widget follows the column's format unless ``kind`` says."""

    column: str
    label: str | None = None
    kind: Literal["auto", "date_range", "multiselect", "boolean", "range"] = "auto"

    @field_validator("column")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not is_column(value):
            raise ValueError(f"filter column '{value}' must be a column name")
        return value


class Table(_Model):
    """The detail table: sortable in the browser, downloadable as CSV."""

    sort: str | list[str] | None = Field(None, description="column or list; '-' prefix = descending")
    columns: list[str] | None = None
    first: str | None = Field(None, description="SQL condition: matching rows are listed first")
    limit: int = Field(1000, ge=1, le=100_000)
    title: str | None = None

    @property
    def sort_keys(self) -> list[tuple[str, bool]]:
        """[(column, descending)]."""
        keys = [] if self.sort is None else [self.sort] if isinstance(self.sort, str) else self.sort
        return [(k[1:], True) if k.startswith("-") else (k, False) for k in keys]


class _Block(_Model):
    at: Literal["top", "bottom"] | None = Field(None, description="where on the page (default by type)")


class Note(_Block):
    """Text, optionally with one aggregate: ``text: "{value} rows need attention"``."""

    type: Literal["note"]
    text: str
    value: str | None = None
    format: Format | None = None
    level: Literal["info", "warning", "success", "plain"] = "info"


class SignalCheck(_Block):
    """A yes/no fact about the data, stated plainly: ``condition`` is a boolean SQL aggregate."""

    type: Literal["signal_check"]
    label: str
    condition: str
    when_true: str
    when_false: str


class ModelReport(_Block):
    """A fitted model's report from the latest run record, and an optional evaluation artefact."""

    type: Literal["model_report"]
    kind: str = Field(description="artefact kind in the spec's run record, e.g. clv_model")
    title: str = "Model"
    evaluation: str | None = Field(None, description="name of a RunStore artefact with the evaluation")
    evaluate_command: str | None = Field(None, description="command that produces the evaluation")


Block = Annotated[Union[Note, SignalCheck, ModelReport], Field(discriminator="type")]


class Definition(_Model):
    """Where the page's metric definitions are written: a Markdown file and a heading in it."""

    doc: str = "docs/metrics.md"
    heading: str | None = Field(None, description="text in the heading (default: the table name)")


class Dashboard(_Model):
    """A page: title, KPIs, charts, extra blocks, filters, a table and its definitions."""

    title: str
    description: str | None = None
    order: int | None = Field(None, description="position in the navigation (default: file order)")
    icon: str | None = None
    part_of: str | None = Field(None, description="render as a section of another spec's page")
    time: str | None = Field(None, description="the page's time column (date filter default, "
                                               "previous_period deltas, avg_daily)")
    kpis: list[Kpi] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)
    filters: list[Union[str, Filter]] = Field(default_factory=list)
    table: Table | None = Field(default_factory=Table)
    definition: Definition = Field(default_factory=Definition)

    @property
    def filter_list(self) -> list[Filter]:
        """Filters as models (a bare column name is a filter with defaults)."""
        return [Filter(column=f) if isinstance(f, str) else f for f in self.filters]


def parse_dashboard(raw: dict[str, Any], where: str) -> Dashboard:
    """Validate a raw ``dashboard:`` dict; errors name the file and the key path, one per line."""
    try:
        return Dashboard.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown key '{err['loc'][-1]}'"
            lines.append(f"{where}: dashboard.{path}: {message}")
        raise DashboardError("\n".join(lines)) from None


class DashboardError(ValueError):
    """A dashboard block that cannot be rendered, with a message fit for the page."""


def referenced_columns(board: Dashboard) -> list[tuple[str, str]]:
    """(key path, column) for every plain column the block names, for the documented-columns check."""
    out: list[tuple[str, str]] = []
    for i, chart in enumerate(board.charts):
        for key in ("x", "color", "size"):
            value = getattr(chart, key)
            if value and is_column(value):
                out.append((f"charts.{i}.{key}", value))
        for y in chart.ys:
            if is_column(y):
                out.append((f"charts.{i}.y", y))
    for i, f in enumerate(board.filter_list):
        out.append((f"filters.{i}", f.column))
    if board.table:
        for col in board.table.columns or []:
            out.append(("table.columns", col))
        for col, _ in board.table.sort_keys:
            out.append(("table.sort", col))
    if board.time:
        out.append(("time", board.time))
    return out


def check_columns(board: Dashboard, documented: list[str], where: str) -> None:
    """Every plain column must be a documented column of the spec (did-you-mean on a typo)."""
    import difflib

    if not documented:
        return
    problems = []
    for path, column in referenced_columns(board):
        if column not in documented:
            close = difflib.get_close_matches(column, documented, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{where}: dashboard.{path}: unknown column '{column}'{hint}")
    if problems:
        raise DashboardError("\n".join(problems))
