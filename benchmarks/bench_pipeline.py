"""Benchmark: the engine's full local pipeline against hand-written PySpark and DuckDB SQL.

    .venv/bin/python benchmarks/bench_pipeline.py --scale 1
    .venv/bin/python benchmarks/bench_pipeline.py --scale 10 --repeats 3
    .venv/bin/python benchmarks/bench_pipeline.py --scale 50 --only engine,handwritten

On the same generated raw CSVs (``medallion sample --scale S``, written once under
``--data-root``, not timed) it runs, each in a fresh process so start-up counts:

- ``engine``: ``medallion run`` exactly as a user would (bronze -> silver -> gold, run record,
  conservation accounting, quarantine, DuckDB warehouse refresh);
- ``handwritten``: benchmarks/handwritten_pyspark.py, the same layers written by hand in PySpark;
- ``duckdb``: benchmarks/duckdb_marts.py, the same layers in DuckDB SQL.

Each job prints ``@stage <name>`` markers (the engine's ``start <layer>.<table>`` lines serve
the same purpose), so the harness times every stage the same way: wall clock between markers,
and peak RSS of the whole process tree (the Python driver plus its JVM child) sampled every
50 ms. Afterwards the seven marts of each job are reduced to totals (rows and Σ of the main
money column, plus a second figure) and compared with the engine's; a mismatch is reported
and makes the exit status 1, so a ratio is only printed for jobs that computed the same numbers.
The predictive CLV columns (p_alive, expected orders, predicted CLV) are not compared: only
the engine computes them; the historical columns are.

Results go to benchmarks/results/pipeline_s<scale>_<timestamp>.csv and .md. The engine job's
Spark jobs, stages and tasks per spec (from its run record, benchmarks/spark_jobs.py) are
printed and added to the .md. ``--threads N`` is passed to ``medallion run`` (concurrent specs);
without it the engine runs with its own default.

``--incremental`` measures a daily run instead (:func:`incremental_scenario`): the engine on
scale S's daily files (sample_data/days.py: one file per business day) without the last day's,
then the same lake with that day's files added to the landing folder, then a
``--full-refresh`` whose mart totals must equal the daily run's; it prints the daily run's time
as a share of the full run and what each spec did (recomputed part, or why a full pass).
Results go to benchmarks/results/incremental_s<scale>_<timestamp>.csv and .md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spark_jobs import latest_record, markdown, per_spec, summary_line  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PY = sys.executable
STAGES = ["startup", "bronze", "silver", "gold", "finish"]
GIB = 1024 ** 3

# mart table -> (main money column, second figure compared). Historical columns only.
MARTS = {
    "customer_lifetime_value": ("total_revenue", "sum(orders)"),
    "customer_segments": ("monetary", "sum(r_score + f_score + m_score)"),
    "churn_indicators": ("revenue_last_90d", "sum(orders_last_90d)"),
    "sales_trends": ("revenue", "sum(orders)"),
    "loyalty_impact": ("revenue", "sum(orders)"),
    "location_performance": ("revenue", "sum(orders)"),
    "pricing_effectiveness": ("revenue", "sum(units)"),
    # not one of the seven, but computed by all three jobs: checked so the work stays the same
    "clv_cohort_curves": ("revenue", "sum(active_customers)"),
}


@dataclass
class JobResult:
    """One job's measurements: seconds and peak RSS per stage, and its mart totals."""

    job: str
    wall: float = 0.0
    peak_rss: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_rss: dict[str, int] = field(default_factory=dict)
    totals: dict[str, tuple] = field(default_factory=dict)
    ok: bool = True
    note: str = ""
    spark: list[dict] = field(default_factory=list)  # engine: Spark jobs/stages/tasks per spec


