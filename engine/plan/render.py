"""Diagrams generated from the specs: lineage (Mermaid for Markdown, DOT for Graphviz), and the
entry point of every ``medallion graph --format`` (draw.io architecture, data model)."""

from __future__ import annotations

from engine.errors import UsageError
from engine.plan.graph import Graph
from engine.spec.project import Project
from engine.spec.suggest import did_you_mean

_STYLE = {"bronze": "#cd7f32", "silver": "#c0c0c0", "gold": "#ffd700"}


def _node_id(name: str) -> str:
    return name.replace(".", "__")


def mermaid(graph: Graph, names: list[str]) -> str:
    """A ``flowchart LR`` with one subgraph per layer and an edge per table read."""
    keep = set(names)
    lines = ["flowchart LR"]
    for layer in ("bronze", "silver", "gold"):
        members = [n for n in names if graph.layer_of(n) == layer]
        if not members:
            continue
        lines.append(f"  subgraph {layer}")
        lines.extend(f'    {_node_id(n)}["{n}"]' for n in members)
        lines.append("  end")
    for name in names:
        for up in sorted(graph.upstream[name] & keep):
            lines.append(f"  {_node_id(up)} --> {_node_id(name)}")
    for layer, colour in _STYLE.items():
        members = [_node_id(n) for n in names if graph.layer_of(n) == layer]
        if members:
            lines.append(f"  classDef {layer} fill:{colour},stroke:#333")
            lines.append(f"  class {','.join(members)} {layer}")
    return "\n".join(lines) + "\n"


def dot(graph: Graph, names: list[str]) -> str:
    """A Graphviz digraph with one cluster per layer."""
    keep = set(names)
    lines = ["digraph medallion {", "  rankdir=LR;", "  node [shape=box, style=filled];"]
    for layer in ("bronze", "silver", "gold"):
        members = [n for n in names if graph.layer_of(n) == layer]
        if not members:
            continue
        lines.append(f"  subgraph cluster_{layer} {{")
        lines.append(f'    label="{layer}";')
        lines.extend(f'    "{n}" [fillcolor="{_STYLE[layer]}"];' for n in members)
        lines.append("  }")
    for name in names:
        for up in sorted(graph.upstream[name] & keep):
            lines.append(f'  "{up}" -> "{name}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS = ("mermaid", "dot", "drawio", "erd", "erd-drawio")


def render(format_: str, graph: Graph, names: list[str], project: Project) -> str:
    """The diagram ``medallion graph --format`` prints: lineage (mermaid, dot), the deployed
    architecture + lineage as draw.io (drawio), or the silver/gold data model (erd: Mermaid
    erDiagram; erd-drawio: draw.io)."""
    from engine.plan.drawio import drawio
    from engine.plan.erd import drawio_erd, mermaid_erd

    if format_ == "mermaid":
        return mermaid(graph, names)
    if format_ == "dot":
        return dot(graph, names)
    if format_ == "drawio":
        return drawio(project, graph, names)
    if format_ == "erd":
        return mermaid_erd(graph)
    if format_ == "erd-drawio":
        return drawio_erd(graph)
    raise UsageError(f"--format must be one of {', '.join(FORMATS)}{did_you_mean(format_, FORMATS)}")
