"""Data-quality rules and the other silver-layer step types, as pure data.

A rule always states what a *good* row satisfies; rows that fail it meet the rule's action:
``warn`` (kept, counted), ``drop`` (removed, counted as dropped), ``quarantine`` (removed to
``quarantine.<spec>`` with the rule and the reason) or ``fail`` (the spec fails). Thresholds
turn a tolerated failure rate into a spec failure when it is exceeded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.spec.step_base import StepBase

Action = Literal["warn", "drop", "quarantine", "fail"]


class RuleBase(BaseModel):
    """Fields every rule shares."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="shown in reports and in quarantine._rule")
    action: Action = "quarantine"
    max_failed_pct: float | None = Field(None, ge=0, le=100, description="fail the spec above this")
    max_failed_rows: int | None = Field(None, ge=0)
    description: str | None = None

    @property
    def label(self) -> str:
        """The rule's name in reports: its own name, else its kind and columns."""
        return self.name or f"{self.rule}({', '.join(self.subject())})"

    def subject(self) -> list[str]:
        """The columns the rule is about (for its default label)."""
        return list(getattr(self, "columns", None) or [getattr(self, "column", "")])


class NotNullRule(RuleBase):
    """Good rows have a value (not null, not blank) in every listed column."""

    rule: Literal["not_null"]
    columns: list[str] = Field(min_length=1)


class UniqueRule(RuleBase):
    """Good rows have a key no other row has (every copy of a repeated key fails)."""

    rule: Literal["unique"]
    columns: list[str] = Field(min_length=1)


class AcceptedValuesRule(RuleBase):
    """Good rows have one of the listed values (null passes; pair with not_null)."""

    rule: Literal["accepted_values"]
    column: str
    values: list[Any] = Field(min_length=1)


class RangeRule(RuleBase):
    """Good rows have ``min <= column <= max`` (either bound optional; null passes)."""

    rule: Literal["range"]
    column: str
    min: float | int | str | None = None
    max: float | int | str | None = None
    exclusive_min: bool = False
    exclusive_max: bool = False

    @model_validator(mode="after")
    def _some_bound(self) -> "RangeRule":
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        return self


class RegexRule(RuleBase):
    """Good rows match the pattern in full (Java regex; null passes)."""

    rule: Literal["regex"]
    column: str
    pattern: str


class ExistsInRule(RuleBase):
    """Good rows have their key in another frame of the spec (referential integrity)."""

    rule: Literal["exists_in"]
    columns: list[str] = Field(min_length=1)
    frame: str = Field(description="a frame of this spec (an input or an `as` name)")
    frame_columns: list[str] | None = Field(None, description="key columns there; default: same names")


class ExpressionRule(RuleBase):
    """Good rows make this Spark SQL condition true (null counts as failing)."""

    rule: Literal["expression"]
    condition: str

    def subject(self) -> list[str]:
        return [self.condition]


Rule = Annotated[Union[NotNullRule, UniqueRule, AcceptedValuesRule, RangeRule, RegexRule,
                       ExistsInRule, ExpressionRule], Field(discriminator="rule")]


class QualityStep(StepBase):
    """Check rules on the input; act on failing rows; report counts per rule."""

    type: Literal["quality"]
    rules: list[Rule] = Field(min_length=1)
    max_quarantined_pct: float | None = Field(None, ge=0, le=100,
                                              description="fail the spec when more rows are quarantined")

    def frame_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        return super().frame_refs() + [(("rules", j, "frame"), r.frame) for j, r in enumerate(self.rules)
                                       if isinstance(r, ExistsInRule)]


class ParseColumn(BaseModel):
    """How to parse one text column; a value that does not parse quarantines its row."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(description="int, bigint, double, decimal(p,s), boolean, date, timestamp, string")
    format: str | None = Field(None, description="datetime pattern for date/timestamp")
    true_values: list[str] = Field(default_factory=lambda: ["TRUE"])
    false_values: list[str] = Field(default_factory=lambda: ["FALSE"])
    rename: str | None = Field(None, description="name of the typed column (default: same)")


class ParseStep(StepBase):
    """Type text columns strictly: unparsable values go to quarantine, never to null."""

    type: Literal["parse"]
    columns: dict[str, ParseColumn] = Field(min_length=1)
    trim: bool = Field(True, description="trim whitespace first; blank counts as null")


class HmacStep(StepBase):
    """Replace a sensitive column by a keyed HMAC-SHA256 token (and optionally its last digits)."""

    type: Literal["hmac"]
    column: str
    token_column: str
    key: str = Field(description="a ${secret:name} reference; resolved only at run time")
    last_digits_column: str | None = None
    last_digits: int = Field(4, ge=1, le=8)
    keep_source: bool = Field(False, description="keep the clear column (never in silver)")


class CalendarStep(StepBase):
    """Extend a calendar frame to cover every date of another frame's date column.

    The input calendar has the columns date, year, month, week (ISO), day_of_week, is_weekend,
    is_holiday, holiday_name; its rows are kept as they are and the missing dates generated.
    """

    type: Literal["calendar"]
    dates_from: str = Field(description="frame holding the dates to cover")
    date_column: str = Field(description="date or timestamp column of that frame")
    holidays: Literal["us_federal", "none"] = "us_federal"

    def frame_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        return super().frame_refs() + [(("dates_from",), self.dates_from)]
