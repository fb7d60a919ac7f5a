"""Lake storage with atomic table commits, the same protocol on a local folder and on S3.

A table is a set of immutable version folders ``<layer>/<name>/v000001/`` plus a pointer object
``_current.json``. A write goes to a fresh version folder; only when it has fully succeeded is its
manifest written and the pointer switched, so readers see the previous version or the new one.
Old versions are pruned after a commit, keeping the last N.

The pointer is switched with compare-and-swap against the pointer a writer saw when it began
(``if_match`` on its tag, ``if_absent`` for a first commit), so of two writers that began from the
same version only one publishes. Each pending write claims its version number with a
create-if-absent object under ``_claims/``, so concurrent writers never share a folder. The run
lock normally keeps writers apart; these checks make a lost lock fail loudly. Only the storage
(:mod:`engine.io.objectstore`) differs between local and S3.

Pointers and manifests name a version relative to the lake root (``silver/t/v000003``), so a
copied or moved lake reads its own files (older absolute paths are resolved the same way).
A spec's outputs (its table and side tables) are one commit (:meth:`Lake.commit_all`): the main
pointer is the commit point and lists its side versions (``companions``); side pointers follow
and :meth:`Lake.heal` rolls them forward if a crash fell in between.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from engine.errors import MedallionError, RunError, StorageFault, UsageError
from engine.io.objectstore import LocalStore, ObjectStore, holder_identity, holder_is_stale

POINTER = "_current.json"
MANIFEST = "_manifest.json"
CLAIMS = "_claims"
CHANGES = "_changes"
_VERSION = re.compile(r"^v(\d{6,})$")


@dataclass
class TableVersion:
    """One committed version of a table; ``path`` is where its files are (resolved on read)."""

    table: str
    version: int
    path: str
    rows: int
    columns: list[dict[str, str]] = field(default_factory=list)
    partition_by: list[str] = field(default_factory=list)
    committed_at: str = ""
    run_id: str = ""
    watermark: str | None = None
    companions: dict[str, int] = field(default_factory=dict)
    owner: str | None = None
    inputs: dict[str, int] = field(default_factory=dict)  # version of each input table it was built from
    change: dict[str, Any] | None = None  # what differs from the version before (None: unknown = all)
    fingerprint: str | None = None  # of the spec that built it (an edited spec rebuilds incremental tables)
    digest: str | None = None  # rows and a hash of their content: an equal digest means the same rows
    files: dict[str, Any] | None = None  # a spec that reads files: the files ingested so far (engine/run/ingested.py)


_FIELDS = {f.name for f in fields(TableVersion)}

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


@dataclass
class Publish:
    """One output of a commit: the pending write and what its manifest records."""

    pending: PendingWrite
    rows: int
    columns: list[dict[str, str]]
    partition_by: list[str] = field(default_factory=list)
    watermark: str | None = None
    inputs: dict[str, int] = field(default_factory=dict)
    change: dict[str, Any] | None = None
    fingerprint: str | None = None
    digest: str | None = None
    files: dict[str, Any] | None = None


class Lake:
    """Versioned tables on an :class:`ObjectStore`; the caller holds the lake lock while writing."""

    def __init__(self, store: ObjectStore, keep_versions: int = 5, stale_after_seconds: float = 6 * 3600):
        self.store = store
        self.keep_versions = keep_versions
        self.stale_after = stale_after_seconds
        self.cli_args: list[str] = []  # --profile/--var of the command, appended to recovery commands

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

    def _changes_key(self, table: str, version: int) -> str:
        return f"{self._key(table)}/{CHANGES}/v{version:06d}"

    def changes_location(self, table: str, version: int) -> Any:
        """Where a version keeps the keys it changed (``<table>/_changes/v000003``): beside the
        version folder, not in it, so readers of the table's files never see them."""
        return self.store.location(self._changes_key(table, version))

    def kept(self, table: str) -> list[int]:
        """The committed versions still kept (their manifests are readable), oldest first."""
        return self._kept(table)

    def manifest(self, table: str, version: int) -> TableVersion | None:
        """The manifest of one kept version, or None (never committed, pruned, or unreadable)."""
        return self._manifest(table, version)

    def _claim_key(self, table: str, version: int) -> str:
        return f"{self._key(table)}/{CLAIMS}/v{version:06d}.json"

    # -- reading pointers and manifests -------------------------------------------------------

    def _fault(self, table: str, version: int | None, obj: str, problem: str,
               rebuild: bool = False) -> StorageFault:
        """A storage error naming table, version and object, what is intact, and the way back."""
        kept = [v for v in self._kept(table) if v != version]
        where = f"{table}" + (f" version {version}" if version is not None else "")
        intact = (f"data intact: version(s) {', '.join(map(str, kept))} have their files and manifests"
                  if kept else "no other committed version is kept")
        recovery = [f"medallion rollback {table} {kept[-1]}"] if kept and not rebuild else []
        recovery.append(f"medallion run --select {table}+")
        err = StorageFault(f"lake table {where}: {obj} {problem}; {intact}", recovery=recovery)
        err.cli_args = list(self.cli_args)
        return err

    def _kept(self, table: str) -> list[int]:
        try:
            return [v for v in self.versions(table) if self._manifest(table, v) is not None]
        except MedallionError:
            return []

    def _parse(self, table: str, data: bytes) -> TableVersion:
        raw = json.loads(data)
        record = TableVersion(**{k: v for k, v in raw.items() if k in _FIELDS})
        if record.table != table or not isinstance(record.version, int):
            raise ValueError(f"it describes {record.table} version {record.version!r}")
        record.path = str(self.store.location(self._vkey(table, record.version)))
        return record

    def _dump(self, record: TableVersion) -> bytes:
        stored = asdict(record) | {"path": self._vkey(record.table, record.version)}
        return json.dumps(stored, indent=2).encode("utf-8")

    def _manifest(self, table: str, version: int) -> TableVersion | None:
        """A version's manifest, or None when it was never committed (or cannot be read)."""
        blob = self.store.get(f"{self._vkey(table, version)}/{MANIFEST}")
        if blob is None:
            return None
        try:
            return self._parse(table, blob.data)
        except (ValueError, TypeError):
            return None

    def _pointer(self, table: str) -> tuple[TableVersion | None, str | None]:
        key = f"{self._key(table)}/{POINTER}"
        blob = self.store.get(key)
        if blob is None:
            return None, None
        try:
            return self._parse(table, blob.data), blob.etag
        except (ValueError, TypeError) as exc:
            raise self._fault(table, None, f"pointer {self.store.location(key)}",
                              f"cannot be read ({type(exc).__name__}: {exc})") from None

    def current(self, table: str) -> TableVersion | None:
        """The committed version readers should use, or None if never committed."""
        found = self._pointer(table)[0]
        if found is not None and found.owner:
            owner = self._pointer(found.owner)[0]
            if owner is not None and owner.companions.get(table, 0) > found.version:
                self.heal(found.owner)
                found = self._pointer(table)[0]
        return found

    def require(self, table: str) -> TableVersion:
        """The current version, or a clear error saying how to produce (or recover) it."""
        found = self.current(table)
        if found is None:
            raise RunError(f"table '{table}' has no committed version in {self.root}; "
                           f"run its spec first (e.g. medallion run --select +{table})")
        self.check_intact(found)
        return found

    def check_intact(self, version: TableVersion) -> None:
        """Raise a StorageFault when a committed version's folder or manifest is gone."""
        vkey = self._vkey(version.table, version.version)
        if not self.store.has_prefix(vkey):
            raise self._fault(version.table, version.version, f"folder {version.path}",
                              "is missing (the pointer names it, its files are gone)")
        if self.store.get(f"{vkey}/{MANIFEST}") is None:
            raise self._fault(version.table, version.version, f"manifest {version.path}/{MANIFEST}",
                              "is missing (its files may be incomplete)")

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
                try:
                    out[int(m[1])] = json.loads(blob.data)
                except ValueError:
                    out[int(m[1])] = {}  # a torn claim: its writer is gone
        return out

    def _committed(self, table: str, version: int) -> bool:
        return self.store.get(f"{self._vkey(table, version)}/{MANIFEST}") is not None

    def _drop(self, table: str, version: int) -> None:
        self.store.delete_prefix(self._vkey(table, version))
        self.store.delete_prefix(self._changes_key(table, version))
        self.store.delete(self._claim_key(table, version))

    # -- writing ------------------------------------------------------------------------------

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
            if claim is None or not claim or holder_is_stale(claim, self.stale_after):
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
        """Commit one table alone (manifest, pointer by compare-and-swap, prune)."""
        return self.commit_all(Publish(pending, rows, columns, partition_by, watermark), [], run_id=run_id)

    def commit_all(self, main: Publish, sides: list[Publish], *, run_id: str,
                   between: Callable[[], None] | None = None) -> TableVersion:
        """Publish a table and its side tables as one commit: check every pointer, write every
        manifest, switch the main pointer (the commit point), call ``between`` (the fault tests
        crash there), switch the side pointers."""
        outputs = [main, *sides]
        for out in outputs:
            vkey = self._vkey(out.pending.table, out.pending.version)
            if self._raw_etag(out.pending.table) != out.pending.base_etag:
                self._conflict(out.pending.table, out.pending.version)  # fail before writing anything
            if not self.store.has_prefix(vkey):
                raise RunError(f"cannot commit {out.pending.table}: {out.pending.path} was not written")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        records = [TableVersion(
            table=o.pending.table, version=o.pending.version, path=str(o.pending.path), rows=o.rows,
            columns=o.columns, partition_by=o.partition_by, committed_at=now, run_id=run_id,
            watermark=o.watermark, owner=main.pending.table if o is not main else None,
            inputs=dict(o.inputs), change=o.change, fingerprint=o.fingerprint, digest=o.digest,
            files=o.files) for o in outputs]
        records[0].companions = {r.table: r.version for r in records[1:]}
        for record in records:
            self.store.put(f"{self._vkey(record.table, record.version)}/{MANIFEST}", self._dump(record))
        self._switch(records[0], main.pending.base_etag)
        if between is not None:
            between()
        for record, out in zip(records[1:], sides):
            self._switch(record, out.pending.base_etag)
        for record in records:
            self.store.delete(self._claim_key(record.table, record.version))
            self._prune(record.table, record.version)
        return records[0]

    def _raw_etag(self, table: str) -> str | None:  # the pointer's tag, even when it cannot be parsed
        blob = self.store.get(f"{self._key(table)}/{POINTER}")
        return None if blob is None else blob.etag

    def heal(self, table: str) -> list[str]:
        """Roll side pointers forward to the versions the main pointer lists; returns those repaired."""
        main = self._pointer(table)[0]
        repaired = []
        for side, version in (main.companions if main else {}).items():
            try:
                current = self._pointer(side)[0]
            except StorageFault:
                current = None
            if current is not None and current.version >= version:
                continue
            record = self._manifest(side, version)
            if record is not None:
                self._switch(record, self._raw_etag(side))
                repaired.append(side)
        return repaired

    def _switch(self, record: TableVersion, expected: str | None) -> None:
        """Point readers at ``record`` if the pointer is still the one this writer saw."""
        key = f"{self._key(record.table)}/{POINTER}"
        data = self._dump(record)
        if expected is None:
            done = self.store.put(key, data, if_absent=True)
        else:
            done = self.store.put(key, data, if_match=expected)
        if done is None and (blob := self.store.get(key)) is not None and blob.data == data:
            return  # our own earlier attempt landed (a retried request): already switched
        if done is None:
            self._conflict(record.table, record.version)

    def _conflict(self, table: str, version: int) -> None:
        try:
            now = self.current(table)
        except StorageFault:
            now = None
        raise RunError(f"cannot commit {table} version {version}: another writer moved "
                       f"its pointer meanwhile (now version {now.version if now else 'none'}"
                       f"{', run ' + now.run_id if now and now.run_id else ''}); this write was not "
                       "published; re-run to build on the new version")

    def rollback(self, table: str, version: int | None = None) -> TableVersion:
        """Point ``table`` back at a kept version (default: the one before the current); works from
        the manifests alone, so it repairs an unreadable pointer (default then: the newest)."""
        etag = self._raw_etag(table)
        try:
            current = self._pointer(table)[0]
        except StorageFault:
            current = None
        kept = self._kept(table)
        if current is None and etag is None:
            current = self.require(table)
        if version is None:
            older = [v for v in kept if current is None or v < current.version]
            if not older:
                raise UsageError(f"{table} has no version before {current.version if current else '?'} to roll "
                               f"back to (kept: {', '.join(map(str, kept)) or 'none'})")
            version = older[-1]
        if version not in kept:
            raise UsageError(f"{table} has no version {version} (kept: {', '.join(map(str, kept)) or 'none'})")
        record = self._manifest(table, version)
        assert record is not None
        if record.owner:  # a side table was committed with its spec's table: both go back together
            return self._rollback_with_owner(record)
        sides = [self._manifest(side, v) for side, v in record.companions.items()]
        missing = [f"{side} version {v}" for (side, v), m in zip(record.companions.items(), sides) if m is None]
        if missing:
            raise UsageError(f"{table} version {version} was committed with {', '.join(missing)}, which is no "
                             f"longer kept; roll back to a later version (kept: {', '.join(map(str, kept))})")
        for side in [record, *sides]:
            self.check_intact(side)
        self._switch(record, etag)
        for side in sides:  # the table and its side tables show the same commit again
            self._switch(side, self._raw_etag(side.table))
        return record

    def _rollback_with_owner(self, record: TableVersion) -> TableVersion:
        """Roll a side table back by rolling back the spec table that committed it."""
        owner = record.owner or ""
        for candidate in reversed(self._kept(owner)):
            manifest = self._manifest(owner, candidate)
            if manifest is not None and manifest.companions.get(record.table) == record.version:
                self.rollback(owner, candidate)
                return record
        raise UsageError(f"{record.table} version {record.version} was committed with a version of {owner} "
                         f"that is no longer kept; roll back {owner} instead (medallion rollback {owner})")

    def abort(self, pending: PendingWrite) -> None:
        """Remove a failed write's folder and claim; the pointer never moved, so readers saw nothing."""
        self._drop(pending.table, pending.version)

    def _prune(self, table: str, current: int) -> None:
        """Keep the last N committed versions up to the current one (uncommitted ones below it
        are dropped too: their writers began from an older pointer and can never commit)."""
        present = self.versions(table)
        keep = [v for v in present if v <= current and self._committed(table, v)][-self.keep_versions:]
        for version in present:
            if version < current and version not in keep:
                self._drop(table, version)

    def tables(self, faults: list[StorageFault] | None = None) -> list[TableVersion]:
        """Every readable committed table (side pointers healed first); a broken one is left out
        and its fault appended to ``faults``, so callers report it instead of failing."""
        names = [f"{layer}.{name}" for layer in self.store.children("") if not layer.startswith(("_", "."))
                 for name in self.store.children(layer)]  # _runs, _lock.json, temp files: not tables
        names = [n for n in names if self.store.get(f"{self._key(n)}/{POINTER}") is not None]
        for name in names:
            try:
                self.heal(name)
            except StorageFault:
                pass  # reported below
        found = []
        for name in names:
            try:
                record = self._pointer(name)[0]
                if record is not None:
                    self.check_intact(record)
                    found.append(record)
            except StorageFault as exc:
                if faults is not None:
                    faults.append(exc)
        return found


class LocalLake(Lake):
    """Tables under a local folder: ``<root>/<layer>/<name>/v000001/`` and a pointer file."""

    def __init__(self, root: Path, keep_versions: int = 5, stale_after_seconds: float = 6 * 3600):
        super().__init__(LocalStore(Path(root).resolve()), keep_versions, stale_after_seconds)

    @property
    def root(self) -> Path:
        """The lake folder (the lock file and ``_runs`` live in it)."""
        return self.store.root

    def table_dir(self, table: str) -> Path:
        """Folder holding all versions of ``table`` (``layer.name``)."""
        return self.store.location(self._key(table))
