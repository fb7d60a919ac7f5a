"""The generated sections of docs/solution-design.md: dashboards (metrics), tables, diagrams, cost.

Why generated: the document a business reader signs must describe the pipeline that runs. The
lists come from the specs (names, grains, descriptions, dashboard titles), the diagrams from
``medallion graph``, the cost table from the measured per-spec durations in benchmarks/results.
Each section sits between ``<!-- generated:start NAME -->`` and ``<!-- generated:end NAME -->``;
everything else in the document is written by hand.

Usage (from the project root):  python tools/docs/solution_design.py [--check]
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.plan.erd import mermaid_erd  # noqa: E402
from engine.plan.graph import build_graph, load_all  # noqa: E402
from engine.spec.project import load_project  # noqa: E402

DOC = ROOT / "docs" / "solution-design.md"
# AWS Glue pricing, https://aws.amazon.com/glue/pricing/ (us-east-1, Spark jobs, Glue 2.0 and later):
# $0.44 per DPU-hour, billed per second with a 1-minute minimum per job run; a G.1X worker is 1 DPU.
DPU_HOUR_USD = 0.44
MIN_BILLED_SECONDS = 60
# the measured runs the estimate reads (python benchmarks/bench_pipeline.py --scale N --only engine)
RUN_LOGS = {1: "benchmarks/results/log_s1_20261125T073634_engine_1.txt",
            10: "benchmarks/results/log_s10_20261125T073734_engine_1.txt"}
_LINE = re.compile(r"^\s+ok\s+(?P<spec>\S+)\s+.*\s(?P<seconds>[0-9.]+)s$")


@functools.lru_cache(maxsize=1)
def _graph():
    project = load_project(ROOT, "aws", env={})
    return project, build_graph(load_all(ROOT, project.spec_dirs, project.variables))


def _first_sentence(text: str | None) -> str:
    text = " ".join((text or "").split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return (match.group(1) if match else text).replace("|", "\\|")


def dashboards() -> str:
    """One row per dashboard page: title, table, grain, what a row is."""
    _, graph = _graph()
    rows = ["| dashboard | table | one row per | what it holds |", "|---|---|---|---|"]
    for name in graph.order:
        spec = graph.specs[name].spec
        if spec.dashboard:
            rows.append(f"| {spec.dashboard.get('title', name)} | `{spec.output.table}` | "
                        f"{' × '.join(spec.output.keys) or '—'} | {_first_sentence(spec.description)} |")
    return "\n".join(rows)


def tables() -> str:
    """Every table the pipeline writes, in run order, with its grain and first description sentence."""
    _, graph = _graph()
    rows = ["| layer | table | keys | description |", "|---|---|---|---|"]
    for name in graph.order:
        spec = graph.specs[name].spec
        rows.append(f"| {spec.layer} | `{spec.output.table}` | {', '.join(spec.output.keys) or '—'} | "
                    f"{_first_sentence(spec.description)} |")
    return "\n".join(rows)


def data_model() -> str:
    _, graph = _graph()
    return "```mermaid\n" + mermaid_erd(graph) + "```"


def durations(path: Path) -> dict[str, float]:
    """Seconds per spec from a run log ('ok <spec> ... 12.3s' lines)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _LINE.match(line)
        if match:
            out[match["spec"]] = float(match["seconds"])
    return out


def cost() -> str:
    """Glue cost per pipeline run at each measured scale (one job run per spec, billed separately)."""
    project, graph = _graph()
    deploy = project.profile.deploy
    workers = deploy.workers if deploy else 2
    dpu_per_worker = {"G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8}[deploy.worker_type if deploy else "G.1X"]
    dpus = workers * dpu_per_worker
    rows = ["| scale (order lines) | specs | measured Σ seconds | slowest spec | billed DPU-hours | Glue cost per run |",
            "|---|---:|---:|---|---:|---:|"]
    for scale, log in RUN_LOGS.items():
        measured = durations(ROOT / log)
        missing = sorted(set(graph.order) - set(measured))
        if missing:
            raise SystemExit(f"{log} has no duration for {', '.join(missing)}; rerun the benchmark")
        billed = sum(max(MIN_BILLED_SECONDS, math.ceil(measured[n])) for n in graph.order)
        dpu_hours = billed * dpus / 3600
        slowest = max(graph.order, key=lambda n: measured[n])
        lines = {1: "≈ 200 thousand", 10: "≈ 2 million"}.get(scale, f"scale {scale}")
        rows.append(f"| {scale} ({lines}) | {len(graph.order)} | {sum(measured[n] for n in graph.order):.1f} | "
                    f"`{slowest}` {measured[slowest]:.1f} s | {dpu_hours:.3f} | ${dpu_hours * DPU_HOUR_USD:.2f} |")
    rows.append("")
    rows.append(f"Assumptions: {workers} × {deploy.worker_type if deploy else 'G.1X'} workers = {dpus} DPU per job "
                f"run (medallion.yaml `deploy.workers`, `deploy.worker_type`); ${DPU_HOUR_USD} per DPU-hour and a "
                f"{MIN_BILLED_SECONDS}-second minimum per run (AWS Glue pricing page, "
                "https://aws.amazon.com/glue/pricing/, us-east-1); each spec's duration as measured on the "
                f"2-core benchmark machine ({', '.join(RUN_LOGS.values())}), taken as its Glue run time.")
    return "\n".join(rows)


def diagrams() -> str:
    """The rendered architecture and lineage pages, and the .drawio sources they come from."""
    import xml.etree.ElementTree as ET

    folder = ROOT / "docs" / "diagrams"
    source = folder / "architecture.drawio"
    lines = []
    for diagram in ET.parse(source).getroot().iter("diagram"):
        page = diagram.get("name") or "page"
        slug = re.sub(r"[^a-z0-9]+", "-", page.lower()).strip("-")
        png = f"{source.stem}-{slug}.png"
        if not (folder / png).is_file():
            raise SystemExit(f"docs/diagrams/{png} is missing: python tools/diagrams/render.py --png {source}")
        lines += [f"![{page}](diagrams/{png})", ""]
    pages = ", ".join(f"*{d.get('name')}*" for d in ET.parse(source).getroot().iter("diagram"))
    lines.append(f"Sources: [architecture.drawio](diagrams/architecture.drawio) (pages {pages}),")
    lines.append("[data-model.drawio](diagrams/data-model.drawio).")
    return "\n".join(lines)


SECTIONS = {"dashboards": dashboards, "diagrams": diagrams, "tables": tables, "data-model": data_model, "cost": cost}


def sync(text: str) -> str:
    """``text`` with every generated section replaced by what the project generates now."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- generated:start {re.escape(name)} -->\n)(?:.*?\n)?"
                             rf"(<!-- generated:end {re.escape(name)} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{DOC}: no '<!-- generated:start {name} -->' ... '<!-- generated:end {name} -->' markers")
        body = make()
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the document is out of date")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    wanted = sync(current)
    if args.check:
        if wanted != current:
            print(f"{DOC} is out of date: run python tools/docs/solution_design.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    print(DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
