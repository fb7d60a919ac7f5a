"""Compare actual rows with expected rows and describe every difference as a person would.

Differences come in three kinds: a *missing* row (expected, not produced), an *unexpected* row
(produced, not expected) and a *changed* row (paired with an expected row, some cells differ).
Unordered comparisons pair rows by the spec's keys when the expected rows name them, else by
the most equal cells; numbers are equal within the tolerance; dates compare as ISO text.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

Row = dict[str, Any]


def normal(value: Any) -> Any:
    """A comparable form: Decimal -> float, date/datetime -> ISO text (``T`` or space alike)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) >= 19 and value[10] == "T" and value[:4].isdigit():
        return value.replace("T", " ", 1)
    return value


def same(expected: Any, actual: Any, tolerance: float) -> bool:
    """Equal after normalising; numbers within ``tolerance``; NaN equals NaN."""
    e, a = normal(expected), normal(actual)
    if isinstance(e, bool) or isinstance(a, bool):
        return e == a
    if isinstance(e, (int, float)) and isinstance(a, (int, float)):
        if isinstance(e, float) and isinstance(a, float) and math.isnan(e) and math.isnan(a):
            return True
        return abs(float(e) - float(a)) <= tolerance + 1e-9 * max(abs(float(e)), abs(float(a)), 1.0)
    if isinstance(e, str) and isinstance(a, str):
        # a date written for a timestamp at midnight (trunc to a month), or seconds without fraction
        for short, long_ in ((e, a), (a, e)):
            if len(short) in (10, 19) and long_.startswith(short) and long_[len(short):] in (
                    " 00:00:00", " 00:00:00.000000", ".000000", ""):
                return True
    return e == a


def _equal_cells(expected: Row, actual: Row, tolerance: float) -> int:
    return sum(same(v, actual.get(k), tolerance) for k, v in expected.items())


def _show(row: Row) -> str:
    return "{" + ", ".join(f"{k}: {normal(v)!r}" for k, v in row.items()) + "}"


def _changed(expected: Row, actual: Row, tolerance: float, keys: list[str]) -> str:
    # name the row by its keys, else by the cells that did match, else by all it expected
    ident = ({k: expected[k] for k in keys if k in expected}
             or {k: v for k, v in expected.items() if same(v, actual.get(k), tolerance)} or expected)
    cells = [f"{k} expected {normal(v)!r}, got {normal(actual.get(k))!r}"
             for k, v in expected.items() if not same(v, actual.get(k), tolerance)]
    return f"changed    {_show(ident)}: " + "; ".join(cells)


def diff_rows(expected: list[Row], actual: list[Row], *, ordered: bool = False, tolerance: float = 0.0,
              keys: list[str] | None = None) -> list[str]:
    """Lines describing every difference (empty when the rows match)."""
    columns = list(dict.fromkeys(k for row in expected for k in row))
    actual = [{c: row.get(c) for c in columns} for row in actual]
    keys = [k for k in (keys or []) if all(k in row for row in expected)]
    if ordered:
        lines = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            if _equal_cells(e, a, tolerance) != len(e):
                lines.append(f"row {i + 1}: " + _changed(e, a, tolerance, keys))
        lines += [f"missing    {_show(e)}" for e in expected[len(actual):]]
        lines += [f"unexpected {_show(a)}" for a in actual[len(expected):]]
        return lines
    left = list(actual)
    unmatched: list[Row] = []
    for e in expected:  # exact matches first, so pairing below only sees real differences
        hit = next((i for i, a in enumerate(left) if _equal_cells(e, a, tolerance) == len(e)), None)
        if hit is None:
            unmatched.append(e)
        else:
            left.pop(hit)
    lines = []
    for e in unmatched:
        if keys:
            hit = next((i for i, a in enumerate(left) if all(same(e[k], a.get(k), 0.0) for k in keys)), None)
        else:
            scores = [_equal_cells(e, a, tolerance) for a in left]
            best = max(range(len(left)), key=scores.__getitem__, default=None)
            # no shared cell: pair only when the counts say a value changed (one for one)
            hit = best if best is not None and (scores[best] > 0 or len(unmatched) == len(left)) else None
        if hit is None:
            lines.append(f"missing    {_show(e)}")
        else:
            lines.append(_changed(e, left.pop(hit), tolerance, keys))
    lines += [f"unexpected {_show(a)}" for a in left]
    return lines
