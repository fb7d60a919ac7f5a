"""Spec unit tests, as pure data: given input rows, expected output rows.

A test replaces every input of a spec (and any source step named by its ``as``) with a few
rows, runs the spec's steps in a local Spark session without touching the lake, and compares
the output with ``expect.rows`` on the columns those rows name. Input rows are typed from the
upstream spec's output schema when ``medallion validate`` can derive it; columns a test leaves
out are null, so a test names only the columns its rule is about.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Row = dict[str, Any]


class Expectation(BaseModel):
    """The rows the spec must produce, compared on the columns they name."""

    model_config = ConfigDict(extra="forbid")
    rows: list[Row] = Field(description="expected output rows (mappings); only the columns named are compared")
    ordered: bool = Field(False, description="compare in order (default: as a multiset)")
    tolerance: float = Field(0.0, ge=0, description="largest absolute difference accepted between numbers")
    quarantined: list[Row] | None = Field(
        None, description="rows the spec must quarantine: _rule, _reason and original columns, compared on "
                          "the columns named (default: not checked)")


class SpecTest(BaseModel):
    """One unit test of a spec (``medallion test`` runs it)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="what the test shows, e.g. 'options revenue is summed per line'")
    given: dict[str, list[Row]] = Field(
        default_factory=dict, description="input frame name (or the `as` of a source step) -> rows; "
                                          "an input left out is empty")
    vars: dict[str, Any] = Field(default_factory=dict, description="variable overrides for this test")
    expect: Expectation
