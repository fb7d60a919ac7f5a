"""docs/reference.md and the JSON Schemas come from the models: no drift, real examples."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import jsonschema
import pytest
from pydantic import TypeAdapter

from engine.spec.examples import RULE_EXAMPLES, STEP_EXAMPLES
from engine.spec.quality import Rule
from engine.spec.reference import config_schema, reference_markdown, spec_schema
from engine.spec.registry import STEP_TYPES, Step
from engine.spec.yaml_source import load_yaml_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cdnow"


def test_reference_is_generated_from_the_code():
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), (
        "docs/reference.md is out of date: run `medallion schema --reference docs/reference.md`")


def test_every_step_type_and_rule_has_a_valid_example():
    assert set(STEP_EXAMPLES) == set(STEP_TYPES)
    rules = {typing.get_args(m.model_fields["rule"].annotation)[0] for m in typing.get_args(typing.get_args(Rule)[0])}
    assert set(RULE_EXAMPLES) == rules
    for name, text in STEP_EXAMPLES.items():
        step = TypeAdapter(Step).validate_python(load_yaml_text(text, Path(name)).data[0])
        assert step.type == name
    for name, text in RULE_EXAMPLES.items():
        assert TypeAdapter(Rule).validate_python(load_yaml_text(text, Path(name)).data).rule == name
    reference = reference_markdown()
    for name in STEP_TYPES:
        assert f"### `{name}`" in reference


@pytest.mark.parametrize("path", sorted(p.relative_to(EXAMPLE) for p in EXAMPLE.rglob("*.yaml")), ids=str)
def test_json_schemas_accept_the_example_project(path):
    data = load_yaml_text((EXAMPLE / path).read_text(encoding="utf-8"), path).data
    schema = config_schema() if path.name == "medallion.yaml" else spec_schema()
    jsonschema.validate(data, schema)


def test_json_schema_rejects_what_validate_rejects():
    bad = {"name": "silver.x", "inputs": {"a": "bronze.a"}, "steps": [{"type": "filter", "conditon": "x > 1"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, spec_schema())
    assert json.loads(json.dumps(spec_schema()))["title"] == "Medallion spec"
