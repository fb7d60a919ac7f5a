"""Benchmark: fit + score each CLV model family on 1M synthetic customers (not a test; run by hand).

    .venv/bin/python benchmarks/bench_clv.py                 # numpy and Spark, every family
    .venv/bin/python benchmarks/bench_clv.py --mode numpy --family pareto_nbd --repeats 3

Customers are drawn from BG/NBD + Gamma-Gamma at day grain (whole days, up to three years of
tenure, like a mart's summary). Generating them is not timed.

- ``numpy``: fit the family and Gamma-Gamma on the driver (compressed rows) and score every
  customer (p_alive, expected orders, expected order value, predicted CLV) in numpy; the
  80% intervals (100 parameter draws over the distinct rows) are timed separately.
- ``spark``: the ``clv_model`` step end to end on a local[2] session: read the summary from
  Parquet, aggregate + collect, fit, score the distinct rows with intervals, join back, write
  Parquet.

Prints each repeat's wall and CPU seconds and the medians, and writes them to
benchmarks/results/clv_<customers>_<timestamp>.md (with the load average before the run: the
machine is shared, so CPU seconds are the figure a busy neighbour does not inflate). The
issue's target: ≤ 15 s per family for 1M customers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.clv import bgnbd, gamma_gamma  # noqa: E402
from engine.clv.families import FAMILIES, score  # noqa: E402
from engine.clv.intervals import intervals  # noqa: E402

BG = bgnbd.BgNbdParams(r=0.5, alpha=45.0, a=0.8, b=3.0)     # days: ~ one order a quarter, median
GG = gamma_gamma.GammaGammaParams(p=4.0, q=3.5, gamma=45.0)   # mean order-day value ~ 72
HORIZON = 365.0


def synthetic(n: int, seed: int = 2024) -> pd.DataFrame:
    """Day-grain summaries of ``n`` customers (first orders spread over three years)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(0, 3 * 365, n).astype(float)
    sim = bgnbd.simulate(BG, T, seed=seed)
    x = sim["x"]
    t_x = np.where(x > 0, np.clip(np.ceil(sim["t_x"]), 1, np.maximum(T, 1)), 0.0)
    T = np.maximum(T, t_x)
    m = np.round(gamma_gamma.simulate(GG, x, seed=seed + 1), 2)
    return pd.DataFrame({"customer_id": np.arange(n, dtype=np.int64), "frequency": x.astype(np.int64),
                         "recency": t_x, "T": T, "monetary": m})


