"""Issue 18, finding 6: the shipped retry default is what the docs say and what the runner uses,
and the one classifier retries what can heal (a dropped connection) and nothing that cannot
(a full disk). The errors are real ones raised by the operating system, not built by hand."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from engine.errors import DiskFullError
from engine.plan.graph import build_graph, load_all
from engine.run.failures import classify, is_transient, kind_of
from engine.run.runner import retry_policy
from engine.spec.project import load_project

ROOT = Path(__file__).resolve().parents[2]


def test_docs_and_runner_agree_with_the_project_retry_default():
    project = load_project(ROOT, None, {})
    graph = build_graph(load_all(project.root, project.spec_dirs, project.variables))
    default = project.default_retry
    for loaded in graph.specs.values():
        assert retry_policy(loaded, default) == (loaded.spec.retry or default)
    text = (ROOT / "docs/operations.md").read_text()
    shipped = re.search(r"shipped: `retry: \{attempts: (\d+), backoff_seconds: (\d+), max_delay_seconds: (\d+)\}`",
                        text)
    assert shipped, "docs/operations.md states the shipped retry default"
    assert tuple(map(float, shipped.groups())) == (default.attempts, default.backoff_seconds, default.max_delay_seconds)
    assert default.attempts > 1  # transient errors are retried as shipped


def test_a_full_disk_is_terminal_and_says_so():
    with pytest.raises(OSError) as raised:
        with open("/dev/full", "wb") as fh:  # the kernel's always-full device: a real ENOSPC
            fh.write(b"x" * 4096)
            fh.flush()
    assert kind_of(raised.value) == "disk_full" and not is_transient(raised.value)
    err = classify(raised.value, "writing silver.b")
    assert isinstance(err, DiskFullError) and not err.transient
    assert str(err).startswith("writing silver.b: disk full ([Errno 28] No space left on device)")


def test_a_refused_connection_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connecting is refused
        with pytest.raises(OSError) as raised:
            socket.create_connection(("127.0.0.1", port), timeout=5)
    assert is_transient(raised.value) and classify(raised.value).transient


def test_a_missing_file_is_terminal():
    with pytest.raises(OSError) as raised:
        open("/nonexistent/medallion/file")
    assert kind_of(raised.value) == "terminal"


def test_a_connection_reset_by_the_peer_is_transient():
    """A real ECONNRESET: the server closes with SO_LINGER 0, so the kernel sends a reset."""
    import struct

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client = socket.create_connection(server.getsockname(), timeout=5)
        conn, _ = server.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        with pytest.raises(OSError) as raised:
            client.sendall(b"x")
            client.recv(1)
        client.close()
    assert isinstance(raised.value, ConnectionResetError)
    assert is_transient(raised.value) and classify(raised.value, "reading bronze.a").transient


@pytest.mark.parametrize("message", [
    "org.apache.spark.shuffle.FetchFailedException: Failed to connect to ip-10-0-1-5/10.0.1.5:7337",
    "ExecutorLostFailure (executor 3 exited caused by one of the running tasks) Reason: Container lost",
    "java.net.SocketTimeoutException: Read timed out",
])
def test_spark_fetch_failures_and_lost_executors_are_transient(spark, message):
    """The failure as Spark reports it to the driver: a task error carrying the executor's message."""
    with pytest.raises(Exception) as raised:
        spark.sql(f"select raise_error('{message}')").collect()
    assert type(raised.value).__module__.startswith(("pyspark", "py4j"))
    assert is_transient(raised.value), str(raised.value)[:200]


def test_a_jvm_error_that_cannot_heal_is_terminal(spark):
    """A real java.net exception that is no network failure: retrying cannot help."""
    with pytest.raises(Exception) as raised:
        spark.sparkContext._jvm.java.net.URI("http://a b")  # URISyntaxException (illegal space)
    assert "URISyntaxException" in str(raised.value)
    assert kind_of(raised.value) == "terminal"
