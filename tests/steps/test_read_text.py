"""format: text - whitespace-aligned, fixed-width and multi-character-delimited files.

Input files are written here; the expected rows were worked out by hand from them.
"""

from __future__ import annotations

from functools import reduce

import pytest
from pydantic import TypeAdapter, ValidationError

from engine.spec.registry import Step
from engine.steps import EXECUTORS
from engine.steps.context import StepContext


def _read(spark, tmp_path, text: str, step: dict):
    (tmp_path / "in.txt").write_text(text, encoding="utf-8")
    model = TypeAdapter(Step).validate_python({"type": "read", "format": "text", "path": "in.txt", **step})
    ctx = StepContext(spark=spark, run_id="r1", base_dir=tmp_path, spec_name="bronze.t", step_label="step 1")
    rows = [tuple(r) for r in EXECUTORS["read"](model, None, ctx).collect()]
    bad = reduce(lambda a, b: a.unionByName(b), ctx.quarantine).collect() if ctx.quarantine else []
    return rows, [(r["_rule"], r["_reason"]) for r in bad]


def test_whitespace_aligned_columns(spark, tmp_path):
    text = "00001 19970101  1  11.77\n\n00002\t19970112   5  77.00\n00003 1 2\n"
    rows, bad = _read(spark, tmp_path, text, {
        "text": {"delimiter": "whitespace"},
        "columns": {"customer": "string", "date": "string", "cds": "int", "amount": "string"}})
    assert sorted(rows) == [("00001", "19970101", 1, "11.77"), ("00002", "19970112", 5, "77.00")]
    assert bad == [("text_fields", "expected 4 fields, found 3: 00003 1 2")]


def test_fixed_width_with_comments_and_overlong_lines(spark, tmp_path):
    text = "# id region channel\n00001north   web   \n00002south   store \n00003east    web   TOO LONG\n00004west\n"
    rows, bad = _read(spark, tmp_path, text, {
        "text": {"widths": [5, 8, 6], "comment": "#"},
        "columns": {"id": "string", "region": "string", "channel": "string"}})
    assert sorted(rows) == [("00001", "north", "web"), ("00002", "south", "store"), ("00004", "west", None)]
    assert bad == [("text_fields", "expected 3 fields, found 4: 00003east    web   TOO LONG")]


def test_multi_character_delimiter_and_header(spark, tmp_path):
    text = "a||b||c\n1||x y||\n2||z||3\n"
    rows, bad = _read(spark, tmp_path, text, {
        "text": {"delimiter": "||", "header": True}, "columns": {"a": "string", "b": "string", "c": "string"}})
    assert sorted(rows) == [("1", "x y", None), ("2", "z", "3")]
    assert bad == []


def test_layout_errors_are_caught_when_the_spec_loads():
    with pytest.raises(ValidationError, match="one width per column"):
        TypeAdapter(Step).validate_python({"type": "read", "format": "text", "path": "x",
                                           "text": {"widths": [1, 2]}, "columns": {"a": "string"}})
    with pytest.raises(ValidationError, match="exactly one of delimiter"):
        TypeAdapter(Step).validate_python({"type": "read", "format": "text", "path": "x",
                                           "text": {"delimiter": "|", "widths": [1]}, "columns": {"a": "string"}})
