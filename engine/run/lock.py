"""One run at a time per lake: a lock object that names its holder and recovers when stale.

Two runs interleaving their commits would make run records and watermarks lie. The lock is
``_lock.json`` at the lake's root, created only if absent (an exclusive create on a local disk,
``If-None-Match: *`` on S3); it records pid, host, run and start time. A lock whose process is
gone (same host) or that is older than the timeout is stale and is taken over by replacing
exactly the object that was read (``If-Match`` on its tag), so of two runs recovering the same
stale lock only one wins. Release deletes the lock only if it is still the one this run wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import RunError
from engine.io.objectstore import LocalStore, ObjectStore, holder_identity, holder_is_stale

LOCK_FILE = "_lock.json"


class LakeLock:
    """Exclusive lock on a lake (a local folder or an object store root); a context manager."""

    def __init__(self, root: Path | ObjectStore, run_id: str, stale_after_seconds: float = 6 * 3600,
                 key: str = LOCK_FILE, what: str = ""):
        self.store: Any = LocalStore(root) if isinstance(root, Path) else root
        self.key = key
        self.what = what or f"the lake {self.store}"
        self.path = self.store.location(key)
        self.run_id = run_id
        self.stale_after = stale_after_seconds
        self.recovered: dict | None = None
        self._etag: str | None = None
        self._mine: dict | None = None

    def _held_by(self) -> tuple[dict | None, str | None]:
        blob = self.store.get(self.key)
        if blob is None:
            return None, None
        try:
            return json.loads(blob.data), blob.etag
        except json.JSONDecodeError:
            return {}, blob.etag  # unreadable: no holder to honour, treat as stale

    def _stale(self, holder: dict) -> bool:
        return not holder or holder_is_stale(holder, self.stale_after)

    def acquire(self) -> "LakeLock":
        """Take the lock, taking over a stale one; raise naming the holder otherwise."""
        self._mine = holder_identity(run_id=self.run_id)
        data = json.dumps(self._mine).encode("utf-8")
        for _ in range(3):
            self._etag = self.store.put(self.key, data, if_absent=True)
            if self._etag is not None:
                return self
            holder, etag = self._held_by()
            if holder is None:
                continue  # released between our attempt and the read: try again
            if holder == self._mine:
                self._etag = etag  # our own create landed on an earlier, retried request
                return self
            if not self._stale(holder):
                raise RunError(f"{self.what} is locked by run {holder.get('run_id')} "
                               f"(pid {holder.get('pid')} on {holder.get('host')}) since {holder.get('since')}; "
                               f"wait for it to finish, or remove {self.path} if that process is gone")
            self._etag = self.store.put(self.key, data, if_match=etag)
            if self._etag is not None:
                self.recovered = holder
                return self
            # another run replaced or released the stale lock first: look again
        raise RunError(f"could not take the lock {self.path}; try again")

    def release(self) -> None:
        """Give the lock back, only if it is still the one this run wrote."""
        if self._etag is not None:
            self.store.delete(self.key, if_match=self._etag)
            self._etag = None

    def __enter__(self) -> "LakeLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class SpecLocks:
    """Locks on the specs a run writes (``_locks/<spec>.json``), not on the whole lake.

    Why: on AWS each spec is its own Glue job run, and independent specs run at the same time
    (the state machine's Parallel branches). With the lake-wide lock they would wait for each
    other, billed. Specs write disjoint tables (a spec owns its table and side tables), version
    claims and pointer swaps already keep concurrent writers of different tables apart, and
    each job run keeps its own run record, so a lock per spec is all that must be exclusive: two
    job runs of the SAME spec (a retry racing a worker that is not dead yet) still exclude each
    other. Runs started by ``medallion run`` keep the lake-wide lock.
    """

    def __init__(self, root: Path | ObjectStore, run_id: str, specs: list[str], stale_after_seconds: float = 6 * 3600):
        self.locks = [LakeLock(root, run_id, stale_after_seconds, key=f"_locks/{spec}.json", what=f"spec {spec}")
                      for spec in sorted(set(specs))]  # one order for every run: no deadlock
        self.recovered: dict | None = None

    def __enter__(self) -> "SpecLocks":
        taken: list[LakeLock] = []
        try:
            for lock in self.locks:
                taken.append(lock.acquire())
                self.recovered = self.recovered or lock.recovered
        except BaseException:
            for lock in reversed(taken):
                lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for lock in reversed(self.locks):
            lock.release()
