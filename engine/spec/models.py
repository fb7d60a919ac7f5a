"""What a spec is: inputs, steps, one output table, schedule, retry and documentation.

Pure data: nothing here touches Spark, files or the environment. Structural rules that span
fields (frame references resolve, names are valid, the output lands in the right layer) are
checked here so ``medallion validate`` catches them before any Spark starts.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.spec.cron import check_cron
from engine.spec.registry import Step
from engine.spec.unit_tests import SpecTest

LAYERS = ("bronze", "silver", "gold")
TABLE_NAME = re.compile(r"^(?P<layer>[a-z][a-z0-9_]*)\.(?P<name>[a-z][a-z0-9_]*)$")
FRAME_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_table_name(value: str) -> str:
    """Tables are ``<layer>.<name>`` in lower snake case, layer one of bronze/silver/gold."""
    match = TABLE_NAME.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a table name of the form <layer>.<name> (lower snake case)")
    if match["layer"] not in LAYERS:
        raise ValueError(f"'{value}': layer must be one of {', '.join(LAYERS)}")
    return value


TableName = Annotated[str, AfterValidator(check_table_name)]


class WarehouseHints(BaseModel):
    """Physical design for server warehouses (Redshift): distribution, sort order, encodings."""

    model_config = ConfigDict(extra="forbid")
    diststyle: Literal["auto", "even", "all", "key"] = "auto"
    distkey: str | None = None
    sortkey: list[str] = Field(default_factory=list)
    encode: dict[str, str] = Field(default_factory=dict, description="column -> encoding, e.g. zstd, az64")

    @model_validator(mode="after")
    def _key_style(self) -> "WarehouseHints":
        if self.distkey and self.diststyle not in ("key", "auto"):
            raise ValueError(f"distkey needs diststyle key (got {self.diststyle})")
        if self.diststyle == "key" and not self.distkey:
            raise ValueError("diststyle key needs a distkey")
        return self


class Output(BaseModel):
    """Where the result goes: a lake table, committed atomically as a new version."""

    model_config = ConfigDict(extra="forbid")
    table: str | None = Field(None, description="default: the spec's name")
    keys: list[str] = Field(default_factory=list, description="the grain; used by rules and merges")
    partition_by: list[str] = Field(default_factory=list)
    warehouse: WarehouseHints = Field(default_factory=WarehouseHints)

    @field_validator("table")
    @classmethod
    def _check_table(cls, value: str | None) -> str | None:
        return None if value is None else check_table_name(value)


class Retry(BaseModel):
    """How often and how patiently a failing spec is retried (transient errors only)."""

    model_config = ConfigDict(extra="forbid")
    attempts: int = Field(1, ge=1, le=20)
    backoff_seconds: float = Field(5.0, ge=0)
    max_delay_seconds: float = Field(300.0, ge=0)


class Incremental(BaseModel):
    """Recompute only what changed. Two forms, by the kind of spec:

    - a spec that reads files or a source database (bronze) loads only what is new: rows at or
      after (watermark - lookback), merged on ``keys``; the watermark is the largest value of
      ``column`` in the committed table, stored with the commit, so it advances only when the
      output commit succeeds;
    - a spec that reads files without a time column (``files: new``) appends the rows of the files
      it has not ingested yet (the committed manifest lists every file with its size and time);
    - a spec that reads lake tables (silver, gold) recomputes only the part of its table that
      the new upstream rows touch and replaces exactly that part in the committed table: the date
      range from the earliest touched ``by`` value (minus ``lookback_days``), or the entities
      (``affected_keys``) with new upstream rows. Steps whose result depends on all rows make a
      full pass, with the reason in the run record (docs/design.md, "Incremental silver and gold").
    """

    model_config = ConfigDict(extra="forbid")
    column: str | None = Field(None, description="bronze: creation-time column (ISO-8601 text or timestamp)")
    keys: list[str] = Field(default_factory=list,
                            description="bronze: a re-read row replaces the stored row with these keys")
    lookback_hours: float = Field(72, ge=0, description="bronze: re-read this far behind the watermark (late rows)")
    on_duplicate: Literal["latest", "keep_all", "fail"] = Field(
        "latest", description="bronze: what a repeated key means: latest (the newest delivery wins, older versions "
        "go to the <table>__superseded audit table with the reason), keep_all (every distinct version is kept) or "
        "fail (a changed re-delivery stops the spec); identical re-deliveries never duplicate")
    by: str | None = Field(None, description="silver/gold: a date (or timestamp) column of the output and of the "
                           "inputs it comes from; only the range from the earliest date new upstream rows touch "
                           "is recomputed and replaced")
    lookback_days: int = Field(0, ge=0, description="silver/gold with by: also recompute this many days before "
                               "the earliest touched date")
    affected_keys: list[str] | None = Field(None, description="silver/gold: entity key column(s) of the output "
                                            "and the inputs; only entities with new upstream rows are recomputed "
                                            "and merged into the committed table")
    files: Literal["new"] | None = Field(
        None, description="bronze without a time column: read only the files not ingested yet and append their "
        "rows; a file that changed or is gone rebuilds the table from every file present (a watermark spec "
        "reads only new and changed files without this)")

    @field_validator("affected_keys", mode="before")
    @classmethod
    def _one_key(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_form(self) -> "Incremental":
        given = self.model_fields_set
        derived = self.by is not None or self.affected_keys is not None
        if self.files is not None:
            mixed = sorted(given - {"files"})
            if mixed:
                raise ValueError(f"files: new stands alone (a watermark spec already reads only new and changed "
                                 f"files); drop {', '.join(mixed)}")
            return self
        if not derived:
            if self.column is None or not self.keys:
                raise ValueError("needs column and keys (a spec that reads files: a watermark), "
                                 "or by / affected_keys (a spec that reads lake tables)")
            if "lookback_days" in given:
                raise ValueError("lookback_days goes with by; a watermark (column) uses lookback_hours")
            return self
        source = sorted(given & {"column", "keys", "lookback_hours", "on_duplicate"})
        if source:
            raise ValueError(f"{', '.join(source)} belong to a watermark (bronze) and do not mix with "
                             f"{'by' if self.by is not None else 'affected_keys'}")
        if self.by is not None and self.affected_keys is not None:
            raise ValueError("set one of by (recompute a date range) or affected_keys (recompute entities), not both")
        if self.affected_keys is not None and not self.affected_keys:
            raise ValueError("affected_keys needs at least one column")
        if "lookback_days" in given and self.by is None:
            raise ValueError("lookback_days goes with by (a date range), not with affected_keys")
        return self

    @property
    def derived(self) -> bool:
        """True for the silver/gold form (by or affected_keys), False for a bronze watermark."""
        return self.by is not None or self.affected_keys is not None

    @property
    def watermark(self) -> bool:
        """True for the bronze form with a time column (column and keys)."""
        return self.column is not None

    @property
    def grain(self) -> list[str]:
        """The output columns the recomputed part is chosen by: [by] or the affected keys."""
        return [self.by] if self.by is not None else list(self.affected_keys or [])


class ColumnDoc(BaseModel):
    """Documentation of one output column (drives dashboards and the data dictionary)."""

    model_config = ConfigDict(extra="forbid")
    description: str
    format: Literal["text", "integer", "number", "money", "percent", "date", "datetime", "boolean"] | None = Field(
        None, description="how to show values; percent means a 0-1 fraction shown as 0-100%")


class Spec(BaseModel):
    """One unit of work: read named inputs, apply steps in order, write one table."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str | None = None
    inputs: dict[str, TableName] = Field(default_factory=dict, description="frame name -> lake table")
    steps: list[Step] = Field(min_length=1)
    output: Output = Field(default_factory=Output)
    schedule: str | None = Field(None, description="AWS cron expression, e.g. cron(0 7 * * ? *): when the "
                                 "deployed workflow starts this (root) spec; downstream specs follow their inputs")
    retry: Retry | None = None
    incremental: Incremental | None = None
    conservation: str | None = Field(
        None, description="input frame whose every row must be accounted for: "
                          "rows in = rows out + quarantined + filtered + deduplicated + dropped")
    columns: dict[str, ColumnDoc] = Field(default_factory=dict)
    dashboard: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    tests: list[SpecTest] = Field(default_factory=list, description="unit tests: given rows, expected rows "
                                  "(run by `medallion test`)")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return check_table_name(value)

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @model_validator(mode="after")
    def _incremental_fits_the_spec(self) -> "Spec":
        inc = self.incremental
        if inc is not None and inc.derived and (not self.inputs or self.name.split(".", 1)[0] == "bronze"):
            raise ValueError(f"incremental.{'by' if inc.by else 'affected_keys'} is for silver and gold specs "
                             "that read lake tables (inputs:); a spec that reads files declares column and keys")
        if inc is not None and inc.files is not None and (self.inputs or not any(s.type == "read" for s in self.steps)):
            raise ValueError("incremental.files is for a spec that reads files (a read step, no inputs:)")
        return self

    @model_validator(mode="after")
    def _output_is_named_table(self) -> "Spec":
        if self.output.table is None:
            self.output.table = self.name
        elif self.output.table != self.name:
            raise ValueError(f"output.table '{self.output.table}' differs from name '{self.name}': "
                             "a spec is named after the table it writes")
        return self

    @field_validator("inputs")
    @classmethod
    def _check_inputs(cls, value: dict[str, str]) -> dict[str, str]:
        for alias in value:
            if not FRAME_NAME.match(alias):
                raise ValueError(f"input name '{alias}' must be a valid identifier")
        return value

    @property
    def layer(self) -> str:
        """The layer of the output table (bronze, silver, gold)."""
        return self.output.table.split(".", 1)[0]

    @property
    def input_tables(self) -> list[str]:
        """Lake tables this spec reads, i.e. its edges in the dependency graph."""
        return list(dict.fromkeys(self.inputs.values()))