def tree_rss(proc: psutil.Process) -> int:
    """RSS of a process and all its descendants (the JVM is a child of the Python driver)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


class StageTracker:
    """Which stage a job is in, from its output lines, with specs running side by side.

    The engine's plain reporter prints ``start <layer>.<table>`` and ``ok|failed|skipped
    <layer>.<table>``; with ``--threads`` several specs run at once, so a spec that ends while
    another still runs does not end the stage (it did before: the time went to "finish").
    The stage is the layer of the latest spec still running; with none running, "finish"
    (the engine is reporting, or after the last spec refreshing the warehouse and exiting).
    Other jobs print ``@stage <name>`` markers.
    """

    def __init__(self) -> None:
        self.running: dict[str, str] = {}  # spec -> layer, in start order

    def feed(self, line: str) -> str | None:
        text = line.strip()
        words = text.split()
        if text.startswith("@stage "):
            return words[1]
        if text.startswith("start ") and len(words) > 1:
            spec = words[1]
            self.running[spec] = spec.split(".", 1)[0]
            return self.running[spec]
        if text.startswith("run ") and "spec(s)" in text:
            return "startup"
        if words and words[0] in ("ok", "failed", "skipped"):
            if len(words) > 1:
                self.running.pop(words[1], None)
            return next(reversed(self.running.values())) if self.running else "finish"
        return None


def run_job(job: str, cmd: list[str], env: dict[str, str], log: Path) -> JobResult:
    """Run one job in a fresh process; time its stages and sample its memory."""
    result = JobResult(job)
    stage = ["startup"]
    tracker = StageTracker()
    marks: list[tuple[str, float]] = [("startup", 0.0)]
    peaks: dict[str, int] = {}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    ps = psutil.Process(proc.pid)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss = tree_rss(ps)
            peaks[stage[0]] = max(peaks.get(stage[0], 0), rss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with open(log, "w", encoding="utf-8") as out:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            out.flush()
            new = tracker.feed(line)
            if new and new != stage[0] and new in STAGES:
                stage[0] = new
                marks.append((new, time.perf_counter() - started))
        code = proc.wait()
    # after the last gold spec the engine refreshes the warehouse and exits: "finish"
    end = time.perf_counter() - started
    done.set()
    sampler.join()
    result.wall = end
    marks.append(("end", end))
    for (name, t0), (_, t1) in zip(marks, marks[1:]):
        result.stage_seconds[name] = result.stage_seconds.get(name, 0.0) + (t1 - t0)
    result.stage_rss = peaks
    result.peak_rss = max(peaks.values(), default=0)
    if code != 0:
        result.ok, result.note = False, f"exit {code}, see {log}"
    return result


def engine_marts(lake: Path) -> dict[str, str]:
    """Parquet paths of the engine's committed gold tables (from their pointer files)."""
    out = {}
    for name in MARTS:
        pointer = lake / "gold" / name / "_current.json"
        if pointer.is_file():
            out[name] = str(lake / json.loads(pointer.read_text())["path"])  # relative to the lake root
    return out


def totals(paths: dict[str, str]) -> dict[str, tuple]:
    """Rows, Σ main money column and a second figure of each mart (DuckDB over the Parquet)."""
    import duckdb

    con = duckdb.connect()
    found = {}
    for name, (money, second) in MARTS.items():
        if name not in paths:
            found[name] = (None, None, None)
            continue
        rows, total, other = con.execute(
            f"SELECT count(*), round(sum({money})::DOUBLE, 2), round(({second})::DOUBLE, 4) "
            f"FROM read_parquet('{paths[name]}/**/*.parquet')").fetchone()
        found[name] = (rows, total, other)
    return found


def generate(scale: float, data_root: Path) -> Path:
    """Raw CSVs at ``scale`` (generated once; same seed, same bytes)."""
    folder = data_root / f"s{scale:g}"
    if not (folder / "order_items.csv").is_file():
        print(f"generating scale {scale:g} into {folder} ...", flush=True)
        subprocess.run([str(ROOT / ".venv/bin/medallion"), "sample", "--scale", str(scale), "--out", str(folder)],
                       cwd=ROOT, check=True)
    return folder


def commands(job: str, raw: Path, work: Path, project: Path,
             threads: int | None = None) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDALLION_VAR_")}
    if job == "engine":
        args = ["run", "--plain", "--project-dir", str(project), "--var", f"raw_dir={raw}", "--var", f"lake_dir={work}"]
        args += ["--threads", str(threads)] if threads is not None else []
        if project == ROOT and (ROOT / ".venv/bin/medallion").is_file():
            return [str(ROOT / ".venv/bin/medallion"), *args], env
        # another checkout of the engine (e.g. the code before a change): its package first, this venv
        boot = (f"import sys; sys.path.insert(0, {str(project)!r}); import engine; "
                f"assert engine.__file__.startswith({str(project)!r}), engine.__file__; "
                "from engine.cli import entry; sys.argv[0] = 'medallion'; entry()")
        return [PY, "-c", boot, *args], env
    if job == "handwritten":
        return [PY, str(HERE / "handwritten_pyspark.py"), "--raw", str(raw), "--out", str(work)], env
    return [PY, str(HERE / "duckdb_marts.py"), "--raw", str(raw), "--out", str(work)], env


