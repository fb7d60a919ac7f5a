"""The lake lock, on a local folder and on S3 (moto): one holder, named in the error, stale takeover."""

import json
import os
import socket
import subprocess
import sys
import time

import boto3
import pytest
from moto import mock_aws

from engine.errors import RunError
from engine.io.objectstore import LocalStore
from engine.io.s3lake import S3Store
from engine.run.lock import LakeLock

BUCKET = "medallion-lake"


@pytest.fixture(params=["local", "s3"])
def lake_root(request, tmp_path):
    """The lake root as the runner passes it: a Path locally, the S3 store on AWS."""
    if request.param == "local":
        yield tmp_path / "lake"
        return
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield S3Store(BUCKET, "lake")


def read_lock(root):
    blob = (root if isinstance(root, S3Store) else LocalStore(root)).get("_lock.json")
    return None if blob is None else json.loads(blob.data)


def plant(root, holder):
    """A lock left by someone else (another host, or a process that died)."""
    lock = LakeLock(root, "planted")
    lock.store.put("_lock.json", json.dumps(holder).encode())


def test_acquire_records_the_holder_and_release_removes_it(lake_root):
    with LakeLock(lake_root, "run-1") as lock:
        held = read_lock(lake_root)
        assert (held["run_id"], held["pid"], held["host"]) == ("run-1", os.getpid(), socket.gethostname())
        assert lock.recovered is None
    assert read_lock(lake_root) is None


def test_a_held_lock_names_its_holder_and_since_when(lake_root):
    plant(lake_root, {"pid": 4242, "host": "glue-worker-1", "run_id": "run-A",
                      "since": "2026-11-25T03:15:00Z", "since_epoch": time.time() - 60})
    with pytest.raises(RunError) as err:
        LakeLock(lake_root, "run-B").acquire()
    where = "s3://medallion-lake/lake" if isinstance(lake_root, S3Store) else str(lake_root)
    assert str(err.value) == (
        f"the lake {where} is locked by run run-A (pid 4242 on glue-worker-1) since 2026-11-25T03:15:00Z; "
        f"wait for it to finish, or remove {where}/_lock.json if that process is gone")
    assert read_lock(lake_root)["run_id"] == "run-A"  # untouched


def test_a_lock_older_than_the_timeout_is_taken_over(lake_root):
    old = {"pid": 4242, "host": "glue-worker-1", "run_id": "run-A", "since": "2026-11-25T03:15:00Z",
           "since_epoch": time.time() - 7 * 3600}
    plant(lake_root, old)
    with LakeLock(lake_root, "run-B", stale_after_seconds=6 * 3600) as lock:
        assert lock.recovered == old
        assert read_lock(lake_root)["run_id"] == "run-B"
    assert read_lock(lake_root) is None


def test_a_dead_process_on_this_host_is_taken_over_at_once(lake_root):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    plant(lake_root, {"pid": dead.pid, "host": socket.gethostname(), "run_id": "run-A",
                      "since": "now", "since_epoch": time.time()})
    with LakeLock(lake_root, "run-B") as lock:
        assert lock.recovered["run_id"] == "run-A"


def test_release_never_deletes_a_lock_someone_else_took_over(lake_root):
    mine = LakeLock(lake_root, "run-A", stale_after_seconds=0).acquire()
    time.sleep(0.01)
    theirs = LakeLock(lake_root, "run-B", stale_after_seconds=0).acquire()  # A looks stale to B
    assert theirs.recovered["run_id"] == "run-A"
    mine.release()
    assert read_lock(lake_root)["run_id"] == "run-B"
    theirs.release()
    assert read_lock(lake_root) is None


def test_only_one_of_two_takeovers_of_the_same_stale_lock_wins(lake_root):
    plant(lake_root, {"pid": 1, "host": "glue-worker-1", "run_id": "run-A", "since": "then", "since_epoch": 0})
    store = LakeLock(lake_root, "x").store
    seen = store.get("_lock.json")  # both contenders read the same stale lock
    first = store.put("_lock.json", b'{"run_id": "run-B"}', if_match=seen.etag)
    second = store.put("_lock.json", b'{"run_id": "run-C"}', if_match=seen.etag)
    assert first is not None and second is None
    assert store.put("_lock.json", b"{}", if_absent=True) is None
    assert read_lock(lake_root) == {"run_id": "run-B"}


def test_job_runs_of_different_specs_lock_only_themselves(lake_root):
    """Glue job runs (SpecLocks): independent specs hold their locks at the same time; a second
    job run of the SAME spec is refused naming the holder; the lake-wide lock is never taken."""
    from engine.run.lock import SpecLocks

    with SpecLocks(lake_root, "run-1.silver.a", ["silver.a"]), SpecLocks(lake_root, "run-1.gold.b", ["gold.b"]):
        assert read_lock(lake_root) is None  # the lake itself is not locked
        with pytest.raises(RunError) as err:
            with SpecLocks(lake_root, "run-1.silver.a-retry", ["silver.a"]):
                pass
        assert "spec silver.a is locked by run run-1.silver.a" in str(err.value)
    # all released: the same spec can be taken again, and a multi-spec lock releases what it took
    # when one of its specs is held by another run
    with SpecLocks(lake_root, "run-2.zeta.c", ["zeta.c"]):
        with pytest.raises(RunError):  # takes silver.a first (sorted), then meets zeta.c held
            with SpecLocks(lake_root, "run-2.both", ["zeta.c", "silver.a"]):
                pass
        with SpecLocks(lake_root, "run-2.silver.a", ["silver.a"]):  # silver.a was given back
            pass
