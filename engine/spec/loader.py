"""Load one spec file: YAML with lines -> interpolation -> pydantic -> reference checks.

Everything that can be known without Spark is checked here, so ``medallion validate`` is fast
and a mistake is reported at its line with a suggestion.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import SpecError, SpecErrors
from engine.spec.interpolate import interpolate
from engine.spec.models import FRAME_NAME, Spec
from engine.spec.suggest import did_you_mean
from engine.spec.validate_errors import validate_model
from engine.spec.yaml_source import YamlDoc, load_yaml_file


class LoadedSpec:
    """A validated spec and the file it came from (for messages that point back into it)."""

    def __init__(self, spec: Spec, doc: YamlDoc):
        self.spec = spec
        self.doc = doc

    @property
    def path(self) -> Path:
        """The spec file as shown to users (relative to the project)."""
        return self.doc.path

    def step_location(self, index: int) -> str:
        """``file:line`` of step ``index`` (0-based), for run-time error messages."""
        return f"{self.doc.path}:{self.doc.line_of(('steps', index))}"

    def __repr__(self) -> str:
        return f"LoadedSpec({self.spec.name!r}, {str(self.doc.path)!r})"


def check_frames(spec: Spec, doc: YamlDoc) -> list[SpecError]:
    """Every frame a step reads must exist by then; ``as`` names must be valid and unique."""
    errors: list[SpecError] = []
    known = list(spec.inputs)
    if spec.conservation is not None and spec.conservation not in spec.inputs:
        errors.append(doc.error(("conservation",), f"conservation names '{spec.conservation}', which is not "
                                f"an input{did_you_mean(spec.conservation, spec.inputs)}"))
    previous: str | None = known[0] if len(known) == 1 else None
    for i, step in enumerate(spec.steps):
        step._line = doc.line_of(("steps", i))
        for where, ref in step.frame_refs():
            if ref not in known:
                hint = did_you_mean(ref, known) or (f" (known: {', '.join(known)})" if known else
                                                    " (this spec declares no inputs)")
                errors.append(doc.error(("steps", i, *where), f"unknown frame '{ref}'{hint}"))
        if step.needs_input and not step.input and previous is None and _implicit_input(step):
            errors.append(doc.error(("steps", i), f"step {i + 1} ({step.type}) has no input: set "
                                    "'input:' (the spec has several inputs or none before this step)"))
        if step.as_ is not None:
            if not FRAME_NAME.match(step.as_):
                errors.append(doc.error(("steps", i, "as"), f"'{step.as_}' is not a valid frame name"))
            elif step.as_ in known:
                errors.append(doc.error(("steps", i, "as"), f"frame '{step.as_}' is already defined"))
            known.append(step.as_)
        previous = step.as_ or f"<step {i + 1}>"
    return errors


def _implicit_input(step: Any) -> bool:
    return not (step.type == "join" and step.left)


def load_spec(path: Path, variables: Mapping[str, Any], *, display_path: Path | None = None,
              env: Mapping[str, str] | None = None) -> LoadedSpec:
    """Load and fully validate one spec file; raises SpecError/SpecErrors with locations."""
    doc = load_yaml_file(path, display_path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "a spec must be a mapping with name, inputs, steps and output")
    data = interpolate(doc, variables, env)
    spec = validate_model(Spec, data, doc)
    errors = check_frames(spec, doc)
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    return LoadedSpec(spec, doc)
