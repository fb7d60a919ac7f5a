"""Ctrl-C and SIGTERM on a real ``medallion run`` process, then the printed resume command.

The first signal must cancel the running Spark job (a spec that sleeps per row, so it is
mid-job when the signal arrives), mark the run interrupted, release the lock and exit 130
within seconds, with no Java or py4j traceback; the printed resume line then finishes the run.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
name: interrupts
variables: {lake_dir: lake}
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[1]", shuffle_partitions: 1, driver_memory: 1g}
retry: {attempts: 3, backoff_seconds: 0}
"""
ROWS = "".join(f"{i},{i * 10}\n" for i in range(1, 41))
FILES = {
    "raw/a.csv": "id,amount\n" + ROWS,
    "pipelines/bronze/a.yaml": "name: bronze.a\nsteps:\n  - {type: read, format: csv, path: raw/a.csv, "
                               "columns: {id: int, amount: int}}\n",
    # ${var:pause_ms} per row: long enough to be mid-job when the signal comes, 0 on resume
    "pipelines/silver/slow.yaml": "name: silver.slow\ninputs: {a: bronze.a}\nsteps:\n"
                                  "  - {type: derive, columns: {waited: \"reflect('java.lang.Thread', 'sleep', "
                                  "cast(${var:pause_ms} as bigint))\"}}\n",
    "marts/total.yaml": "name: gold.total\ninputs: {s: silver.slow}\nsteps:\n"
                        "  - {type: aggregate, metrics: {n: count(*), total: sum(amount)}}\n",
}


def _project(root: Path, pause_ms: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "medallion.yaml").write_text(CONFIG.replace("{lake_dir: lake}", f"{{lake_dir: lake, pause_ms: {pause_ms}}}"))
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _medallion(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _interrupt(project: Path, sig: int) -> tuple[int, str, float]:
    proc = subprocess.Popen(_medallion("run", "--plain"), cwd=project, env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the slow spec is running
        lines.append(line)
        if "start silver.slow" in line:
            break
    time.sleep(4)  # inside the sleeping Spark job by now
    sent = time.monotonic()
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=150)
    return proc.returncode, "".join(lines) + rest, time.monotonic() - sent


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_first_signal_stops_the_run_and_the_printed_resume_finishes_it(tmp_path, sig):
    # 40 rows x 5 s on one core: 200 s of work left when the signal comes, so stopping within
    # 20 s (JVM shutdown under a loaded machine included) shows the job was cancelled, not waited for
    project = _project(tmp_path / "p", pause_ms=5000)
    code, out, seconds = _interrupt(project, sig)
    assert code == 130, out
    assert seconds < 20, f"took {seconds:.0f}s to stop"
    assert "Traceback" not in out and "py4j" not in out.lower() and "java.lang" not in out, out
    assert "cancelling the running Spark jobs" in out
    assert not (project / "lake" / "_lock.json").exists(), "the lock was released"
    runs = subprocess.run(_medallion("runs", "--format", "json"), cwd=project, env=_env(), text=True,
                          capture_output=True, check=True)
    record = json.loads(runs.stdout)[-1]
    assert record["status"] == "interrupted"
    states = {s["spec"]: s["status"] for s in record["specs"]}
    assert states["bronze.a"] == "ok" and states["silver.slow"] == "failed" and states["gold.total"] == "skipped"
    assert not (project / "lake" / "silver" / "slow" / "_current.json").exists()  # nothing half-committed

    resume = next(line.split("to resume: ", 1)[1] for line in out.splitlines() if "to resume: " in line)
    assert resume.startswith("medallion run --resume ")
    (project / "medallion.yaml").write_text((project / "medallion.yaml").read_text().replace(
        "pause_ms: 5000", "pause_ms: 0"))
    finished = subprocess.run(_medallion(*shlex.split(resume)[1:]), cwd=project, env=_env(), text=True,
                              capture_output=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "2 ok, 0 failed" in finished.stdout  # silver.slow and gold.total; bronze.a not again


def test_a_stop_with_two_specs_running_cancels_both_and_the_resume_finishes(tmp_path):
    # two slow specs in parallel (--threads 2): one Ctrl-C cancels both running jobs, the mart
    # below them does not start, and the printed resume finishes the run
    project = _project(tmp_path / "p", pause_ms=5000)
    (project / "pipelines" / "silver" / "slow2.yaml").write_text(
        FILES["pipelines/silver/slow.yaml"].replace("silver.slow", "silver.slow2"))
    (project / "marts" / "total.yaml").write_text(
        "name: gold.total\ninputs: {s: silver.slow, t: silver.slow2}\nsteps:\n"
        "  - {type: aggregate, input: s, metrics: {n: count(*), total: sum(amount)}}\n")
    proc = subprocess.Popen(_medallion("run", "--plain", "--threads", "2"), cwd=project, env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until both slow specs are running
        lines.append(line)
        if sum("start silver.slow" in seen for seen in lines) == 2:
            break
    time.sleep(4)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=150)
    out, seconds = "".join(lines) + rest, time.monotonic() - sent
    assert proc.returncode == 130, out
    assert seconds < 25, f"took {seconds:.0f}s to stop"
    assert "Traceback" not in out and "py4j" not in out.lower() and "java.lang" not in out, out
    assert not (project / "lake" / "_lock.json").exists(), "the lock was released"
    record = json.loads(subprocess.run(_medallion("runs", "--format", "json"), cwd=project, env=_env(), text=True,
                                       capture_output=True, check=True).stdout)[-1]
    states = {s["spec"]: (s["status"], s["error_class"]) for s in record["specs"]}
    assert record["status"] == "interrupted"
    assert states["silver.slow"] == states["silver.slow2"] == ("failed", "RunInterrupted")
    assert states["gold.total"][0] == "skipped" and states["bronze.a"][0] == "ok"

    resume = next(line.split("to resume: ", 1)[1] for line in out.splitlines() if "to resume: " in line)
    (project / "medallion.yaml").write_text((project / "medallion.yaml").read_text().replace(
        "pause_ms: 5000", "pause_ms: 0"))
    finished = subprocess.run(_medallion(*shlex.split(resume)[1:]), cwd=project, env=_env(), text=True,
                              capture_output=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "3 ok, 0 failed" in finished.stdout
