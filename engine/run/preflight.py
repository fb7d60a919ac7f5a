"""Checks on raw inputs made before Spark starts, so a bad input writes nothing.

A missing file, an empty file or a CSV header that does not match the declared columns is
reported as one line naming the spec, the file and what to do, with exit code 2.
"""

from __future__ import annotations

import csv
import glob
import io
from pathlib import Path

from engine.errors import InputDataError
from engine.spec.loader import LoadedSpec
from engine.spec.steps import ReadStep


def _files(pattern: str) -> list[Path]:
    """The files Spark reads for a path: a file, a folder (every file in it), or a glob, where
    ``{a,b}`` is either alternative (``order_items{.csv,/*.csv}``: one file, or a folder of them)."""
    found: set[Path] = set()
    for one in glob_alternatives(pattern):
        matches = [Path(p) for p in glob.glob(one, recursive=True)] if any(ch in one for ch in "*?[") else [Path(one)]
        for path in matches:
            if path.is_dir():
                found.update(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))
            elif path.exists():
                found.add(path)
    return sorted(found)


def glob_alternatives(pattern: str) -> list[str]:
    """Expand the first ``{a,b}`` of a glob (and the rest recursively), as Hadoop's globber does."""
    start = pattern.find("{")
    end = pattern.find("}", start)
    if start < 0 or end < 0:
        return [pattern]
    head, tail = pattern[:start], pattern[end + 1:]
    return [x for choice in pattern[start + 1:end].split(",") for x in glob_alternatives(head + choice + tail)]


def _first_record(path: Path, step: ReadStep) -> list[str] | None:
    """The header record; undecodable bytes further on are the data rules' business."""
    with open(path, encoding=step.csv.encoding, errors="replace", newline="") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        return None
    if len(step.csv.delimiter) > 1:  # Spark splits on multi-character separators; Python's csv cannot
        return head.lstrip("\ufeff").splitlines()[0].split(step.csv.delimiter)
    reader = csv.reader(io.StringIO(head.lstrip("\ufeff")), delimiter=step.csv.delimiter,
                        quotechar=step.csv.quote)
    return next(reader, None)


def check_read_step(loaded: LoadedSpec, index: int, step: ReadStep, base_dir: Path) -> None:
    """Raise InputDataError if the step's files are missing, empty or have the wrong header."""
    def fail(message: str) -> InputDataError:
        return InputDataError(f"{loaded.spec.name}: {message}", path=loaded.path,
                              line=loaded.doc.line_of(("steps", index, "path")))

    raw = step.path if "://" in step.path else str(Path(step.path) if Path(step.path).is_absolute()
                                                   else base_dir / step.path)
    if "://" in raw:
        return  # remote storage: checked by the reader itself
    files = _files(raw)
    if not files:
        raise fail(f"input file not found: {raw} — put the file there or point the spec at it "
                   "(e.g. --var raw_dir=DIR)")
    for file in files:
        if file.stat().st_size == 0:
            raise fail(f"input file is empty: {file} — re-export it or remove it")
        if step.format != "csv" or not step.csv.header or not step.columns:
            continue
        header = _first_record(file, step)
        if header is None:
            raise fail(f"input file has no header line: {file}")
        expected = list(step.columns)
        if [h.strip() for h in header] != expected:
            from engine.spec.header_diff import header_mismatch  # issue 21: column-by-column message

            raise fail(f"header of {file} does not match the declared columns: "
                       f"{header_mismatch(expected, header)}; fix the file or the spec's columns")


def preflight(specs: list[LoadedSpec], base_dir: Path) -> None:
    """Check every file read of the selected specs; the first problem stops the run."""
    for loaded in specs:
        for i, step in enumerate(loaded.spec.steps):
            if isinstance(step, ReadStep):
                check_read_step(loaded, i, step, base_dir)