def mart_paths(job: str, work: Path) -> dict[str, str]:
    if job == "engine":
        return engine_marts(work)
    return {n: str(work / "gold" / n) for n in MARTS if (work / "gold" / n).exists()}


def median_result(runs: list[JobResult]) -> JobResult:
    """The run with the median wall time (its stages belong together)."""
    ordered = sorted(runs, key=lambda r: r.wall)
    return ordered[len(ordered) // 2]


def fmt_s(x: float | None) -> str:
    return "" if x is None else f"{x:.1f}"


def fmt_gib(x: int | None) -> str:
    return "" if not x else f"{x / GIB:.2f}"


def report(scale: float, results: dict[str, JobResult], walls: dict[str, list[float]], load: tuple,
           out_dir: Path, cmdline: str) -> tuple[str, list[list[str]]]:
    eng = results.get("engine")
    rows: list[list[str]] = []
    header = ["scale", "job", "stage", "wall_s", "peak_rss_gib", "engine_over_job_wall"]
    for job, res in results.items():
        for stage in [*STAGES, "total"]:
            sec = res.wall if stage == "total" else res.stage_seconds.get(stage)
            rss = res.peak_rss if stage == "total" else res.stage_rss.get(stage)
            ratio = ""
            if eng is not None and job != "engine" and sec:
                esec = eng.wall if stage == "total" else eng.stage_seconds.get(stage)
                ratio = f"{esec / sec:.2f}" if esec else ""
            rows.append([f"{scale:g}", job, stage, fmt_s(sec), fmt_gib(rss), ratio])
    lines = [f"## Pipeline benchmark, scale {scale:g}",
             "",
             f"`{cmdline}` — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{psutil.cpu_count()} cores, load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
             ""]
    if any(len(w) > 1 for w in walls.values()):
        lines.append("Repeats (total wall s): " + "; ".join(
            f"{j} {', '.join(f'{w:.1f}' for w in ws)} (median {statistics.median(ws):.1f})" for j, ws in walls.items()))
        lines.append("Stage figures are those of each job's median run.")
        lines.append("")
    lines += ["| job | " + " | ".join(STAGES) + " | total s | peak RSS GiB | engine / job |",
              "|---|" + "---:|" * (len(STAGES) + 3)]
    for job, res in results.items():
        cells = [f"{res.stage_seconds.get(s, 0.0):.1f}" for s in STAGES]
        ratio = f"{eng.wall / res.wall:.2f}" if eng and job != "engine" and res.wall else ""
        lines.append(f"| {job}{'' if res.ok else ' (FAILED)'} | " + " | ".join(cells)
                     + f" | {res.wall:.1f} | {fmt_gib(res.peak_rss)} | {ratio} |")
    lines += ["", "Peak RSS (GiB) per stage (process tree: Python driver + JVM):", "",
              "| job | " + " | ".join(STAGES) + " |", "|---|" + "---:|" * len(STAGES)]
    for job, res in results.items():
        lines.append(f"| {job} | " + " | ".join(fmt_gib(res.stage_rss.get(s)) for s in STAGES) + " |")
    lines += ["", "Mart totals (rows, Σ main money column, second figure); predictive CLV columns excluded:", "",
              "| mart | " + " | ".join(results) + " | same |", "|---|" + "---|" * (len(results) + 1)]
    for name, (money, second) in MARTS.items():
        cells = [str(results[j].totals.get(name)) for j in results]
        same = len({c for c in cells}) == 1
        lines.append(f"| {name} ({money}; {second}) | " + " | ".join(cells) + f" | {'yes' if same else 'NO'} |")
    if eng is not None and eng.spark:
        lines += ["", *markdown(eng.spark, "Spark work of the engine per spec (its run record; the median run):")]
    notes = [f"- {j}: {r.note}" for j, r in results.items() if r.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n", [header, *rows]


def _records(lake: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((lake / "_runs").glob("*.json"))]


def incremental_scenario(scale: float, data_root: Path, results_dir: Path, project: Path, keep: bool,
                         threads: int | None = None) -> int:
    """A daily run against a full one: the engine on scale S's daily files without the last business
    day's (a full run, fresh lake), then the same lake with that day's two files dropped into the
    landing folder (the incremental run), then
    ``--full-refresh`` on the same lake (the check: its mart totals must equal the incremental
    run's, and its time is that of a full run over every day)."""
    sys.path.insert(0, str(ROOT))  # this checkout's sample_data, not an installed one
    from sample_data.days import split_by_day

    raw = generate(scale, data_root)
    by_day = data_root / f"s{scale:g}_daily"  # one file per business day, as a daily source delivers them
    if not (by_day / "days.json").is_file():
        print(f"splitting into daily files under {by_day} ...", flush=True)
        (by_day / "days.json").write_text(json.dumps(split_by_day(raw, by_day)), encoding="utf-8")
    days = json.loads((by_day / "days.json").read_text())
    last = f"{days['last_day']}.csv"
    day = {"day": days["last_day"], "items_left_out": days["items"][days["last_day"]],
           "options_left_out": days["options"].get(days["last_day"], 0)}
    landing = data_root / f"work_s{scale:g}_incremental_raw"  # every day's files but the last, then the last
    shutil.rmtree(landing, ignore_errors=True)
    shutil.copytree(by_day, landing, ignore=lambda _, names: [n for n in names if n in (last, "days.json")])
    load = os.getloadavg()
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    work = data_root / f"work_s{scale:g}_incremental"
    shutil.rmtree(work, ignore_errors=True)
    runs: list[tuple[str, JobResult]] = []
    for label, folder, extra in (("full (all days but the last)", landing, []),
                                 ("incremental (the last day appended)", landing, []),
                                 ("--full-refresh (every day)", landing, ["--full-refresh"])):
        if runs and not (landing / "order_items" / last).exists():  # the day's files arrive
            for name in ("order_items", "order_item_options"):
                if (by_day / name / last).exists():
                    shutil.copy2(by_day / name / last, landing / name / last)
        cmd, env = commands("engine", folder, work, project.resolve(), threads)
        log = results_dir / f"log_s{scale:g}_{stamp}_incremental_{len(runs) + 1}.txt"
        res = run_job("engine", cmd + extra, env, log)
        if res.ok:
            res.totals = totals(engine_marts(work))
        runs.append((label, res))
        print(f"{label}: {res.wall:.1f} s{'' if res.ok else f'  FAILED ({res.note})'}", flush=True)
        if not res.ok:
            return 1
    records = _records(work)
    first, daily, refresh = (r for _, r in runs)
    same = daily.totals == refresh.totals
    lines = [f"## Incremental run, scale {scale:g}", "",
             f"`python benchmarks/bench_pipeline.py {' '.join(sys.argv[1:])}` — "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {psutil.cpu_count()} cores, load average before "
             f"the runs {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}", "",
             f"The appended day: {day['day']} ({day['items_left_out']} order lines, {day['options_left_out']} option "
             f"rows), delivered as order_items/{last} and order_item_options/{last} beside "
             f"{len(days['days']) - 1} earlier daily files each.", "",
             "| run | total s | share of the full run |", "|---|---:|---:|"]
    for label, res in runs:
        lines.append(f"| {label} | {res.wall:.1f} | {res.wall / first.wall:.0%} |")
    lines += ["", f"Mart totals of the incremental run equal those of the full refresh: {'yes' if same else 'NO'}.",
              "", "Per spec (seconds in the full run / in the incremental run; what the incremental run did):", "",
              "| spec | full s | incremental s | full jobs | incremental jobs | mode | note |",
              "|---|---:|---:|---:|---:|---|---|"]
    full_specs = {s["spec"]: s for s in records[0]["specs"]}
    lines[-2:] = ["| spec | full s | incremental s | full jobs | incremental jobs | mode | read | note |",
                  "|---|---:|---:|---:|---:|---|---|---|"]
    for item in records[1]["specs"]:
        inc = item.get("incremental") or {}
        merged = "stored rows" in str((item.get("accounting") or {}).get("source", ""))  # a bronze watermark
        mode = inc.get("mode", "watermark" if merged else "not incremental")
        jobs = [str((s.get("spark") or {}).get("jobs", "-")) for s in (full_specs[item["spec"]], item)]
        read = inc.get("rows_read", item.get("rows_in"))
        read = ", ".join(f"{k} {v}" for k, v in read.items()) if isinstance(read, dict) else f"{read} rows"
        if "files_read" in inc:
            read += f"; files {', '.join(inc['files_read']) or 'none'} ({inc['files_skipped']} skipped)"
        lines.append(f"| {item['spec']} | {full_specs[item['spec']]['seconds']:.1f} | {item['seconds']:.1f} | "
                     f"{jobs[0]} | {jobs[1]} | {mode} | {read} | {inc.get('note', '')} |")
    lines += ["", "Spark work per run: " + "; ".join(
        f"{label}: {summary_line(per_spec(rec)) or 'not recorded'}" for (label, _), rec in zip(runs, records))]
    md = "\n".join(lines) + "\n"
    name = f"incremental_s{scale:g}_{stamp}"
    (results_dir / f"{name}.md").write_text(md, encoding="utf-8")
    with open(results_dir / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["scale", "run", "wall_s", "share_of_full"],
                                  *[[f"{scale:g}", label, f"{r.wall:.1f}", f"{r.wall / first.wall:.3f}"]
                                    for label, r in runs]])
    print(md)
    print(f"saved {results_dir / name}.md and .csv")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1, help="runs per job; the median is reported")
    parser.add_argument("--only", default="engine,handwritten,duckdb", help="comma-separated jobs")
    parser.add_argument("--data-root", type=Path, default=Path("/tmp/bench_data"))
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--keep", action="store_true", help="keep the jobs' output folders")
    parser.add_argument("--engine-project", type=Path, default=ROOT,
                        help="project folder whose engine and specs the engine job runs (default: this one)")
    parser.add_argument("--incremental", action="store_true",
                        help="instead: a full engine run without the last day, then that day appended")
    parser.add_argument("--threads", type=int, default=None,
                        help="passed to the engine's `medallion run --threads N` (default: not passed)")
    args = parser.parse_args()
    if args.incremental:
        return incremental_scenario(args.scale, args.data_root, args.results, args.engine_project, args.keep,
                                    args.threads)
    jobs = [j.strip() for j in args.only.split(",") if j.strip()]
    raw = generate(args.scale, args.data_root)
    load = os.getloadavg()
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    results: dict[str, JobResult] = {}
    walls: dict[str, list[float]] = {}
    for job in jobs:
        runs = []
        for i in range(args.repeats):
            work = args.data_root / f"work_s{args.scale:g}_{job}"
            shutil.rmtree(work, ignore_errors=True)
            cmd, env = commands(job, raw, work, args.engine_project.resolve(), args.threads)
            log = args.results / f"log_s{args.scale:g}_{stamp}_{job}_{i + 1}.txt"
            res = run_job(job, cmd, env, log)
            if res.ok:
                res.totals = totals(mart_paths(job, work))
            if job == "engine":
                res.spark = per_spec(latest_record(work))
            runs.append(res)
            work_line = summary_line(res.spark)
            print(f"{job} run {i + 1}: {res.wall:.1f} s, peak RSS {fmt_gib(res.peak_rss)} GiB, "
                  + ", ".join(f"{s} {v:.1f}" for s, v in res.stage_seconds.items())
                  + (f"; Spark {work_line}" if work_line else "")
                  + ("" if res.ok else f"  FAILED ({res.note})"), flush=True)
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        results[job] = median_result(runs)
        walls[job] = [r.wall for r in runs]
    base = results.get("engine")
    mismatch = False
    if base is not None:
        for job, res in results.items():
            if job != "engine" and res.ok and res.totals != base.totals:
                bad = [n for n in MARTS if res.totals.get(n) != base.totals.get(n)]
                res.note += f" totals differ from the engine's on: {', '.join(bad)}"
                mismatch = True
    cmdline = "python benchmarks/bench_pipeline.py " + " ".join(sys.argv[1:])
    md, table = report(args.scale, results, walls, load, args.results, cmdline)
    name = f"pipeline_s{args.scale:g}_{stamp}"
    (args.results / f"{name}.md").write_text(md, encoding="utf-8")
    with open(args.results / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(table)
    print(md)
    print(f"saved {args.results / name}.md and .csv")
    return 1 if mismatch or not all(r.ok for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
