"""docs/reference.md and the JSON Schemas, generated from the pydantic models.

The models are the single source of truth: their docstrings and field descriptions become
the reference, their JSON Schemas give editors completion for specs and medallion.yaml. A test
regenerates the reference and fails when the committed file differs.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Any

from pydantic import BaseModel, create_model
from pydantic_core import PydanticUndefined

from engine.spec.examples import RULE_EXAMPLES, STEP_EXAMPLES
from engine.spec.models import ColumnDoc, Incremental, Output, Retry, Spec, WarehouseHints
from engine.spec.project import Profile, ProjectFile
from engine.spec.quality import ParseColumn, Rule
from engine.spec.registry import REGISTRY
from engine.spec.steps import CsvOptions, TextOptions, WindowFrame
from engine.spec.unit_tests import Expectation, SpecTest

SPEC_SCHEMA_FILE = "spec.schema.json"
CONFIG_SCHEMA_FILE = "medallion.schema.json"


def spec_schema() -> dict[str, Any]:
    """JSON Schema of a spec file."""
    schema = Spec.model_json_schema(by_alias=True)
    schema["title"] = "Medallion spec"
    return schema


def config_schema() -> dict[str, Any]:
    """JSON Schema of medallion.yaml (profiles validated as profiles)."""
    model = create_model("MedallionYaml", __base__=ProjectFile, profiles=(dict[str, Profile], ...))
    schema = model.model_json_schema(by_alias=True)
    schema["title"] = "medallion.yaml"
    return schema


def schemas() -> dict[str, str]:
    """File name -> JSON text of both schemas."""
    return {SPEC_SCHEMA_FILE: json.dumps(spec_schema(), indent=2) + "\n",
            CONFIG_SCHEMA_FILE: json.dumps(config_schema(), indent=2) + "\n"}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType")):
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(parts) + (" \\| null" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping {_type_name(args[0])} → {_type_name(args[1])}" if args else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        tag = _tag(annotation)
        if tag:
            return f"[`{tag}`](#{tag})"
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return {str: "text", int: "integer", float: "number", bool: "boolean"}.get(annotation, getattr(
        annotation, "__name__", str(annotation)).replace("Any", "any"))


def _tag(model: type[BaseModel]) -> str | None:
    """The ``type:``/``rule:`` value of a step or rule model (its heading in the reference)."""
    for key in ("type", "rule"):
        info = model.model_fields.get(key)
        if info is not None and typing.get_origin(info.annotation) is typing.Literal:
            return typing.get_args(info.annotation)[0]
    return None


def _default(info: Any) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        value = info.default_factory()
        return "" if value in ({}, []) else f"`{value}`" if not isinstance(value, BaseModel) else "(defaults)"
    if info.default is PydanticUndefined or info.default is None:
        return ""
    return f"`{json.dumps(info.default) if isinstance(info.default, (bool, str)) else info.default}`"


def _doc(model: type[BaseModel]) -> str:
    text = (model.__doc__ or "").strip()
    return re.sub(r"\n\s*\n", "\n\n", "\n".join(line.strip() for line in text.splitlines()))


def _fields(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[str]:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        key = info.alias or name
        description = (info.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{key}` | {_type_name(info.annotation)} | {_default(info)} | {description} |")
    return rows


def _section(level: str, model: type[BaseModel], title: str, example: str | None = None,
             skip: tuple[str, ...] = ()) -> list[str]:
    out = [f"{level} {title}", "", _doc(model), ""]
    out += _fields(model, skip) + [""]
    if example:
        out += ["```yaml", example, "```", ""]
    return out


def reference_markdown() -> str:
    """The whole of docs/reference.md."""
    out = ["# Reference", "",
           "Generated from the pydantic models by `medallion schema --reference docs/reference.md`; "
           "a test fails when this file and the code differ. JSON Schemas for editor completion: "
           "`medallion schema --out DIR` writes `spec.schema.json` and `medallion.schema.json`.", "",
           "## Spec files", ""]
    out += _section("###", Spec, "Spec", skip=())[2:]
    for model in (Output, WarehouseHints, Retry, Incremental, ColumnDoc, SpecTest, Expectation):
        out += _section("###", model, model.__name__)
    out += ["## Step types", "",
            "Every step reads `input` (default: the previous step's result, or the spec's only input) and may "
            "name its result with `as`; `description` is free text. Those three keys are left out of the tables "
            "below.", ""]
    for kind in REGISTRY:
        out += _section("###", kind.model, f"`{kind.name}`", STEP_EXAMPLES.get(kind.name),
                        skip=("type", "input", "as_", "description"))
    for model in (CsvOptions, TextOptions, WindowFrame, ParseColumn):
        out += _section("###", model, model.__name__)
    for sub in _clv_models():
        out += _section("###", sub, sub.__name__)
    out += ["## Quality rules", "", "Used in the `rules:` of a `quality` step. A rule states what a good row "
            "satisfies; `action` says what happens to the others.", ""]
    for rule in typing.get_args(typing.get_args(Rule)[0]):
        tag = typing.get_args(rule.model_fields["rule"].annotation)[0]
        out += _section("###", rule, f"`{tag}`", RULE_EXAMPLES.get(tag), skip=("rule",))
    out += ["## medallion.yaml", ""]
    out += _section("###", ProjectFile, "Project file")[2:]
    out += _section("###", Profile, "Profile")
    for model in _profile_models():
        out += _section("####", model, model.__name__)
    return "\n".join(out).rstrip() + "\n"


def _nested(model: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for info in annotation.model_fields.values():
                    visit(info.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    for info in model.model_fields.values():
        visit(info.annotation)
    return found


def _clv_models() -> list[type[BaseModel]]:
    from engine.spec.clv import ClvModelStep

    return _nested(ClvModelStep)


def _profile_models() -> list[type[BaseModel]]:
    return _nested(Profile)
