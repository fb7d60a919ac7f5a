"""The generated reference of the ``dashboard:`` block: every block, chart type and option, from
the models themselves (``python -m dashboards.reference > docs/dashboards-reference.md``).

Why generated: the models are the truth ``medallion validate`` applies; a hand-written list
drifts. ``tests/dashboards/test_reference.py`` fails when the page and the models differ.
"""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from dashboards import chart_models as charts
from dashboards import schema, vocabulary

SECTIONS: list[tuple[str, list[type[BaseModel]]]] = [
    ("The page", [schema.Dashboard, schema.Kpi, schema.Filter, schema.Table, schema.Definition]),
    ("Charts (`charts:`, keyed by `type`)", [*charts.CHART_MODELS, charts.GroupSize]),
    ("Blocks (`blocks:`, keyed by `type`)", [schema.Note, schema.SignalCheck, schema.ModelReport,
                                             schema.RuleVsModel, schema.Measure]),
    ("The vocabulary (`vocabulary.yaml` at the project root)", [vocabulary.Vocabulary, vocabulary.Term,
                                                               vocabulary.Value, vocabulary.Contrast]),
]
NAMES = {schema.Dashboard: "dashboard", schema.Kpi: "kpis[]", schema.Filter: "filters[]",
         schema.Table: "table", schema.Definition: "definition", charts.GroupSize: "n (bar charts)",
         schema.Measure: "rule / model (rule_vs_model)", vocabulary.Vocabulary: "vocabulary.yaml",
         vocabulary.Term: "terms.<name>", vocabulary.Value: "terms.<name>.values.<value>",
         vocabulary.Contrast: "contrasts[]",
         **{m: f"{typing.get_args(m.model_fields['type'].annotation)[0]} chart" for m in charts.CHART_MODELS},
         **{m: f"{typing.get_args(m.model_fields['type'].annotation)[0]} block"
            for m in (schema.Note, schema.SignalCheck, schema.ModelReport, schema.RuleVsModel)}}


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType")):
        return " or ".join(_type(a) for a in args if a is not type(None))
    if origin in (list,):
        return f"list of {_type(args[0])}" if args else "list"
    if origin in (dict,):
        return f"mapping of {_type(args[0])} → {_type(args[1])}" if args else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return NAMES.get(annotation, annotation.__name__)
    return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")


def _default(info: Any) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        value = info.default_factory()
        return "`[]`" if value == [] else "`{}`" if value == {} else "(defaults)"
    if info.default is PydanticUndefined or info.default is None:
        return ""
    return f"`{str(info.default).lower() if isinstance(info.default, bool) else info.default}`"


def _model(model: type[BaseModel]) -> list[str]:
    fields = model.model_fields
    tag = fields.get("type")
    name = f"`{typing.get_args(tag.annotation)[0]}`" if tag is not None and model not in (schema.Dashboard,) \
        else f"`{NAMES.get(model, model.__name__)}`"
    doc = re.sub(r"\s+", " ", (model.__doc__ or "").strip())
    lines = [f"### {name}", "", doc, "", "| key | type | default | meaning |", "|---|---|---|---|"]
    for key, info in fields.items():
        if key == "type" and tag is not None:
            continue
        text = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{key}` | {_type(info.annotation)} | {_default(info)} | {text} |")
    return lines + [""]


def reference() -> str:
    """The whole Markdown page."""
    out = ["# Dashboard reference", "",
           "Generated from the models in `dashboards/` (`python -m dashboards.reference > "
           "docs/dashboards-reference.md`); `medallion validate` checks every key, type and column "
           "reference listed here and reports `file:line: message (did you mean …?)`. "
           "A test fails when this page and the models differ. How pages are drawn: "
           "[dashboards.md](dashboards.md).", ""]
    for title, models in SECTIONS:
        out += [f"## {title}", ""]
        for model in models:
            out += _model(model)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(reference(), end="")
