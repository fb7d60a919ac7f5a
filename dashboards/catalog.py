"""Which pages exist: one per spec with a ``dashboard:`` block, in the graph's order.

Why from the graph: the same specs the run executes define the pages, so a new mart YAML is a
new page. A block that does not validate becomes a page showing its errors (``file:line:
message``, the same lines ``medallion validate`` prints), so one broken YAML never takes the
other pages down. ``part_of`` makes a spec a section of
another spec's page (supporting tables read next to their main mart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboards.schema import Dashboard
from dashboards.validate import blocks_of, check_board, parse_block
from dashboards.vocabulary import Vocabulary


@dataclass
class PageSpec:
    """One page (or section): the spec's table, its validated block and its column docs."""

    name: str
    table: str
    path: Path
    description: str | None
    columns: dict[str, Any]
    board: Dashboard | None = None
    error: str | None = None
    sections: list["PageSpec"] = field(default_factory=list)

    @property
    def slug(self) -> str:
        """URL path of the page: the table name without its layer."""
        return re.sub(r"[^a-z0-9_]", "_", self.table.split(".", 1)[-1].lower())

    @property
    def title(self) -> str:
        """The block's title, or the table name when the block is broken."""
        return self.board.title if self.board else self.table


def load_pages(graph: Any, root: Path, vocabulary: Vocabulary | None = None) -> list[PageSpec]:
    """Top-level pages (with their sections) from every spec that has a dashboard block."""
    from engine.errors import SpecError, SpecErrors

    vocabulary = vocabulary or Vocabulary()
    found: list[tuple[int, int, PageSpec]] = []
    for index, (name, loaded) in enumerate(blocks_of(graph)):
        spec = loaded.spec
        page = PageSpec(name=name, table=spec.output.table, path=Path(loaded.path),
                        description=spec.description, columns=dict(spec.columns))
        try:
            page.board = parse_block(spec.dashboard, loaded.doc)
        except SpecError as exc:
            page.error = "\n".join(str(e) for e in (exc.errors if isinstance(exc, SpecErrors) else [exc]))
        order = page.board.order if page.board and page.board.order is not None else 1000
        found.append((order, index, page))
    found.sort(key=lambda t: (t[0], t[1]))
    pages = [p for _, _, p in found]
    targets = [p.table for p in pages if p.board and not p.board.part_of]
    for page in pages:
        if page.board:
            errors = check_board(page.board, list(page.columns), graph.specs[page.name].doc, targets, vocabulary)
            if errors:
                page.error = "\n".join(str(e) for e in errors)
    by_table = {p.table: p for p in pages}
    top = []
    for page in pages:
        parent = by_table.get(page.board.part_of) if page.board and page.board.part_of else None
        if parent is not None and parent is not page and not page.error:
            parent.sections.append(page)
        else:
            top.append(page)
    return top


def definition_text(root: Path, page: PageSpec) -> str | None:
    """The section of the definitions document whose heading names the table (or the given heading)."""
    if not page.board:
        return None
    doc = root / page.board.definition.doc
    if not doc.is_file():
        return None
    needle = page.board.definition.heading or page.table
    lines = doc.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#") and needle in line:
            level = len(line) - len(line.lstrip("#"))
            out = [line]
            for nxt in lines[i + 1:]:
                if nxt.startswith("#") and len(nxt) - len(nxt.lstrip("#")) <= level:
                    break
                out.append(nxt)
            return "\n".join(out).strip()
    return None
