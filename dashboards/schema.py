"""The ``dashboard:`` block of a spec, as pydantic models (``extra="forbid"``).

Why models: a typo in a YAML key (``tilte:``) must be an error naming the key, its line and
the likely key, not a silently missing chart. Charts are a discriminated union keyed by
``type`` (:mod:`dashboards.chart_models`); extra blocks are another (note, signal_check,
model_report, rule_vs_model). Cross-references (columns the spec documents, ``part_of``
targets, vocabulary terms) are checked by :mod:`dashboards.validate`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from dashboards.chart_models import (AVG_DAILY, CHART_MODELS, Chart, Format, GroupSize, Strict,  # noqa: F401
                                     is_column)


class Kpi(Strict):
    """One headline number: a SQL aggregate over the (filtered) table."""

    label: str | None = Field(None, description="card label (default: the term's label)")
    value: str = Field(description="SQL aggregate, e.g. sum(amount)")
    term: str | None = Field(None, description="vocabulary term this number counts (definition, value "
                                               "label), e.g. customer_status.at_risk")
    format: Format | None = None
    help: str | None = Field(None, description="tooltip (default: the term's definition, else the SQL)")
    delta: str | None = Field(None, description="'previous_period' (needs the page's time column and a "
                                                "date-range filter) or a SQL aggregate giving the delta")
    delta_format: Format | None = Field(None, description="default: the KPI's format, at the value's precision")
    delta_color: Literal["normal", "inverse", "off"] = "normal"
    only_if: str | None = Field(None, description="SQL aggregate over the whole table: shown only when true")
    omitted: str | None = Field(None, description="the note shown instead when only_if is false")


class Filter(Strict):
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


class Table(Strict):
    """The detail table: sortable in the browser, downloadable as CSV."""

    sort: str | list[str] | None = Field(None, description="column or list; '-' prefix = descending")
    columns: list[str] | None = Field(None, description="default: every documented column")
    first: str | None = Field(None, description="SQL condition: matching rows are listed first")
    limit: int = Field(1000, ge=1, le=100_000)
    title: str | None = None

    @property
    def sort_keys(self) -> list[tuple[str, bool]]:
        """[(column, descending)]."""
        keys = [] if self.sort is None else [self.sort] if isinstance(self.sort, str) else self.sort
        return [(k[1:], True) if k.startswith("-") else (k, False) for k in keys]


class _Block(Strict):
    at: Literal["top", "bottom"] | None = Field(None, description="where on the page (default by type)")


class Note(_Block):
    """Text, optionally with one aggregate: ``text: "{value} rows need attention"``."""

    type: Literal["note"]
    text: str
    value: str | None = Field(None, description="SQL aggregate put in place of {value}")
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
    spec: str | None = Field(None, description="the spec whose run record holds the report (default: this "
                                               "page's; another page's when this table copies its model's columns)")
    title: str = "Model"
    evaluation: str | None = Field(None, description="name of a RunStore artefact with the evaluation")
    evaluate_command: str | None = Field(None, description="command that produces the evaluation")


class Measure(Strict):
    """One side of a rule-vs-model comparison: a labelled aggregate, on this table or another page's."""

    label: str
    value: str = Field(description="SQL aggregate")
    term: str | None = Field(None, description="vocabulary term it measures (its definition is shown)")
    table: str | None = Field(None, description="another page's table (unfiltered); default: this page's")


class RuleVsModel(_Block):
    """Two answers to one question side by side, labelled, with one sentence on why they differ."""

    type: Literal["rule_vs_model"]
    title: str
    rule: Measure
    model: Measure
    format: Format | None = None
    difference: str | None = Field(None, description="the sentence (default: the vocabulary's contrast)")


Block = Annotated[Union[Note, SignalCheck, ModelReport, RuleVsModel], Field(discriminator="type")]


class Definition(Strict):
    """Where the page's metric definitions are written: a Markdown file and a heading in it."""

    doc: str = "docs/metrics.md"
    heading: str | None = Field(None, description="text in the heading (default: the table name)")


class Dashboard(Strict):
    """A page: title, KPIs, charts, extra blocks, filters, a table and its definitions."""

    title: str = Field(description="page title and navigation entry")
    description: str | None = Field(None, description="one paragraph under the title")
    order: int | None = Field(None, description="position in the navigation (default: file order)")
    icon: str | None = Field(None, description="page icon, e.g. :material/trending_up:")
    part_of: str | None = Field(None, description="render as a section of another spec's page (its table)")
    time: str | None = Field(None, description="the page's time column (date filter, previous_period "
                                               "deltas, per_day, partial periods)")
    rows_are: str = Field("rows", description="what one row of the table is (customers, items ...): "
                                              "the unit of group sizes")
    kpis: list[Kpi] = Field(default_factory=list, description="headline numbers (an empty one is omitted "
                                                               "with a note)")
    charts: list[Chart] = Field(default_factory=list, description="two per row unless width: full")
    blocks: list[Block] = Field(default_factory=list, description="notes, signal checks, model reports, "
                                                                   "rule-vs-model comparisons")
    filters: list[Union[str, Filter]] = Field(default_factory=list, description="sidebar filters: column names "
                                                                                 "or filter mappings")
    table: Table | None = Field(default_factory=Table, description="the detail table; null hides it")
    definition: Definition = Field(default_factory=Definition, description="the metrics document section shown "
                                                                           "under Definitions")

    @property
    def filter_list(self) -> list[Filter]:
        """Filters as models (a bare column name is a filter with defaults)."""
        return [Filter(column=f) if isinstance(f, str) else f for f in self.filters]


def default_size(board: Dashboard) -> GroupSize:
    """The group size of a bar chart that declares none: rows of the table, in the page's unit."""
    return GroupSize(count="count(*)", of=board.rows_are)
