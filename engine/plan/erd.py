"""The data model of the published layers (silver and gold), derived from the specs.

Nothing here is drawn by hand: an entity is a spec's output table; its attributes are the output
keys (PK) followed by the declared ``columns:`` and the columns the spec joins on; a relationship
is either a ``join`` step (the tables behind its two frames, on its ``on`` columns) or an input
whose rows roll up to the output's grain (the input carries every output key) or share it. Cardinality
follows the keys: the side whose keys are all among the join columns is "exactly one".

Rendered as a Mermaid ``erDiagram`` (Markdown) and as a draw.io page (engine/plan/drawio.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from engine.plan.drawio import LAYER_FILL, LAYER_STROKE, Page, Vertex, to_xml
from engine.plan.graph import Graph

PUBLISHED = ("silver", "gold")


@dataclass
class Entity:
    """One table: its keys (the grain) and the attributes the specs declare, with their formats."""

    table: str
    layer: str
    keys: list[str]
    attributes: dict[str, str] = field(default_factory=dict)  # name -> format ("" if undeclared)
    joined: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Relationship:
    """A link between two tables on named columns; ``kind`` says where the specs declare it."""

    left: str
    right: str
    on: tuple[str, ...]
    kind: str  # "join" (a join step of ``spec``), "rolls up" (left's rows aggregate to right's grain), "same grain"
    spec: str


@dataclass
class DataModel:
    entities: dict[str, Entity]
    relationships: list[Relationship]

    def cardinality(self, table: str, on: tuple[str, ...]) -> str:
        """'one' when the columns include all of the table's keys (one row per value), else 'many'."""
        keys = self.entities[table].keys
        return "one" if keys and set(keys) <= set(on) else "many"


def _joins(graph: Graph, name: str) -> tuple[list[tuple[list[str], list[str], list[str]]], set[str]]:
    """For one spec: each join step as (left tables, right tables, on), traced through its frames,
    and the join columns still present in the spec's final frame (they reach the output table)."""
    spec = graph.specs[name].spec
    frames: dict[str, tuple[set[str], set[str]]] = {alias: ({table}, set()) for alias, table in spec.inputs.items()}
    previous: tuple[set[str], set[str]] = (set(), set())
    empty: tuple[set[str], set[str]] = (set(), set())
    joins: list[tuple[list[str], list[str], list[str]]] = []
    for step in spec.steps:
        if step.type == "join":
            left = frames.get(step.left, empty) if step.left else previous
            right = frames.get(step.right, empty)
            joins.append((sorted(left[0]), sorted(right[0]), list(step.on)))
            result = (left[0] | right[0], left[1] | right[1] | set(step.on))
        elif step.type == "sql":
            used = [t for alias, t in frames.items() if _mentions(step.query, alias)]
            result = (set().union(*(u[0] for u in used)), set())
        elif step.type == "union":
            used = [frames.get(ref, empty) for ref in step.frame_refs()]
            result = (set().union(*(u[0] for u in used)), set())
        elif step.needs_input:
            source = frames.get(step.input, empty) if step.input else previous
            carried = source[1]
            if step.type == "select":
                carried = {c for c in carried if c in step.columns}
            elif step.type == "aggregate":
                carried = {c for c in carried if c in step.group_by}
            result = (source[0], carried)
        else:
            result = (set(), set())
        previous = result
        if step.as_:
            frames[step.as_] = result
    return joins, previous[1]


def _mentions(query: str, alias: str) -> bool:
    return re.search(rf"\b{re.escape(alias)}\b", query) is not None


def data_model(graph: Graph) -> DataModel:
    """Entities and relationships of the silver and gold tables."""
    entities: dict[str, Entity] = {}
    for name in graph.order:
        spec = graph.specs[name].spec
        if spec.layer not in PUBLISHED:
            continue
        attrs = {key: "" for key in spec.output.keys}
        for column, doc in spec.columns.items():
            attrs[column] = doc.format or ""
        entities[spec.output.table] = Entity(spec.output.table, spec.layer, list(spec.output.keys), attrs)
    relationships: list[Relationship] = []
    seen: set[tuple[str, str, tuple[str, ...]]] = set()

    def add(rel: Relationship) -> None:
        ident = (rel.left, rel.right, rel.on)
        if ident not in seen and (rel.right, rel.left, rel.on) not in seen:
            seen.add(ident)
            relationships.append(rel)

    for name in graph.order:
        spec = graph.specs[name].spec
        if spec.layer not in PUBLISHED:
            continue
        joins, carried_out = _joins(graph, name)
        out = entities[spec.output.table]
        out.joined.update(carried_out - set(out.keys))
        for lefts, rights, on in joins:
            # a frame mixing several tables (a SQL join, an earlier join) has no one table's
            # grain: only a join of two single-table frames says how two tables relate
            if len(lefts) == 1 and len(rights) == 1 and lefts != rights:
                left, right = lefts[0], rights[0]
                if left in entities and right in entities:
                    for table in (left, right):
                        entities[table].joined.update(on)
                    add(Relationship(left, right, tuple(on), "join", name))
        for table in sorted(set(spec.inputs.values())):
            source = entities.get(table)
            if source is None or not out.keys:
                continue
            if set(source.keys) == set(out.keys):
                add(Relationship(table, out.table, tuple(out.keys), "same grain", name))
            elif set(out.keys) <= set(source.attributes) | source.joined:
                add(Relationship(table, out.table, tuple(out.keys), "rolls up", name))
    for entity in entities.values():
        for column in sorted(entity.joined):
            entity.attributes.setdefault(column, "")
    return DataModel(entities, relationships)


