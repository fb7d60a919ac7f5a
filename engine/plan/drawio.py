"""draw.io (mxGraph XML) diagrams generated from the project: the deployed architecture and the lineage.

Why generated: a hand-drawn diagram drifts from the specs the day a spec is added. Here every
box comes from the project (the profile says which stores and services run, the specs say which
tables exist and who reads whom) and the layout is computed on a grid, so two boxes never
overlap and the committed ``.drawio`` file is byte-for-byte what the specs generate.

The XML is uncompressed (``<mxGraphModel>`` inside ``<diagram>``), which diagrams.net opens and
``git diff`` can read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from engine.plan.graph import Graph
from engine.spec.project import PostgresWarehouse, Project, RedshiftWarehouse, S3Lake

LAYERS = ("bronze", "silver", "gold")
LAYER_FILL = {"bronze": "#f4d3b0", "silver": "#e3e6ea", "gold": "#fff0b3"}
LAYER_STROKE = {"bronze": "#a0612b", "silver": "#7b8794", "gold": "#b59500"}

# one palette per kind of box in the architecture picture
_KIND_STYLE = {
    "external": "fillColor=#ffffff;strokeColor=#4285f4;dashed=1;",
    "compute": "fillColor=#fde7d3;strokeColor=#d86613;",
    "storage": "fillColor=#dcefd9;strokeColor=#3f8624;",
    "database": "fillColor=#dde6f7;strokeColor=#3b48cc;",
    "orchestration": "fillColor=#f6dcea;strokeColor=#b0084d;",
    "security": "fillColor=#fadada;strokeColor=#c7131f;",
    "network": "fillColor=#ece4f7;strokeColor=#8c4fff;",
    "presentation": "fillColor=#d9f2f2;strokeColor=#147a7a;",
}
_BOX = "rounded=1;whiteSpace=wrap;html=1;arcSize=8;fontSize=12;verticalAlign=middle;"
_EDGE = ("edgeStyle=orthogonalEdgeStyle;rounded=1;html=1;endArrow=block;endFill=1;"
         "fontSize=10;labelBackgroundColor=#ffffff;")


@dataclass
class Vertex:
    """A box: id, label (HTML allowed, already escaped), style and geometry."""

    id: str
    label: str
    style: str
    x: int
    y: int
    width: int
    height: int


@dataclass
class Edge:
    """An arrow from one vertex to another, with an optional label."""

    source: str
    target: str
    label: str = ""
    style: str = _EDGE
    points: list[tuple[int, int]] = field(default_factory=list)  # waypoints, so long edges avoid boxes


@dataclass
class Page:
    """One page of a .drawio file."""

    name: str
    vertices: list[Vertex] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def add(self, vertex: Vertex) -> None:
        self.vertices.append(vertex)

    def link(self, source: str, target: str, label: str = "", style: str = _EDGE,
             points: list[tuple[int, int]] | None = None) -> None:
        self.edges.append(Edge(source, target, label, style, list(points or [])))


def overlapping(vertices: Iterable[Vertex]) -> list[tuple[str, str]]:
    """Pairs of vertices whose rectangles intersect (touching edges do not count)."""
    items = list(vertices)
    pairs = []
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height:
                pairs.append((a.id, b.id))
    return pairs


def to_xml(pages: list[Page]) -> str:
    """The .drawio file: an ``<mxfile>`` with one uncompressed ``<diagram>`` per page."""
    out = ['<mxfile host="medallion" type="device">']
    for index, page in enumerate(pages):
        width = max((v.x + v.width for v in page.vertices), default=0) + 40
        height = max((v.y + v.height for v in page.vertices), default=0) + 40
        out.append(f'  <diagram id="page-{index}" name={quoteattr(page.name)}>')
        out.append(f'    <mxGraphModel dx="{width}" dy="{height}" grid="1" gridSize="10" guides="1" '
                   f'tooltips="1" connect="1" arrows="1" fold="1" page="1" pageScale="1" '
                   f'pageWidth="{width}" pageHeight="{height}" math="0" shadow="0">')
        out.append("      <root>")
        out.append('        <mxCell id="0"/>')
        out.append('        <mxCell id="1" parent="0"/>')
        for v in page.vertices:
            out.append(f'        <mxCell id={quoteattr(v.id)} value={quoteattr(v.label)} style={quoteattr(v.style)} '
                       f'vertex="1" parent="1">')
            out.append(f'          <mxGeometry x="{v.x}" y="{v.y}" width="{v.width}" height="{v.height}" '
                       'as="geometry"/>')
            out.append("        </mxCell>")
        for i, e in enumerate(page.edges):
            out.append(f'        <mxCell id="e{i}-{escape(e.source)}-{escape(e.target)}" value={quoteattr(e.label)} '
                       f'style={quoteattr(e.style)} edge="1" parent="1" source={quoteattr(e.source)} '
                       f'target={quoteattr(e.target)}>')
            if e.points:
                out.append('          <mxGeometry relative="1" as="geometry">')
                out.append('            <Array as="points">')
                out.extend(f'              <mxPoint x="{x}" y="{y}"/>' for x, y in e.points)
                out.append("            </Array>")
                out.append("          </mxGeometry>")
            else:
                out.append('          <mxGeometry relative="1" as="geometry"/>')
            out.append("        </mxCell>")
        out.append("      </root>")
        out.append("    </mxGraphModel>")
        out.append("  </diagram>")
    out.append("</mxfile>")
    return "\n".join(out) + "\n"


def _html(title: str, *lines: str) -> str:
    body = "".join(f"<br/><font style=\"font-size:10px\">{escape(line)}</font>" for line in lines)
    return f"<b>{escape(title)}</b>{body}"


# ---------------------------------------------------------------------------------------------
# lineage


def _depths(graph: Graph, names: list[str]) -> dict[str, int]:
    """Longest path from a root within the selection: a spec sits right of everything it reads."""
    keep = set(names)
    depth: dict[str, int] = {}
    for name in graph.order:
        if name in keep:
            ups = [depth[u] for u in graph.upstream[name] if u in keep]
            depth[name] = 1 + max(ups) if ups else 0
    return depth


def lineage_page(graph: Graph, names: list[str]) -> Page:
    """Specs in columns by depth (left reads nothing selected, right reads the most), coloured by layer.

    Rows within a column follow the mean row of what each spec reads (one barycentre sweep), and
    an edge spanning several columns runs in the free strip above its target's row, so no
    arrow crosses a box.
    """
    page = Page("Lineage")
    depth = _depths(graph, names)
    col_w, row_h, box_w, box_h = 250, 70, 200, 44
    keep = set(names)
    columns: dict[int, list[str]] = {}
    for name in names:  # names come in run order, so ties stay stable
        columns.setdefault(depth[name], []).append(name)
    row: dict[str, int] = {}
    for col in sorted(columns):
        def centre(name: str) -> float:
            ups = [row[u] for u in graph.upstream[name] if u in keep and u in row]
            return sum(ups) / len(ups) if ups else 0.0
        for index, name in enumerate(sorted(columns[col], key=centre)):
            row[name] = index
    place: dict[str, tuple[int, int]] = {}
    for name in names:
        layer = graph.layer_of(name)
        style = (_BOX + f"fillColor={LAYER_FILL.get(layer, '#ffffff')};"
                 f"strokeColor={LAYER_STROKE.get(layer, '#333333')};")
        x, y = 40 + depth[name] * col_w, 40 + row[name] * row_h
        place[name] = (x, y)
        page.add(Vertex(_cell_id(name), escape(name), style, x, y, box_w, box_h))
    gap = col_w - box_w
    for name in names:
        for up in sorted(graph.upstream[name] & keep):
            style = _EDGE + "strokeColor=#666666;exitX=1;exitY=0.5;entryX=0;entryY=0.5;"
            (sx, sy), (tx, ty) = place[up], place[name]
            points: list[tuple[int, int]] = []
            if depth[name] - depth[up] > 1:
                channel = ty - (row_h - box_h) // 2  # the free strip above the target's row
                points = [(sx + box_w + gap // 3, channel), (tx - gap // 3, channel)]
            page.link(_cell_id(up), _cell_id(name), style=style, points=points)
    return page


def _cell_id(name: str) -> str:
    return "t-" + name.replace(".", "-")


# ---------------------------------------------------------------------------------------------
# architecture


def architecture_page(project: Project, graph: Graph) -> Page:
    """The project as deployed by its profile: sources, compute per layer, stores, consumers, controls.

    A fixed grid: the data flow runs left to right along the middle row, the layers' job runs
    stack in one column (bronze above, gold below), orchestration and alerts sit on the top row
    and the controls (secrets, catalog, endpoint, key) on the bottom row, so arrows run in the
    free lanes between boxes.
    """
    profile = project.profile
    deploy = profile.deploy
    on_aws = isinstance(profile.lake, S3Lake)
    counts = {layer: sum(1 for s in graph.specs.values() if s.spec.layer == layer) for layer in LAYERS}
    layers = [layer for layer in LAYERS if counts[layer]]
    jdbc = any(step.type == "jdbc" for s in graph.specs.values() for step in s.spec.steps)
    drive = deploy.drive if deploy else None
    page = Page("Architecture")
    col_w, row_h, box_w, box_h, top = 250, 130, 170, 80, 60
    main = 2  # the row of the data flow

    def box(node_id: str, kind: str, col: int, row: int, title: str, *lines: str) -> None:
        page.add(Vertex(node_id, _html(title, *lines), _BOX + _KIND_STYLE[kind],
                        40 + col * col_w, top + row * row_h, box_w, box_h))

    def link(a: str, b: str, label: str = "", colour: str = "", ports: str = "", dashed: bool = False,
             points: list[tuple[int, int]] | None = None) -> None:
        style = _EDGE + (f"strokeColor={colour};fontColor={colour};" if colour else "") + ports
        page.link(a, b, label, style + ("dashed=1;" if dashed else ""), points)

    col = 0
    if drive:
        box("schedule", "orchestration", 0, 0, "EventBridge schedule", drive.schedule)
        box("drive", "external", 0, main, "Google Drive folder", "shared raw files", f"folder {drive.folder_id[:8]}…")
        box("lambda", "compute", 1, main, "Lambda: Drive ingestion", "changed files only (md5)",
            "temp key → verify → copy")
        box("drive-secret", "security", 1, main + 1, "Secrets Manager", "Drive service-account key")
        link("schedule", "lambda", "starts", ports="exitX=1;exitY=0.5;entryX=0.3;entryY=0;")
        link("drive", "lambda", "Drive v3")
        link("drive-secret", "lambda", "key")
        col = 2
    box("raw", "storage", col, main, "S3 raw bucket" if on_aws else "Raw files folder",
        "dated prefix + manifest" if drive else "source CSV files", "SSE-KMS" if on_aws else "")
    if drive:
        link("lambda", "raw", "copy")
    upstream = "raw"
    col += 1
    if jdbc or (deploy and deploy.source):
        box("rds", "database", col, main, "RDS PostgreSQL" if on_aws else "PostgreSQL source", "source database",
            "private subnets" if on_aws else "")
        link("raw", "rds", "load")
        upstream = "rds"
        col += 1
    jobs_col = col
    engine_title = "Glue job run per spec" if on_aws else "Spark (one session)"
    first_row = main - (1 if len(layers) > 1 else 0)
    for index, layer in enumerate(layers):
        box(f"job-{layer}", "compute", jobs_col, first_row + index, f"{engine_title}: {layer}",
            f"{counts[layer]} spec(s)", "one run each" if on_aws else "in dependency order")
        if index:
            link(f"job-{layers[index - 1]}", f"job-{layer}", "then")
    if layers:
        link(upstream, f"job-{layers[0]}", "JDBC" if upstream == "rds" else "read",
             ports="exitX=1;exitY=0.5;entryX=0;entryY=0.5;")
    lake_col = jobs_col + 1
    box("lake", "storage", lake_col, main, "S3 lake" if on_aws else "Parquet lake", "versioned tables, run records",
        "SSE-KMS" if on_aws else "local folder")
    for index, layer in enumerate(layers):
        entry = (index + 1) / (len(layers) + 1)
        link(f"job-{layer}", "lake", "commit" if index == 0 else "", colour="#3f8624",
             ports=f"exitX=1;exitY=0.5;entryX=0;entryY={entry:.2f};")
    warehouse = profile.warehouse
    wh_title = ("Redshift Serverless" if isinstance(warehouse, RedshiftWarehouse)
                else "PostgreSQL warehouse" if isinstance(warehouse, PostgresWarehouse) else "DuckDB warehouse")
    box("warehouse", "database", lake_col + 1, main, wh_title, "silver + gold published")
    link("lake", "warehouse", "COPY" if on_aws else "load")
    # a page per dashboard block that is not a section of another page (``part_of``)
    pages = sum(1 for s in graph.specs.values() if s.spec.dashboard and not s.spec.dashboard.get("part_of"))
    box("dashboards", "presentation", lake_col + 2, main, "Streamlit dashboards", f"{pages} page(s)",
        "read the warehouse")
    link("warehouse", "dashboards", "SQL")
    if on_aws:
        bottom = main + 2 if len(layers) > 2 else main + 1
        box("catalog", "storage", lake_col, bottom, "Glue Data Catalog", "a table per lake table")
        link("lake", "catalog", "register")
        box("orchestration", "orchestration", jobs_col, 0, "Step Functions" if deploy else "Glue workflow",
            "a run per spec, in order", "retry, resume")
        if layers:
            link("orchestration", f"job-{layers[0]}", "starts", colour="#b0084d", dashed=True)
        box("alerts", "security", lake_col + 1, 0, "SNS alerts",
            f"e-mail {deploy.alarm_email}" if deploy and deploy.alarm_email else "failure e-mails")
        link("orchestration", "alerts", "run failed", colour="#c7131f", dashed=True)
        if drive:
            lam = 40 + 1 * col_w
            link("lambda", "orchestration", "start if changed", colour="#b0084d", dashed=True,
                 ports="exitX=0.75;exitY=0;entryX=0;entryY=0.5;")
            alerts_x = 40 + (lake_col + 1) * col_w + box_w // 2
            link("lambda", "alerts", "file failed", colour="#c7131f", dashed=True,
                 ports="exitX=0.9;exitY=0;entryX=0.5;entryY=0;",
                 points=[(lam + int(box_w * 0.9), top // 2), (alerts_x, top // 2)])
        box("endpoint", "network", jobs_col - 1, bottom, "VPC S3 gateway endpoint", "jobs reach S3 privately")
        if layers:
            link(f"job-{layers[-1]}", "endpoint", "S3 traffic", colour="#8c4fff", dashed=True,
                 ports="exitX=0;exitY=0.5;entryX=1;entryY=0.5;" if bottom == first_row + len(layers) - 1 else "")
        box("kms", "security", lake_col + 1, bottom, "KMS key (rotated)", "raw, lake, secrets, logs,",
            "Redshift, alerts")
        box("secrets", "security", lake_col + 2, bottom, "Secrets Manager",
            "warehouse + source credentials,", "tokenising HMAC key")
    return page


def drawio(project: Project, graph: Graph, names: list[str]) -> str:
    """Two pages: the deployed architecture, then the lineage of the selected specs."""
    return to_xml([architecture_page(project, graph), lineage_page(graph, names)])
