"""The step types a spec can use, as pure data.

Each step type is one pydantic model whose ``type`` literal keys a discriminated union; the
registry (``engine/spec/registry.py``) lists every type with its executor and column rule.

Every step reads ``input`` (default: the previous step's result, or the spec's only input) and
may name its result with ``as`` so later steps can refer to it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.spec.step_base import StepBase


class CsvOptions(BaseModel):
    """RFC-4180 CSV reading: quoted commas, doubled quotes and quoted newlines are data."""

    model_config = ConfigDict(extra="forbid")
    header: bool = True
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "UTF-8"
    multiline: bool = True


class TextOptions(BaseModel):
    """Text that is not CSV: whitespace-aligned columns, fixed-width records, or fields split by
    a (multi-character) delimiter. Values are read as text; a line with the wrong number of
    fields goes to quarantine (rule ``text_fields``) with the reason, never silently cut.
    """

    model_config = ConfigDict(extra="forbid")
    delimiter: str | None = Field(None, description="`whitespace` (runs of spaces and tabs) or a literal "
                                                    "separator of one or more characters, e.g. `||`")
    widths: list[int] | None = Field(None, description="fixed width: characters of each column, in "
                                                       "`columns` order")
    header: bool = Field(False, description="the files start with a line of column names (skipped)")
    comment: str | None = Field(None, description="lines starting with this text are skipped")
    trim: bool = Field(True, description="strip the padding around each value")
    encoding: str = "UTF-8"

    @model_validator(mode="after")
    def _one_layout(self) -> "TextOptions":
        if (self.delimiter is None) == (self.widths is None):
            raise ValueError("text: set exactly one of delimiter (e.g. whitespace, '||') or widths")
        if self.delimiter == "":
            raise ValueError("text: delimiter must not be empty")
        if self.widths is not None and any(w < 1 for w in self.widths):
            raise ValueError("text: every width must be at least 1")
        return self


class SourceStep(StepBase):
    """A step that creates a frame from outside the lake (it has no input frame)."""

    add_metadata: bool = Field(False, description="add _ingested_at, _source_file and _run_id")

    @property
    def needs_input(self) -> bool:
        return False

    def frame_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        return []


class ReadStep(SourceStep):
    """Read files (CSV with an explicit schema, Parquet, JSON, or text: whitespace, fixed width,
    multi-character delimiters) into a frame."""

    type: Literal["read"]
    format: Literal["csv", "parquet", "json", "text"]
    path: str
    columns: dict[str, str] | None = Field(
        None, description="ordered column -> Spark type; for CSV the header must match exactly")
    csv: CsvOptions = Field(default_factory=CsvOptions)
    text: TextOptions | None = Field(None, description="layout of a `format: text` file")

    @model_validator(mode="after")
    def _text_layout(self) -> "ReadStep":
        if self.format == "text":
            if self.text is None or not self.columns:
                raise ValueError("format: text needs columns: and text: (delimiter: whitespace, or widths:)")
            if self.text.widths is not None and len(self.text.widths) != len(self.columns):
                raise ValueError(f"text.widths has {len(self.text.widths)} width(s) for {len(self.columns)} "
                                 "column(s); give one width per column")
        elif self.text is not None:
            raise ValueError(f"text: options apply to format: text, not {self.format}")
        return self


class JdbcStep(SourceStep):
    """Read a table of the profile's source database over JDBC, in parallel key ranges.

    ``partition_column`` (numeric or timestamp) is split into ``num_partitions`` ranges between
    its min and max. For an incremental spec, ``watermark_column`` gets the window's lower bound
    pushed down into the query, so only new rows cross the network.
    """

    type: Literal["jdbc"]
    table: str
    columns: list[str] | None = Field(None, description="columns to read (default: all)")
    partition_column: str | None = None
    num_partitions: int = Field(4, ge=1, le=256)
    watermark_column: str | None = None
    fetch_size: int = Field(10_000, ge=1)


class SelectStep(StepBase):
    """Keep (or compute) these columns, in this order: names or Spark SQL expressions."""

    type: Literal["select"]
    columns: list[str] = Field(min_length=1)


class RenameStep(StepBase):
    """Rename columns: old name -> new name."""

    type: Literal["rename"]
    columns: dict[str, str] = Field(min_length=1)


class CastStep(StepBase):
    """Cast columns to Spark types (``int``, ``decimal(10,2)``, ``timestamp``...)."""

    type: Literal["cast"]
    columns: dict[str, str] = Field(min_length=1)


class DeriveStep(StepBase):
    """Add or replace columns from Spark SQL expressions, in order (later ones see earlier)."""

    type: Literal["derive"]
    columns: dict[str, str] = Field(min_length=1)


class TrimStep(StepBase):
    """Trim whitespace from text columns (all text columns when none are listed)."""

    type: Literal["trim"]
    columns: list[str] | None = None
    blank_as_null: bool = Field(True, description="an empty value after trimming becomes null")


class MapValuesStep(StepBase):
    """Replace known values of one column through a mapping (e.g. misspellings)."""

    type: Literal["map_values"]
    column: str
    mapping: dict[str, str] = Field(min_length=1)
    target: str | None = Field(None, description="write to this column instead (default: in place)")


class FilterStep(StepBase):
    """Keep the rows for which a Spark SQL condition is true."""

    type: Literal["filter"]
    condition: str


class DedupeStep(StepBase):
    """One row per key (all columns when no keys); ``order_by`` picks which row survives."""

    type: Literal["dedupe"]
    keys: list[str] | None = None
    order_by: list[str] | None = None


class JoinStep(StepBase):
    """Join two frames on equal key columns."""

    type: Literal["join"]
    left: str | None = Field(None, description="default: the step's input")
    right: str
    on: list[str] = Field(min_length=1)
    how: Literal["inner", "left", "right", "full", "anti", "semi"] = "inner"

    def frame_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        refs = super().frame_refs()
        return refs + ([(("left",), self.left)] if self.left else []) + [(("right",), self.right)]


class AggregateStep(StepBase):
    """Group by columns and compute named metric expressions."""

    type: Literal["aggregate"]
    group_by: list[str] = Field(default_factory=list)
    metrics: dict[str, str] = Field(min_length=1)


class WindowFrame(BaseModel):
    """A row frame; ``None`` means unbounded, 0 the current row, -n n rows before."""

    model_config = ConfigDict(extra="forbid")
    start: int | None = None
    end: int | None = 0


class WindowStep(StepBase):
    """Window expressions (lag, row_number, running sums) over partition/order."""

    type: Literal["window"]
    partition_by: list[str] = Field(default_factory=list)
    order_by: list[str] = Field(default_factory=list)
    frame: WindowFrame | None = None
    columns: dict[str, str] = Field(min_length=1)


class UnionStep(StepBase):
    """Stack frames by column name."""

    type: Literal["union"]
    inputs: list[str] = Field(min_length=2)
    allow_missing_columns: bool = False
    distinct: bool = False

    @property
    def needs_input(self) -> bool:
        return False

    def frame_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        return super().frame_refs() + [(("inputs", j), name) for j, name in enumerate(self.inputs)]


class SqlStep(StepBase):
    """A Spark SQL query over the spec's named frames (each visible as a view by its name)."""

    type: Literal["sql"]
    query: str

    @property
    def needs_input(self) -> bool:
        return False
