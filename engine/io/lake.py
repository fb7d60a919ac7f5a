"""Lake storage with atomic table commits, the same protocol on a local folder and on S3.

A table is a set of immutable version folders ``<layer>/<name>/v000001/`` plus a small pointer
object ``_current.json``. A write goes to a fresh version folder; only when it has fully
succeeded is its manifest written and the pointer switched. Readers resolve the pointer, so
they see the previous version or the new one, never a half-written table. Old versions are
pruned after a commit, keeping the last N.

The pointer is switched with compare-and-swap against the pointer a writer saw when it began
(``if_match`` on its tag, ``if_absent`` for a first commit), so two writers that both began from
the same version cannot both publish: the second gets a clear error. Each pending write also
claims its version number with a create-if-absent object under ``_claims/``, so concurrent
writers never share a version folder. The run lock is what normally keeps writers apart; these
checks make a lost lock (a stuck holder taken over as stale) fail loudly instead of silently.
Only the storage (:mod:`engine.io.objectstore`) differs between local and S3.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.errors import RunError
from engine.io.objectstore import LocalStore, ObjectStore, holder_identity, holder_is_stale

POINTER = "_current.json"
MANIFEST = "_manifest.json"
CLAIMS = "_claims"
_VERSION = re.compile(r"^v(\d{6,})$")


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
    """A version folder being written; becomes visible only through :meth:`Lake.commit`.

    ``path`` is where Spark writes (a local folder, or an ``s3://`` URI); ``base_etag`` is the
    pointer this write started from (None: the table had no pointer yet).
    """

    table: str
    version: int
    path: Any
    base_etag: str | None = None


def _dump(record: TableVersion) -> bytes:
    return json.dumps(asdict(record), indent=2).encode("utf-8")


class Lake:
    """Versioned tables on an :class:`ObjectStore`; the caller holds the lake lock while writing."""

    def __init__(self, store: ObjectStore, keep_versions: int = 5, stale_after_seconds: float = 6 * 3600):
        self.store = store
        self.keep_versions = keep_versions
        self.stale_after = stale_after_seconds

    @property
    def root(self) -> Any:
        """Where the lake lives (a folder, or the S3 store); the lock and run store go there too."""
        return self.store

    @staticmethod
    def _key(table: str) -> str:
        layer, name = table.split(".", 1)
        return f"{layer}/{name}"

    def _vkey(self, table: str, version: int) -> str:
        return f"{self._key(table)}/v{version:06d}"

    def _claim_key(self, table: str, version: int) -> str:
        return f"{self._key(table)}/{CLAIMS}/v{version:06d}.json"

    def _path_text(self, location: Any) -> str:
        return str(location)

    def _pointer(self, table: str) -> tuple[TableVersion | None, str | None]:
        blob = self.store.get(f"{self._key(table)}/{POINTER}")
        if blob is None:
            return None, None
        return TableVersion(**json.loads(blob.data)), blob.etag

    def current(self, table: str) -> TableVersion | None:
        """The committed version readers should use, or None if never committed."""
        return self._pointer(table)[0]

    def require(self, table: str) -> TableVersion:
        """The current version, or a clear error saying how to produce it."""
        found = self.current(table)
        if found is None:
            raise RunError(f"table '{table}' has no committed version in {self.root}; "
                           f"run its spec first (e.g. medallion run --select +{table})")
        return found

    def version_bytes(self, version: TableVersion) -> int:
        """Bytes of one committed version's files (local folder or S3 prefix alike)."""
        return self.store.size(self._vkey(version.table, version.version))

    def versions(self, table: str) -> list[int]:
        """Version numbers present in storage (committed or not), oldest first."""
        found = (_VERSION.match(n) for n in self.store.children(self._key(table)))
        return sorted(int(m[1]) for m in found if m)

    def _claims(self, table: str) -> dict[int, dict[str, Any]]:
        out = {}
        for name in self.store.children(f"{self._key(table)}/{CLAIMS}"):
            m = _VERSION.match(name.removesuffix(".json"))
            blob = self.store.get(f"{self._key(table)}/{CLAIMS}/{name}") if m else None
            if m and blob is not None:
                out[int(m[1])] = json.loads(blob.data)
        return out

    def _committed(self, table: str, version: int) -> bool:
        return self.store.get(f"{self._vkey(table, version)}/{MANIFEST}") is not None

    def _drop(self, table: str, version: int) -> None:
        self.store.delete_prefix(self._vkey(table, version))
        self.store.delete(self._claim_key(table, version))

    def begin(self, table: str) -> PendingWrite:
        """Claim the next version folder for a write (not yet visible to readers).

        Versions without a manifest were never committed; those whose writer is gone (a crash
        mid-write: dead process, or a claim older than the stale timeout) are removed here so
        their number is reused. A live writer's claim is left alone and skipped.
        """
        current, etag = self._pointer(table)
        claims = self._claims(table)
        for version in sorted(set(self.versions(table)) | set(claims)):
            if (current and version == current.version) or self._committed(table, version):
                continue
            claim = claims.get(version)
            if claim is None or holder_is_stale(claim, self.stale_after):
                self._drop(table, version)
                claims.pop(version, None)
        taken = [*self.versions(table), *claims, current.version if current else 0]
        version = max([0, *taken]) + 1
        while self.store.put(self._claim_key(table, version), json.dumps(holder_identity()).encode(),
                             if_absent=True) is None:
            version += 1  # another writer claimed it between our listing and now
        return PendingWrite(table, version, self.store.location(self._vkey(table, version)), etag)

    def commit(self, pending: PendingWrite, *, rows: int, columns: list[dict[str, str]],
               partition_by: list[str], run_id: str, watermark: str | None = None) -> TableVersion:
        """Write the manifest, switch the pointer by compare-and-swap, then prune old versions."""
        vkey = self._vkey(pending.table, pending.version)
        if self._pointer(pending.table)[1] != pending.base_etag:
            self._conflict(pending.table, pending.version)  # fail before writing anything
        if not self.store.has_prefix(vkey):
            raise RunError(f"cannot commit {pending.table}: {pending.path} was not written")
        record = TableVersion(
            table=pending.table, version=pending.version, path=self._path_text(pending.path),
            rows=rows, columns=columns, partition_by=partition_by,
            committed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), run_id=run_id,
            watermark=watermark)
        self.store.put(f"{vkey}/{MANIFEST}", _dump(record))
        self._switch(record, pending.base_etag)
        self.store.delete(self._claim_key(pending.table, pending.version))
        self._prune(pending.table, record.version)
        return record

    def _switch(self, record: TableVersion, expected: str | None) -> None:
        """Point readers at ``record`` if the pointer is still the one this writer saw."""
        key = f"{self._key(record.table)}/{POINTER}"
        data = _dump(record)
        if expected is None:
            done = self.store.put(key, data, if_absent=True)
        else:
            done = self.store.put(key, data, if_match=expected)
        if done is None and (blob := self.store.get(key)) is not None and blob.data == data:
            return  # our own earlier attempt landed (a retried request): already switched
        if done is None:
            self._conflict(record.table, record.version)

    def _conflict(self, table: str, version: int) -> None:
        now = self.current(table)
        raise RunError(f"cannot commit {table} version {version}: another writer moved "
                       f"its pointer meanwhile (now version {now.version if now else 'none'}"
                       f"{', run ' + now.run_id if now and now.run_id else ''}); this write was not "
                       "published; re-run to build on the new version")

    def rollback(self, table: str, version: int | None = None) -> TableVersion:
        """Point ``table`` back at a kept version (default: the one before the current)."""
        current, etag = self._pointer(table)
        if current is None:
            current = self.require(table)
        kept = [v for v in self.versions(table) if self._committed(table, v)]
        if version is None:
            older = [v for v in kept if v < current.version]
            if not older:
                raise RunError(f"{table} has no version before {current.version} to roll back to "
                               f"(kept: {', '.join(map(str, kept)) or 'none'})")
            version = older[-1]
        if version not in kept:
            raise RunError(f"{table} has no version {version} (kept: {', '.join(map(str, kept))})")
        manifest = self.store.get(f"{self._vkey(table, version)}/{MANIFEST}")
        assert manifest is not None
        record = TableVersion(**json.loads(manifest.data))
        self._switch(record, etag)
        return record

    def abort(self, pending: PendingWrite) -> None:
        """Remove a failed write's folder and claim; the pointer never moved, so readers saw nothing."""
        self._drop(pending.table, pending.version)

    def _prune(self, table: str, current: int) -> None:
        """Keep the last N committed versions up to the current one.

        Uncommitted versions below the current one are dropped too: their writers began from an
        older pointer, so their commit could never succeed.
        """
        present = self.versions(table)
        keep = [v for v in present if v <= current and self._committed(table, v)][-self.keep_versions:]
        for version in present:
            if version < current and version not in keep:
                self._drop(table, version)

    def tables(self) -> list[TableVersion]:
        """Every committed table in the lake."""
        found = []
        for layer in self.store.children(""):
            if layer.startswith(("_", ".")):
                continue  # _runs, _lock.json, temp files: not tables
            for name in self.store.children(layer):
                blob = self.store.get(f"{layer}/{name}/{POINTER}")
                if blob is not None:
                    found.append(TableVersion(**json.loads(blob.data)))
        return found


class LocalLake(Lake):
    """Tables under a local folder: ``<root>/<layer>/<name>/v000001/`` and a pointer file."""

    def __init__(self, root: Path, keep_versions: int = 5, stale_after_seconds: float = 6 * 3600):
        super().__init__(LocalStore(root), keep_versions, stale_after_seconds)

    @property
    def root(self) -> Path:
        """The lake folder (the lock file and ``_runs`` live in it)."""
        return self.store.root

    def table_dir(self, table: str) -> Path:
        """Folder holding all versions of ``table`` (``layer.name``)."""
        return self.store.location(self._key(table))

    def _path_text(self, location: Any) -> str:
        return str(Path(location).resolve())
