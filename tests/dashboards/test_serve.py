"""``medallion dashboard`` as a real process: it listens on loopback only by default, and
stopping it (SIGTERM, as ``kill <pid>`` sends) stops its Streamlit server too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "medallion dashboard exited early"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no health answer on port {port} within {timeout}s")


def test_dashboard_binds_loopback_and_stops_with_its_command(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "dashboard", "--port", str(port),
                             "--project-dir", str(ROOT), "--var", f"lake_dir={tmp_path / 'lake'}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    servers: list[psutil.Process] = []
    try:
        _wait_healthy(port, proc)
        servers = psutil.Process(proc.pid).children(recursive=True)
        assert servers, "the Streamlit server runs as a child of the command"
        listening = {c.laddr.ip for s in servers for c in s.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
        assert listening == {"127.0.0.1"}

        proc.send_signal(signal.SIGTERM)  # what `kill <pid>` sends
        proc.wait(timeout=20)
        gone, alive = psutil.wait_procs(servers, timeout=20)
        assert alive == [], f"server still running after the command stopped: {alive}"
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "the port is still served"
    finally:  # only what this test started: the command and its server (never the suite's own JVM)
        if proc.poll() is None:
            proc.kill()
        for server in servers:
            if server.is_running():
                server.kill()
