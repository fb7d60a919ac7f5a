"""A Spark standalone cluster on loopback, started from the pip pyspark distribution itself.

One master and N workers (``bin/spark-class org.apache.spark.deploy.master.Master`` / ``…Worker``),
each a process group of its own on 127.0.0.1 with free ports, their work, log, local and conf
folders under one temporary folder. Java is chosen as the engine chooses it
(:func:`engine.run.java.choose_java_home`), in the environment the workers start with, so the
executors they launch find the same JDK. :meth:`StandaloneCluster.stop` ends exactly the
processes it started (their process groups, TERM then KILL) and removes the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from pyspark.find_spark_home import _find_spark_home

from engine.run.java import choose_java_home


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ClusterError(RuntimeError):
    """The cluster did not come up; the message carries the tail of its logs."""


class StandaloneCluster:
    """A master and ``workers`` workers of ``cores`` cores and ``memory`` each, on 127.0.0.1."""

    def __init__(self, workers: int = 2, cores: int = 1, memory: str = "1g"):
        self.workers, self.cores, self.memory = workers, cores, memory
        self.folder = Path(tempfile.mkdtemp(prefix="medallion-standalone-"))
        self.port, self.ui_port = free_port(), free_port()
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def worker_dir(self, index: int) -> Path:
        return self.folder / f"worker{index}"

    def env(self) -> dict[str, str]:
        """The environment the master and workers (and so their executors) start with."""
        env = dict(os.environ)
        choose_java_home(env)
        conf = self.folder / "conf"  # empty: no spark-defaults or spark-env of the machine's
        conf.mkdir(exist_ok=True)
        env.update(SPARK_HOME=_find_spark_home(), SPARK_CONF_DIR=str(conf), SPARK_LOCAL_IP="127.0.0.1",
                   SPARK_LOG_DIR=str(self.folder / "logs"), SPARK_LOCAL_DIRS=str(self.folder / "local"))
        return env

    def _launch(self, name: str, args: list[str], env: dict[str, str]) -> None:
        spark_class = Path(env["SPARK_HOME"]) / "bin" / "spark-class"
        if not spark_class.is_file():
            raise ClusterError(f"no {spark_class} in the pyspark distribution")
        log = self.folder / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.processes.append(subprocess.Popen(["bash", str(spark_class), *args], env=env, stdout=out,
                                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                   start_new_session=True))

    def start(self, timeout: float = 120.0) -> "StandaloneCluster":
        """Start the master, then the workers; return once every worker is registered and alive."""
        env = self.env()
        self._launch("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                "--port", str(self.port), "--webui-port", str(self.ui_port)], env)
        for index in range(1, self.workers + 1):
            folder = self.worker_dir(index)
            folder.mkdir()
            self._launch(f"worker{index}", ["org.apache.spark.deploy.worker.Worker", self.master_url,
                                            "--host", "127.0.0.1", "--webui-port", str(free_port()),
                                            "--cores", str(self.cores), "--memory", self.memory,
                                            "--work-dir", str(folder)], env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p for p in self.processes if p.poll() is not None]
            if dead:
                raise ClusterError(f"a cluster process exited with {dead[0].returncode}\n{self.log_tail()}")
            try:
                if self.state().get("aliveworkers") == self.workers:
                    return self
            except OSError:
                pass  # the master's web UI is not up yet
            time.sleep(1.0)
        raise ClusterError(f"{self.workers} workers not alive after {timeout:.0f} s\n{self.log_tail()}")

    def state(self) -> dict[str, Any]:
        """The master's JSON (workers, active and completed applications)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as answer:
            return json.loads(answer.read())

    def executor_logs(self, app_id: str) -> list[Path]:
        """The stderr of every executor the workers started for an application."""
        return sorted(self.folder.glob(f"worker*/{app_id}/*/stderr"))

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                         for log in self.logs if log.is_file())

    def stop(self) -> None:
        """TERM each process group this cluster started (workers first), KILL what is left, remove the folder."""
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)
