"""One run at a time per lake: a lock file that names its holder and recovers when stale.

Two runs interleaving their commits would make run records and watermarks lie. The lock is a
file created exclusively (atomic on local disks); it records pid, host, run and start time.
A lock whose process is gone (same host) or that is older than the timeout is stale and is
taken over, with a note in the run output.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from engine.errors import RunError

LOCK_FILE = "_lock.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LakeLock:
    """Exclusive lock on a lake folder; use as a context manager."""

    def __init__(self, root: Path, run_id: str, stale_after_seconds: float = 6 * 3600):
        self.path = root / LOCK_FILE
        self.run_id = run_id
        self.stale_after = stale_after_seconds
        self.recovered: dict | None = None

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _stale(self, holder: dict) -> bool:
        if holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", 0))):
            return True
        return time.time() - float(holder.get("since_epoch", 0)) > self.stale_after

    def acquire(self) -> "LakeLock":
        """Take the lock, taking over a stale one; raise naming the holder otherwise."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "run_id": self.run_id,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "since_epoch": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue  # being written or just released: try again
                if not self._stale(holder):
                    raise RunError(f"the lake {self.path.parent} is locked by run {holder.get('run_id')} "
                                   f"(pid {holder.get('pid')} on {holder.get('host')}) since {holder.get('since')}; "
                                   f"wait for it to finish, or remove {self.path} if that process is gone")
                self.recovered = holder
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(mine, fh)
            return self
        raise RunError(f"could not take the lock {self.path}; try again")

    def release(self) -> None:
        """Give the lock back (only if it is still ours)."""
        holder = self._holder()
        if holder and holder.get("pid") == os.getpid() and holder.get("run_id") == self.run_id:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "LakeLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