def run_numpy(data: pd.DataFrame, family_name: str) -> dict:
    """Fit the family and Gamma-Gamma and score every customer; returns a few figures for a sanity check."""
    family = FAMILIES[family_name]
    x, t_x, T, m = (data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary"))
    fit = family.fit(x, t_x, T, min_repeat_customers=100)
    gg = gamma_gamma.fit(x, m, min_customers=100)
    params, gp = family.params(fit.params), gamma_gamma.GammaGammaParams.from_dict(gg.params)
    scored = score(family, params, HORIZON, x, t_x, T)  # growth once per distinct (x, T), as the step does
    value = gamma_gamma.conditional_expected_value(gp, x, m)
    clv = scored["expected"] * value
    return {"params": {k: round(v, 4) for k, v in fit.params.items()}, "converged": fit.converged,
            "rows": fit.n_rows, "iterations": fit.iterations, "gg_converged": gg.converged,
            "expected_orders": round(float(scored["expected"].sum())), "clv": round(float(clv.sum())),
            "distinct_x_T": int(scored["growth_pairs"]), "_fits": (fit, gg)}


def run_intervals(data: pd.DataFrame, family_name: str, fits: tuple) -> dict:
    """The step's interval work: 100 draws over the distinct (x, t_x, T, m̄) rows."""
    family = FAMILIES[family_name]
    rows = data[["frequency", "recency", "T", "monetary"]].drop_duplicates()
    x, t_x, T, m = (rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary"))
    band = intervals(family, fits[0], fits[1], HORIZON, x, t_x, T, m, draws=100, seed=19)
    return {"distinct_rows": len(x), "draws": band["draws"]}


def spark_session():
    """The local[2] session (started before any timing: JVM start-up is not the step's cost)."""
    from engine.run.session import get_spark
    from engine.spec.project import SparkConfig

    return get_spark(SparkConfig(master="local[2]", shuffle_partitions=4, driver_memory="3g"), "bench-clv")


def timed(run, *args):
    """``(result, wall seconds, CPU seconds of this process)``."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = run(*args)
    return result, time.perf_counter() - t0, time.process_time() - c0


def run_spark(spark, path: str, out: str, family_name: str) -> dict:
    """The clv_model step end to end: Parquet in, Parquet out."""
    from engine.spec.clv import ClvModelStep
    from engine.steps.clv import run_clv_model
    from engine.steps.context import StepContext

    step = ClvModelStep.model_validate({"type": "clv_model", "model": family_name, "min_repeat_customers": 100})
    ctx = StepContext(spark=spark, run_id="bench", base_dir=Path(out).parent, spec_name="gold.bench",
                      step_label="step 1 (clv_model)")
    frame = spark.read.parquet(path)
    result = run_clv_model(step, frame, ctx)
    result.write.mode("overwrite").parquet(out)
    for cached in ctx.cached:
        cached.unpersist()
    report = ctx.artefacts[-1]
    return {"status": report["status"], "params": report["purchase_model"]["params"],
            "distinct_rows": report["scoring"]["distinct_rows"], "driver_seconds": report["seconds_driver"]}


def write_results(folder: Path, customers: int, rows: list[list[str]], load: tuple, command: str) -> Path:
    """One Markdown table of the medians (results/clv_<customers>_<timestamp>.md)."""
    stamp = datetime.now(timezone.utc)
    path = folder / f"clv_{customers}_{stamp:%Y%m%dT%H%M%S}.md"
    lines = [f"## CLV model benchmark, {customers:,} customers",
             "", f"`{command}` — {stamp:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average before the run "
             + " / ".join(f"{v:.2f}" for v in load), "",
             "| family | mode | fit + score wall s | fit + score CPU s | intervals wall s | intervals CPU s | total wall s | total CPU s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"] + ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "Medians over the repeats. numpy: fit (compressed rows) + score every customer, then the 80% "
              "intervals (100 parameter draws over the distinct rows). spark: the clv_model step end to end "
              "(read Parquet, aggregate + collect, fit, score + intervals, join back, write Parquet); CPU is the "
              "Python driver's only (the JVM's is not counted). Target: ≤ 15 s per family."]
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--mode", choices=["numpy", "spark", "both"], default="both")
    parser.add_argument("--family", choices=["all", *FAMILIES], default="all")
    parser.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    load = os.getloadavg()
    names = list(FAMILIES) if args.family == "all" else [args.family]
    t0 = time.perf_counter()
    data = synthetic(args.customers)
    print(f"generated {len(data):,} customers in {time.perf_counter() - t0:.1f} s "
          f"({(data['frequency'] > 0).mean():.0%} repeat)")
    table: list[list[str]] = []
    med = statistics.median
    if args.mode in ("numpy", "both"):
        for name in names:
            runs = []
            for i in range(args.repeats):
                info, wall, cpu = timed(run_numpy, data, name)
                fits = info.pop("_fits")
                band, band_wall, band_cpu = timed(run_intervals, data, name, fits)
                runs.append((wall, cpu, band_wall, band_cpu))
                print(f"{name} numpy run {i + 1}: fit + score {wall:.2f} s ({cpu:.2f} s CPU), "
                      f"intervals {band_wall:.2f} s ({band_cpu:.2f} s CPU)  {info} {band}")
            cols = [med(r[j] for r in runs) for j in range(4)]
            print(f"{name}: numpy, {args.customers:,} customers: fit + score median {cols[0]:.2f} s "
                  f"({cols[1]:.2f} s CPU); intervals median {cols[2]:.2f} s ({cols[3]:.2f} s CPU)")
            table.append([name, "numpy"] + [f"{v:.2f}" for v in cols] + [f"{cols[0] + cols[2]:.2f}", f"{cols[1] + cols[3]:.2f}"])
    if args.mode in ("spark", "both"):
        spark = spark_session()
        spark.range(10).count()  # warm the JVM
        with tempfile.TemporaryDirectory() as tmp:
            src = str(Path(tmp) / "summary.parquet")
            data.to_parquet(src, index=False)
            for name in names:
                runs = []
                for i in range(args.repeats):
                    info, wall, cpu = timed(run_spark, spark, src, str(Path(tmp) / f"scored_{name}_{i}.parquet"), name)
                    runs.append((wall, cpu))
                    print(f"{name} spark run {i + 1}: {wall:.2f} s ({cpu:.2f} s driver CPU)  {info}")
                wall, cpu = med(r[0] for r in runs), med(r[1] for r in runs)
                print(f"{name}: spark clv_model step (read, fit, score + intervals, write), {args.customers:,} "
                      f"customers: median {wall:.2f} s ({cpu:.2f} s driver CPU)")
                table.append([name, "spark step", "", "", "", "", f"{wall:.2f}", f"{cpu:.2f}"])
    command = "python benchmarks/bench_clv.py " + " ".join(sys.argv[1:])
    print(f"results: {write_results(args.results, args.customers, table, load, command.strip())}")


if __name__ == "__main__":
    main()
