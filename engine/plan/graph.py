"""The dependency graph of a project's specs, built from the tables they read and write.

Discovery finds every spec under the project's spec folders; the graph links a spec to the
specs producing its input tables and refuses, before any Spark starts, what can never run:
two specs writing one table, an input nobody produces, a cycle (named, loop and all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from engine.errors import SpecError, SpecErrors
from engine.spec.loader import LoadedSpec, load_spec
from engine.spec.suggest import did_you_mean


def discover(root: Path, spec_dirs: list[str]) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` under the spec folders, in a stable order."""
    files: list[Path] = []
    for folder in spec_dirs:
        base = root / folder
        if base.is_dir():
            files.extend(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return sorted(files)


def load_all(root: Path, spec_dirs: list[str], variables: Mapping[str, Any]) -> list[LoadedSpec]:
    """Load every spec; collect all errors across files instead of stopping at the first."""
    loaded: list[LoadedSpec] = []
    errors: list[SpecError] = []
    for path in discover(root, spec_dirs):
        try:
            loaded.append(load_spec(path, variables, display_path=path.relative_to(root)))
        except SpecErrors as exc:
            errors.extend(exc.errors)
        except SpecError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    return loaded


@dataclass
class Graph:
    """Specs by name, with upstream/downstream edges and a deterministic run order."""

    specs: dict[str, LoadedSpec]
    upstream: dict[str, set[str]]
    downstream: dict[str, set[str]]
    order: list[str]

    def layer_of(self, name: str) -> str:
        """The layer a spec writes to."""
        return self.specs[name].spec.layer


def build_graph(loaded: list[LoadedSpec]) -> Graph:
    """Link specs through their tables and check the graph can run."""
    errors: list[SpecError] = []
    producers: dict[str, LoadedSpec] = {}
    for item in loaded:
        table = item.spec.output.table
        if table in producers:
            other = producers[table]
            errors.append(item.doc.error(("name",), f"table '{table}' is also written by {other.path}; "
                                         "each table has exactly one spec"))
        else:
            producers[table] = item
    upstream: dict[str, set[str]] = {item.spec.name: set() for item in producers.values()}
    for item in producers.values():
        for alias, table in item.spec.inputs.items():
            if table in producers:
                upstream[item.spec.name].add(producers[table].spec.name)
            else:
                errors.append(item.doc.error(("inputs", alias), f"input '{alias}' reads '{table}', which "
                                             f"no spec writes{did_you_mean(table, producers)}"))
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    downstream: dict[str, set[str]] = {name: set() for name in upstream}
    for name, ups in upstream.items():
        for up in ups:
            downstream[up].add(name)
    specs = {item.spec.name: item for item in producers.values()}
    return Graph(specs, upstream, downstream, _order(upstream, specs))


def _order(upstream: dict[str, set[str]], specs: dict[str, LoadedSpec]) -> list[str]:
    """Topological order, layer then name among ready specs, so plans read predictably."""
    rank = {"bronze": 0, "silver": 1, "gold": 2}
    sorter = TopologicalSorter(upstream)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = exc.args[1]  # [a, b, ..., a]: each node feeds the next
        loop = " -> ".join(cycle)
        raise specs[cycle[0]].doc.error(("inputs",), f"dependency cycle: {loop}") from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: (rank.get(specs[n].spec.layer, 9), n))
        for name in ready:
            order.append(name)
            sorter.done(name)
    return order
