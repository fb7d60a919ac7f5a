"""Say how a file's header differs from the declared columns, position by position.

"unexpected , , " told nobody anything (a header with blank names); naming each position with
what was expected and what was found, blanks shown as such, does.
"""

from __future__ import annotations

from itertools import zip_longest


def _shown(name: str | None) -> str:
    if name is None:
        return "(nothing)"
    return "(blank)" if not name.strip() else repr(name.strip())


def header_mismatch(expected: list[str], found: list[str], limit: int = 8) -> str:
    """``column 3: expected 'price', found 'prize'; …`` for the positions that differ."""
    diffs = []
    for i, (want, got) in enumerate(zip_longest(expected, found), 1):
        if want is None or got is None or want != got.strip():
            diffs.append(f"column {i}: expected {_shown(want)}, found {_shown(got)}")
    shown = "; ".join(diffs[:limit]) + (f"; and {len(diffs) - limit} more" if len(diffs) > limit else "")
    counts = f" ({len(found)} column(s) found, {len(expected)} declared)" if len(found) != len(expected) else ""
    return shown + counts
