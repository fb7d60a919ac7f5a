"""Column-level lineage: where a column of a table comes from, down to the raw files.

Built on the schemas ``medallion validate`` derives (engine/plan/check.py): each derived column
records the expression that made it and the input columns it reads; following those origins
from spec to spec gives the whole chain, printed as an indented tree.
"""

from __future__ import annotations

from engine.errors import UsageError
from engine.plan.check import ProjectSchemas
from engine.plan.columns import find
from engine.plan.graph import Graph
from engine.spec.suggest import did_you_mean


def _split(target: str, schemas: ProjectSchemas) -> tuple[str, str]:
    parts = target.split(".")
    if len(parts) != 3:
        raise UsageError(f"--columns takes TABLE.COLUMN, e.g. gold.sales_trends.revenue (got '{target}')")
    table = ".".join(parts[:2])
    if table not in schemas.outputs:
        raise UsageError(f"no table '{table}'{did_you_mean(table, schemas.outputs)}")
    return table, parts[2]


def lineage_lines(graph: Graph, schemas: ProjectSchemas, target: str) -> list[str]:
    """The lineage tree of ``TABLE.COLUMN``, one line per column on the way to the sources."""
    table, column = _split(target, schemas)
    frame = schemas.outputs[table]
    if frame is None:
        raise UsageError(f"the columns of {table} are not known before a run (e.g. a Parquet read without columns:)")
    if find(frame, column) is None:
        raise UsageError(f"{table} has no column '{column}'{did_you_mean(column, frame)}")
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()

    def walk(tbl: str, col: str, depth: int) -> None:
        pad = "  " * depth
        out = schemas.outputs.get(tbl)
        key = find(out, col) if out else None
        if key is None:
            lines.append(f"{pad}{tbl.removeprefix('file:')}: {col}" if ":" in tbl else f"{pad}{tbl}.{col}")
            return
        info = out[key]
        where = f"{graph.specs[tbl].path}:{info.line}" if info.line else str(graph.specs[tbl].path)
        how = f" = {' '.join(info.expr.split())}" if info.expr else ""
        lines.append(f"{pad}{tbl}.{key} [{info.type or '?'}]{how}  ({where})")
        if (tbl, key) in seen:
            if info.sources:
                lines.append(f"{pad}  (shown above)")
            return
        seen.add((tbl, key))
        for origin, name in sorted(info.sources):
            walk(origin, name, depth + 1)

    walk(table, column, 0)
    return lines
