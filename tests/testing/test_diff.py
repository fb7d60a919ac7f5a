"""Row diffs of spec tests: every kind of difference, worded as the user reads it (pure Python)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine.testing.diff import diff_rows


def test_matching_rows_give_no_lines_with_types_normalised():
    expected = [{"d": "2024-01-31", "x": 1.5, "n": 2}]
    actual = [{"d": date(2024, 1, 31), "x": Decimal("1.50"), "n": 2, "other": "ignored"}]
    assert diff_rows(expected, actual) == []


def test_missing_unexpected_and_changed_are_told_apart():
    expected = [{"id": "a", "v": 1}, {"id": "b", "v": 2}, {"id": "c", "v": 3}]
    actual = [{"id": "a", "v": 1}, {"id": "b", "v": 5}, {"id": "z", "v": 9}]
    assert diff_rows(expected, actual, keys=["id"]) == [
        "changed    {id: 'b'}: v expected 2, got 5",
        "missing    {id: 'c', v: 3}",
        "unexpected {id: 'z', v: 9}",
    ]


def test_tolerance_and_order():
    assert diff_rows([{"x": 1.0}], [{"x": 1.004}], tolerance=0.005) == []
    assert diff_rows([{"x": 1.0}], [{"x": 1.006}], tolerance=0.005) == ["changed    {x: 1.0}: x expected 1.0, got 1.006"]
    rows = [{"i": 1}, {"i": 2}]
    assert diff_rows(rows, list(reversed(rows))) == []
    assert diff_rows(rows, list(reversed(rows)), ordered=True) == [
        "row 1: changed    {i: 1}: i expected 1, got 2", "row 2: changed    {i: 2}: i expected 2, got 1"]


def test_null_and_duplicates_count():
    assert diff_rows([{"x": None}], [{"x": None}]) == []
    assert diff_rows([{"x": 1}], [{"x": 1}, {"x": 1}]) == ["unexpected {x: 1}"]