def _ident(table: str) -> str:
    return table.replace(".", "_")


_MERMAID_END = {("left", "many"): "}o", ("left", "one"): "||", ("right", "many"): "o{", ("right", "one"): "||"}


def mermaid_erd(graph: Graph) -> str:
    """A Mermaid ``erDiagram``: one entity per table (PK/FK marked), one line per relationship."""
    model = data_model(graph)
    lines = ["erDiagram"]
    for entity in model.entities.values():
        lines.append(f"  {_ident(entity.table)} {{")
        for column, fmt in entity.attributes.items():
            marks = ",".join(m for m, hit in (("PK", column in entity.keys),
                                              ("FK", column in entity.joined and column not in entity.keys)) if hit)
            lines.append(f"    {fmt or 'column'} {column}{' ' + marks if marks else ''}")
        lines.append("  }")
    for rel in model.relationships:
        left = _MERMAID_END[("left", model.cardinality(rel.left, rel.on))]
        right = _MERMAID_END[("right", model.cardinality(rel.right, rel.on))]
        label = f"{rel.kind} on {', '.join(rel.on)}"
        lines.append(f'  {_ident(rel.left)} {left}--{right} {_ident(rel.right)} : "{label}"')
    return "\n".join(lines) + "\n"


_ER_ARROW = {"one": "ERmandOne", "many": "ERmany"}


def _label(entity: Entity) -> str:
    rows = []
    for column, fmt in entity.attributes.items():
        mark = "PK " if column in entity.keys else ("FK " if column in entity.joined else "")
        rows.append(f"{mark}{escape(column)}" + (f" <i>{escape(fmt)}</i>" if fmt else ""))
    return (f"<b>{escape(entity.table)}</b><hr size=\"1\"/><div style=\"text-align:left\">"
            + "<br/>".join(rows) + "</div>")


def erd_page(graph: Graph, grid_columns: int = 4) -> Page:
    """The data model as a draw.io page.

    Tables that only the pipeline reads from (nothing else in the model derives from them at a
    coarser grain) stay on the left: the first column stacks the tables of the first layer, the
    second the tables the marts share; the marts fill a grid to the right, row by row in run
    order, each row as tall as its tallest table, so boxes never overlap.
    """
    model = data_model(graph)
    page = Page("Data model")
    box_w, line_h, head_h, gap_x, gap_y = 250, 14, 34, 120, 50
    readers: dict[str, int] = {t: 0 for t in model.entities}
    for name in graph.order:
        for table in set(graph.specs[name].spec.inputs.values()):
            if table in readers:
                readers[table] += 1
    layers = [e.layer for e in model.entities.values()]
    first = layers[0] if layers else ""
    stacks: list[list[str]] = [[t for t, e in model.entities.items() if e.layer == first],
                               [t for t, e in model.entities.items() if e.layer != first and readers[t] > 1]]
    grid = [t for t, e in model.entities.items() if e.layer != first and readers[t] <= 1]

    def height(table: str) -> int:
        return head_h + line_h * max(len(model.entities[table].attributes), 1) + 12

    def place(table: str, x: int, y: int) -> None:
        entity = model.entities[table]
        style = ("rounded=0;whiteSpace=wrap;html=1;verticalAlign=top;align=center;fontSize=11;spacing=6;"
                 f"fillColor={LAYER_FILL[entity.layer]};strokeColor={LAYER_STROKE[entity.layer]};")
        page.add(Vertex("er-" + table.replace(".", "-"), _label(entity), style, x, y, box_w, height(table)))

    for index, stack in enumerate(stacks):
        y = 40
        for table in stack:
            place(table, 40 + index * (box_w + gap_x), y)
            y += height(table) + gap_y
    left = 40 + len(stacks) * (box_w + gap_x)
    y = 40
    for row_start in range(0, len(grid), grid_columns):
        row = grid[row_start:row_start + grid_columns]
        for index, table in enumerate(row):
            place(table, left + index * (box_w + gap_x), y)
        y += max(height(t) for t in row) + gap_y
    for rel in model.relationships:
        start = _ER_ARROW[model.cardinality(rel.left, rel.on)]
        end = _ER_ARROW[model.cardinality(rel.right, rel.on)]
        style = (f"edgeStyle=entityRelationEdgeStyle;html=1;fontSize=10;labelBackgroundColor=#ffffff;"
                 f"startArrow={start};endArrow={end};startFill=0;endFill=0;"
                 + ("strokeColor=#1f5fbf;" if rel.kind == "join" else "strokeColor=#666666;dashed=1;"))
        page.link("er-" + rel.left.replace(".", "-"), "er-" + rel.right.replace(".", "-"),
                  f"{rel.kind} on {', '.join(rel.on)}", style)
    return page


def drawio_erd(graph: Graph) -> str:
    """The data model as a one-page .drawio file."""
    return to_xml([erd_page(graph)])
