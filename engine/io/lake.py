"""Lake storage with atomic table commits.

A table is a folder of immutable versions plus a small pointer file. A write goes to a fresh
version folder; only when it has fully succeeded does the pointer switch (write a temp file,
then an atomic rename). Readers resolve the pointer, so they see the previous version or the
new one, never a half-written table. Old versions are pruned after a commit, keeping the last N.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from engine.errors import RunError

POINTER = "_current.json"
MANIFEST = "_manifest.json"


@dataclass
class TableVersion:
    """One committed version of a table, as recorded in its pointer file."""

    table: str
    version: int
    path: str
    rows: int
    columns: list[dict[str, str]] = field(default_factory=list)
    partition_by: list[str] = field(default_factory=list)
    committed_at: str = ""
    run_id: str = ""
    watermark: str | None = None


@dataclass
class PendingWrite:
    """A version folder being written; becomes visible only through :meth:`LocalLake.commit`."""

    table: str
    version: int
    path: Path


class LocalLake:
    """Tables under a local folder: ``<root>/<layer>/<name>/v000001/`` and a pointer file."""

    def __init__(self, root: Path, keep_versions: int = 5):
        self.root = root
        self.keep_versions = keep_versions

    def table_dir(self, table: str) -> Path:
        """Folder holding all versions of ``table`` (``layer.name``)."""
        layer, name = table.split(".", 1)
        return self.root / layer / name

    def current(self, table: str) -> TableVersion | None:
        """The committed version readers should use, or None if never committed."""
        pointer = self.table_dir(table) / POINTER
        if not pointer.is_file():
            return None
        return TableVersion(**json.loads(pointer.read_text(encoding="utf-8")))

    def require(self, table: str) -> TableVersion:
        """The current version, or a clear error saying how to produce it."""
        found = self.current(table)
        if found is None:
            raise RunError(f"table '{table}' has no committed version in {self.root}; "
                           f"run its spec first (e.g. medallion run --select +{table})")
        return found

    def begin(self, table: str) -> PendingWrite:
        """Reserve the next version folder for a write (not yet visible to readers).

        Folders without a manifest were never committed (a crash mid-write); the caller holds
        the lake lock, so nobody else is writing them and they are removed here.
        """
        base = self.table_dir(table)
        base.mkdir(parents=True, exist_ok=True)
        current = self.current(table)
        for folder in base.glob("v[0-9]*"):
            uncommitted = not (folder / MANIFEST).is_file()
            if folder.name[1:].isdigit() and uncommitted and (not current or int(folder.name[1:]) != current.version):
                shutil.rmtree(folder, ignore_errors=True)
        existing = [int(p.name[1:]) for p in base.glob("v[0-9]*") if p.name[1:].isdigit()]
        version = max([0, *existing, current.version if current else 0]) + 1
        return PendingWrite(table, version, base / f"v{version:06d}")

    def commit(self, pending: PendingWrite, *, rows: int, columns: list[dict[str, str]],
               partition_by: list[str], run_id: str, watermark: str | None = None) -> TableVersion:
        """Switch the pointer to the written version atomically, then prune old versions."""
        if not pending.path.is_dir():
            raise RunError(f"cannot commit {pending.table}: {pending.path} was not written")
        record = TableVersion(
            table=pending.table, version=pending.version, path=str(pending.path.resolve()),
            rows=rows, columns=columns, partition_by=partition_by,
            committed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), run_id=run_id,
            watermark=watermark)
        (pending.path / MANIFEST).write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
        self._switch(record)
        self._prune(pending.table, record.version)
        return record

    def _switch(self, record: TableVersion) -> None:
        """Point readers at ``record`` (temp file + atomic rename)."""
        base = self.table_dir(record.table)
        tmp = base / f".{POINTER}.{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(asdict(record), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, base / POINTER)

    def rollback(self, table: str, version: int | None = None) -> TableVersion:
        """Point ``table`` back at a kept version (default: the one before the current)."""
        current = self.require(table)
        kept = [v for v in self.versions(table) if (self.table_dir(table) / f"v{v:06d}" / MANIFEST).is_file()]
        if version is None:
            older = [v for v in kept if v < current.version]
            if not older:
                raise RunError(f"{table} has no version before {current.version} to roll back to "
                               f"(kept: {', '.join(map(str, kept)) or 'none'})")
            version = older[-1]
        if version not in kept:
            raise RunError(f"{table} has no version {version} (kept: {', '.join(map(str, kept))})")
        manifest = self.table_dir(table) / f"v{version:06d}" / MANIFEST
        record = TableVersion(**json.loads(manifest.read_text(encoding="utf-8")))
        self._switch(record)
        return record

    def abort(self, pending: PendingWrite) -> None:
        """Remove a failed write's folder; the pointer never moved, so readers saw nothing."""
        shutil.rmtree(pending.path, ignore_errors=True)

    def versions(self, table: str) -> list[int]:
        """Version numbers present on disk, oldest first."""
        base = self.table_dir(table)
        return sorted(int(p.name[1:]) for p in base.glob("v[0-9]*") if p.name[1:].isdigit())

    def _prune(self, table: str, current: int) -> None:
        keep = [v for v in self.versions(table) if v <= current][-self.keep_versions:]
        for version in self.versions(table):
            if version != current and version not in keep:
                shutil.rmtree(self.table_dir(table) / f"v{version:06d}", ignore_errors=True)

    def tables(self) -> list[TableVersion]:
        """Every committed table in the lake."""
        if not self.root.is_dir():
            return []
        found = []
        for pointer in sorted(self.root.glob(f"*/*/{POINTER}")):
            found.append(TableVersion(**json.loads(pointer.read_text(encoding="utf-8"))))
        return found
