"""The small storage layer under the lake, the lock and the run store: objects by key.

The commit protocol (version folders, a pointer switched by compare-and-swap), the lock and
the run records are written once against :class:`ObjectStore`; only this layer differs between
a local folder (:class:`LocalStore`) and an S3 prefix (``engine.io.s3lake.S3Store``). Keys are
``/``-separated and relative to the store's root.

Conditional writes are what make the protocol safe with more than one writer: ``if_absent``
creates only when nothing is there (the lock), ``if_match`` replaces or deletes only the exact
object a writer read (the pointer, a stale lock). Each returns a falsy value when its condition
fails instead of raising, because losing such a race is an expected outcome the caller handles.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Blob:
    """An object's bytes and the tag that identifies this exact content (for ``if_match``)."""

    data: bytes
    etag: str


class ObjectStore(Protocol):
    """Objects by key under one root: what the lake, the lock and the run store need."""

    def get(self, key: str) -> Blob | None: ...

    def put(self, key: str, data: bytes, *, if_match: str | None = None,
            if_absent: bool = False) -> str | None: ...

    def delete(self, key: str, *, if_match: str | None = None) -> bool: ...

    def children(self, prefix: str) -> list[str]: ...

    def has_prefix(self, prefix: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def size(self, prefix: str) -> int: ...

    def location(self, key: str) -> Any: ...

    def child(self, prefix: str) -> "ObjectStore": ...


def path_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (0 when nothing is there)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def etag_of(data: bytes) -> str:
    """A content tag in S3's format (quoted MD5), so both stores hand out the same kind."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


class LocalStore:
    """Objects as files under a folder.

    Unconditional writes are a temp file plus an atomic rename, so a reader sees the old file
    or the new one. Conditional writes hold an exclusive ``flock`` on the target's folder while
    they compare and write, so two processes on this machine cannot both pass the same check.
    """

    def __init__(self, root: Path):
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def location(self, key: str) -> Path:
        """The file (or folder) a key names; what Spark writes to and reads from."""
        return self.root / key if key else self.root

    def child(self, prefix: str) -> "LocalStore":
        """The same storage rooted at a sub-folder (e.g. the run records under ``_runs``)."""
        return LocalStore(self.root / prefix)

    def get(self, key: str) -> Blob | None:
        """The object, or None when absent (a missing object is a normal state, not an error)."""
        try:
            data = self.location(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            from engine.run.failures import classify

            raise classify(exc, f"reading {self.location(key)}") from exc
        return Blob(data, etag_of(data))

    @contextmanager
    def _guard(self, path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _replace(self, path: Path, data: bytes) -> None:
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not also leave a torn temp file behind
            raise

    def put(self, key: str, data: bytes, *, if_match: str | None = None,
            if_absent: bool = False) -> str | None:
        """Write atomically; with a condition, None when it fails (someone else got there first).

        A full disk or a permission problem becomes the engine's terminal error naming the file.
        """
        try:
            return self._put(key, data, if_match=if_match, if_absent=if_absent)
        except OSError as exc:
            from engine.run.failures import classify

            raise classify(exc, f"writing {self.location(key)}") from exc

    def _put(self, key: str, data: bytes, *, if_match: str | None, if_absent: bool) -> str | None:
        path = self.location(key)
        if if_match is None and not if_absent:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._replace(path, data)
            return etag_of(data)
        with self._guard(path):
            found = self.get(key)
            if (if_absent and found is not None) or (if_match is not None and (found is None or found.etag != if_match)):
                return None
            self._replace(path, data)
        return etag_of(data)

    def delete(self, key: str, *, if_match: str | None = None) -> bool:
        """Remove an object; with ``if_match``, only if it is still that exact content."""
        path = self.location(key)
        if if_match is None:
            path.unlink(missing_ok=True)
            return True
        with self._guard(path):
            found = self.get(key)
            if found is None or found.etag != if_match:
                return False
            path.unlink()
        return True

    def children(self, prefix: str) -> list[str]:
        """Names directly under a prefix (files and folders), sorted; temp files left out."""
        folder = self.location(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".tmp"))

    def has_prefix(self, prefix: str) -> bool:
        """Whether anything was written under a prefix (a version folder exists)."""
        return self.location(prefix).is_dir()

    def delete_prefix(self, prefix: str) -> None:
        """Remove a folder and everything in it (an aborted or pruned version)."""
        shutil.rmtree(self.location(prefix), ignore_errors=True)

    def size(self, prefix: str) -> int:
        """Bytes stored under a prefix (a version's files): sizes the next spec's shuffles."""
        return path_bytes(self.location(prefix))


def holder_identity(**extra: Any) -> dict[str, Any]:
    """Who is writing: host, pid and since when; recorded so a dead or stuck holder is recognised."""
    return {"pid": os.getpid(), "host": socket.gethostname(), **extra,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "since_epoch": time.time()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder_is_stale(holder: dict[str, Any], stale_after: float) -> bool:
    """A holder is gone when its process died (same host) or it is older than ``stale_after``.

    A holder on another host (another Glue worker) cannot be probed, so only its age counts.
    """
    if holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", 0))):
        return True
    return time.time() - float(holder.get("since_epoch", 0)) > stale_after
