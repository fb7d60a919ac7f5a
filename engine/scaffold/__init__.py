"""``medallion init DIR``: a new project that validates, tests and runs as created.

The template (``template/``) is a small web-events pipeline: a raw CSV in bronze, typed and
cleaned in silver (bad rows quarantined, duplicates removed, every row accounted for), and a
daily gold mart with a spec unit test. It is plain files, copied with the project name filled
in, so what ``init`` creates is exactly what the documentation shows.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import UsageError

TEMPLATE = Path(__file__).with_name("template")
PLACEHOLDER = "__PROJECT_NAME__"


def scaffold(folder: Path, name: str) -> list[Path]:
    """Copy the template into ``folder`` (new or empty); returns the files written."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"{folder} exists and is not an empty folder; pick a new folder for the project")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name).strip("-") or "project"
    written = []
    for source in sorted(TEMPLATE.rglob("*")):
        if source.is_dir() or source.name.startswith(".") or "__pycache__" in source.parts:
            continue
        target = folder / source.relative_to(TEMPLATE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8").replace(PLACEHOLDER, safe), encoding="utf-8")
        written.append(target)
    (folder / ".gitignore").write_text(".lake/\n", encoding="utf-8")
    written.append(folder / ".gitignore")
    return written
