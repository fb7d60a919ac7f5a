"""A short summary of each mart: its row count and the KPIs its dashboard block declares.

The KPIs are the same SQL aggregates the dashboard shows, computed in the warehouse, so the
terminal and the dashboard agree.
"""

from __future__ import annotations

from typing import Any

from engine.errors import MedallionError
from engine.plan.graph import Graph


def format_value(value: Any, fmt: str | None) -> str:
    """A number as people read it: money, percent (of a 0-1 fraction), integer or plain."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        return str(value)
    number = float(value)
    if fmt == "money":
        return f"${number:,.2f}"
    if fmt == "percent":  # a fraction: 0.226 reads 22.6%
        return f"{100 * number:,.1f}%"
    if fmt == "integer" or (fmt is None and number.is_integer()):
        return f"{number:,.0f}"
    return f"{number:,.2f}"


def summarize(graph: Graph, names: list[str], warehouse: Any) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """(table, rows, [(kpi label, value)]) for every selected spec with a dashboard block."""
    out = []
    for name in names:
        spec = graph.specs[name].spec
        if not spec.dashboard:
            continue
        table = spec.output.table
        kpis = [k for k in spec.dashboard.get("kpis", []) if isinstance(k, dict) and "value" in k]
        exprs = ["count(*)"] + [str(k["value"]) for k in kpis]
        try:
            _, rows = warehouse.query(f"SELECT {', '.join(exprs)} FROM {table}")
            values = rows[0]
        except MedallionError as exc:
            out.append((table, -1, [("error", str(exc))]))
            continue
        pairs = [(str(k.get("label", k["value"])), format_value(v, k.get("format")))
                 for k, v in zip(kpis, values[1:])]
        out.append((table, int(values[0]), pairs))
    return out


def built_by(lake: Any, store: Any, spec: str, table: str) -> tuple[str | None, dict[str, int] | None]:
    """The run that committed ``table``'s current version and the Spark work its spec did there.

    (None, None) when the table has no version or its run left no record (an older lake, a
    record pruned by hand); the summary then simply shows no Spark figures.
    """
    try:
        current = lake.current(table)
    except MedallionError:
        return None, None
    if current is None or not current.run_id:
        return None, None
    record = store.load(current.run_id)
    entry = next((s for s in record.specs if s.spec == spec), None) if record is not None else None
    return current.run_id, entry.spark if entry is not None else None
