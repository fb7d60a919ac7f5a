"""Turn pydantic validation errors into ``path:line: message (did you mean ...)`` lines.

pydantic locates errors by model path, including the tag of a discriminated union
(``steps.2.filter.conditon``); the YAML line map is keyed by data path (``steps.2.conditon``).
We walk the model's annotations alongside the location to drop union tags, find the fields that
were allowed at an unknown key, and phrase each error for a person writing YAML.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.errors import SpecError, SpecErrors
from engine.spec.suggest import did_you_mean
from engine.spec.yaml_source import YamlDoc


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types behind Optional/Union/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                out.extend(_unwrap(arg))
        return out
    return [annotation]


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


_TAG_KEYS = ("type", "rule", "kind")


def _tag_key(annotation: Any) -> str:
    """The discriminator key of a union of models (``type`` for steps, ``rule`` for rules)."""
    for cand in _unwrap(annotation):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            for key in _TAG_KEYS:
                if key in cand.model_fields and typing.get_origin(cand.model_fields[key].annotation) is typing.Literal:
                    return key
    return "type"


def _tag_models(annotation: Any) -> dict[str, type[BaseModel]]:
    """For a discriminated union of models, tag -> model."""
    kinds = [c for c in _unwrap(annotation) if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(kinds) < 2:
        return {}
    key = _tag_key(annotation)
    out = {}
    for cand in kinds:
        if key in cand.model_fields:
            tag = typing.get_args(cand.model_fields[key].annotation)
            if tag:
                out[tag[0]] = cand
    return out


def _walk(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    """Map a pydantic loc to (data loc, annotation reached at the end of it)."""
    data_loc: list[Any] = []
    current: Any = root
    i = 0
    while i < len(loc):
        elem = loc[i]
        kinds = _unwrap(current)
        tags = _tag_models(current)
        if tags and isinstance(elem, str) and elem in tags:
            current = tags[elem]  # a union tag: not part of the data path
            i += 1
            continue
        model = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        container = next((k for k in kinds if typing.get_origin(k) in (list, dict)), None)
        data_loc.append(elem)
        if model is not None and isinstance(elem, str) and _field(model, elem) is not None:
            current = _field(model, elem)
        elif container is not None:
            args = typing.get_args(container)
            current = args[-1] if args else Any
        else:
            current = Any
        i += 1
    return tuple(data_loc), current


def _allowed_keys(annotation: Any) -> list[str]:
    for cand in _unwrap(annotation):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return [info.alias or name for name, info in cand.model_fields.items()]
    return []


def _message(err: dict[str, Any], root: type[BaseModel], prefix: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str]:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        data_loc, _ = _walk(root, loc)
        _, parent = _walk(root, loc[:-1])
        key = str(loc[-1])
        allowed = _allowed_keys(parent)
        where = ".".join(str(p) for p in (*prefix, *data_loc[:-1])) or "the top level"
        hint = did_you_mean(key, allowed) or (f" (allowed: {', '.join(allowed)})" if allowed else "")
        return data_loc, f"unknown key '{key}' in {where}{hint}"
    if kind == "union_tag_invalid":
        data_loc, current = _walk(root, loc)
        tag = err.get("ctx", {}).get("tag", "?")
        tags = list(_tag_models(current))
        key = _tag_key(current)
        noun = {"type": "step type", "rule": "rule", "kind": "kind"}[key]
        hint = did_you_mean(tag, tags) or f" (known: {', '.join(sorted(tags))})"
        return (*data_loc, key), f"unknown {noun} '{tag}'{hint}"
    if kind == "union_tag_not_found":
        data_loc, current = _walk(root, loc)
        key = _tag_key(current)
        return data_loc, f"missing '{key}' (one of: {', '.join(sorted(_tag_models(current)))})"
    data_loc, _ = _walk(root, loc)
    field = ".".join(str(p) for p in (*prefix, *data_loc)) or "spec"
    text = err["msg"].removeprefix("Value error, ")
    if kind == "missing":
        return data_loc, f"missing required key '{data_loc[-1]}'" if data_loc else "missing required key"
    if kind == "literal_error":
        got = err.get("input")
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ",").split(",")]
        return data_loc, f"{field}: '{got}' is not allowed{did_you_mean(str(got), choices) or ''}; expected {expected}"
    return data_loc, f"{field}: {text}"


def validate_model(model: type[BaseModel], data: Any, doc: YamlDoc, prefix: tuple[Any, ...] = ()) -> Any:
    """Validate ``data`` against ``model``; every error becomes a located SpecError.

    ``prefix`` is where ``data`` sits in its file (for messages about a sub-document).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: list[SpecError] = []
        seen = set()
        for err in exc.errors():
            data_loc, message = _message(err, model, prefix)
            found = doc.error(data_loc, message)
            if str(found) not in seen:
                seen.add(str(found))
                errors.append(found)
        raise (errors[0] if len(errors) == 1 else SpecErrors(errors)) from None
