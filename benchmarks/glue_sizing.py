"""Glue sizing from measured local runs: fixed + per-row cost per spec, extrapolated (docs/performance.md).

Per spec, the local run at two scales gives ``t(s) = a + b·s`` on local[2] (``a`` the fixed cost:
planning, small jobs, commit; ``b`` the cost per scale unit, scale 1 = the restaurant's volume).
On Glue, one job run per spec with ``workers`` G.1X workers (one is the driver, each other one
executor of 4 vCPUs), the per-row part runs on ``4·(workers-1)`` cores instead of 2, except
what cannot spread: a multi-line CSV is one task per file, and the CLV step's model fit runs on
the driver. Each job run is billed per second with a 1-minute minimum::

    g(s, W) = O + a + b·s·(1-q)·2/(4·(W-1)) + b·s·q          (q: the serial share of b)
    DPU-hours = Σ_specs max(60, g) · W / 3600                   (G.1X: 1 DPU per worker)

``O`` (Glue start, wheel install, session, per job run) is an assumption, not a measurement.
The wall time is the state machine's schedule: specs start when their inputs are committed, at
most the profile's ``threads:`` (the Glue job's MaxConcurrentRuns) at once.

    python benchmarks/glue_sizing.py [--low LOG --high LOG] [--check LOG] [--overhead 40]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.run.workspace import Workspace  # noqa: E402
from engine.spec.steps import ReadStep  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
LOW = RESULTS / "log_s10_20261125T070352_engine_1.txt"
HIGH = RESULTS / "log_s50_20261125T071606_engine_1.txt"
CHECK = RESULTS / "log_s1_20261125T071232_engine_1.txt"
LOCAL_CORES, CORES_PER_WORKER, DPU_PRICE = 2, 4, 0.44  # local[2]; G.1X = 4 vCPU, 1 DPU; USD per DPU-hour
# gold.customer_lifetime_value: share of its per-row cost spent on the driver (numpy fits of the
# three families in the backtest, then the chosen one, scores and intervals): 16.5 s CPU at 1M
# customers (benchmarks/results/clv_1000000_*: MBG 1.7 + BG 1.9 + Pareto 4.3 fits, BG 8.5 fit +
# score + intervals) = 0.33 s per scale unit of the step's measured 0.82 s
CLV_DRIVER_SHARE = 0.4


def spec_seconds(log: Path) -> tuple[float, dict[str, float]]:
    """(scale, seconds per spec) from an engine log of bench_pipeline.py."""
    scale = float(re.search(r"_s(\d+(?:\.\d+)?)_", log.name).group(1))
    found = {}
    for line in log.read_text().splitlines():
        m = re.match(r"^  ok\s+(\S+)\s+.*\s([\d.]+)s$", line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return scale, found


def serial_share(loaded) -> float:
    """How much of a spec's per-row cost cannot spread over executors."""
    steps = loaded.spec.steps
    if any(isinstance(s, ReadStep) and s.format == "csv" and s.csv.multiline for s in steps):
        return 1.0  # a multi-line CSV is not splittable: one task per file
    if any(getattr(s, "type", "") == "clv_model" for s in steps):
        return CLV_DRIVER_SHARE
    return 0.0


def schedule(graph, seconds: dict[str, float], slots: int) -> float:
    """Wall seconds when each spec starts once its inputs are done, ``slots`` at a time."""
    done: dict[str, float] = {}
    running: list[tuple[float, str]] = []
    waiting, now = list(graph.order), 0.0
    while waiting or running:
        ready = [n for n in waiting if all(u in done for u in graph.upstream[n])]
        while ready and len(running) < slots:
            name = ready.pop(0)
            waiting.remove(name)
            running.append((now + seconds[name], name))
        running.sort()
        now, name = running.pop(0)
        done[name] = now
    return now


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low", type=Path, default=LOW)
    parser.add_argument("--high", type=Path, default=HIGH)
    parser.add_argument("--check", type=Path, default=CHECK, help="a third run: the model's prediction beside it")
    parser.add_argument("--overhead", type=float, default=40.0, help="billed seconds per job run (assumed)")
    parser.add_argument("--slots", type=int, default=4, help="the profile's threads: (Glue job runs at once)")
    parser.add_argument("--scales", default="1,100,1000")
    parser.add_argument("--workers", default="2,3,5,9,17")
    args = parser.parse_args()

    graph = Workspace.open(ROOT, "local", []).graph
    (s0, low), (s1, high) = spec_seconds(args.low), spec_seconds(args.high)
    check_scale, check = spec_seconds(args.check) if args.check else (None, {})
    model = {}
    print(f"| spec | {s0:g} | {s1:g} | a (s) | b (s per scale unit) | serial share | model at {check_scale:g} | measured |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in graph.order:
        b = max(0.0, (high[name] - low[name]) / (s1 - s0))
        a = max(0.0, low[name] - b * s0)
        q = serial_share(graph.specs[name])
        model[name] = (a, b, q)
        print(f"| {name} | {low[name]:.1f} | {high[name]:.1f} | {a:.2f} | {b:.3f} | {q:.1f} | "
              f"{a + b * check_scale:.1f} | {check.get(name, float('nan')):.1f} |")
    total = lambda s: sum(a + b * s for a, b, _ in model.values())  # noqa: E731
    print(f"| **sum** | {sum(low.values()):.1f} | {sum(high.values()):.1f} | {sum(m[0] for m in model.values()):.1f} | "
          f"{sum(m[1] for m in model.values()):.2f} | | {total(check_scale):.1f} | {sum(check.values()):.1f} |\n")

    print(f"Glue (G.1X, {args.overhead:g} s per job run, 1-minute minimum, {args.slots} specs at once):\n")
    print("| scale | workers | executor cores | billed job-run minutes | DPU-hours per run | USD per run | wall min |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for scale in (float(s) for s in args.scales.split(",")):
        for workers in (int(w) for w in args.workers.split(",")):
            cores = CORES_PER_WORKER * (workers - 1)
            run = {n: args.overhead + a + b * scale * ((1 - q) * LOCAL_CORES / cores + q)
                   for n, (a, b, q) in model.items()}
            billed = sum(max(60.0, g) for g in run.values())
            dpu_h = billed * workers / 3600
            print(f"| {scale:g} | {workers} | {cores} | {billed / 60:.1f} | {dpu_h:.2f} | {dpu_h * DPU_PRICE:.2f} | "
                  f"{schedule(graph, run, args.slots) / 60:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
