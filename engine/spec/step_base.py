"""The fields every step type shares (split out so step families can live in their own modules)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class StepBase(BaseModel):
    """Fields every step shares."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)

    input: str | None = Field(None, description="name of the frame to read; default: previous step")
    as_: str | None = Field(None, alias="as", description="name the result for later steps")
    description: str | None = None
    _line: int | None = PrivateAttr(None)

    def frame_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(location in the step, frame name) of every frame this step names (checked when a
        spec is loaded, so an unknown frame is reported at its line)."""
        return [(("input",), self.input)] if self.input else []

    @property
    def needs_input(self) -> bool:
        """Whether the step transforms an input frame (read and union do not)."""
        return True
