"""Benchmark: fit + score the CLV models on 1M synthetic customers (not a test; run by hand).

    .venv/bin/python benchmarks/bench_clv.py                 # numpy and Spark, 3 repeats each
    .venv/bin/python benchmarks/bench_clv.py --mode numpy --customers 1000000 --repeats 3

Customers are drawn from BG/NBD + Gamma-Gamma at day grain (whole days, up to three years of
tenure, like a mart's summary). Generating them is not timed.

- ``numpy``: fit BG/NBD and Gamma-Gamma on the driver (compressed rows) and score every
  customer (p_alive, expected orders, expected order value, predicted CLV) in numpy.
- ``spark``: the ``clv_model`` step end to end on a local[2] session: read the summary from
  Parquet, aggregate + collect, fit, score in Spark and write the result to Parquet.

Prints each repeat's seconds and the median. The issue's target: ≤ 15 s for 1M customers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.clv import bgnbd, compress, gamma_gamma  # noqa: E402

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


def run_numpy(data: pd.DataFrame) -> dict:
    """Fit both models and score every customer; returns a few figures for a sanity check."""
    x, t_x, T, m = (data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary"))
    bg = bgnbd.fit(x, t_x, T, min_repeat_customers=100)
    gg = gamma_gamma.fit(x, m, min_customers=100)
    bp, gp = bgnbd.BgNbdParams.from_dict(bg.params), gamma_gamma.GammaGammaParams.from_dict(gg.params)
    alive = bgnbd.p_alive(bp, x, t_x, T)
    # growth depends on (x, T) only: evaluate it once per distinct pair, as the Spark step does
    (px, pT), _, inverse = compress(x, T, return_inverse=True)
    expected = alive * bgnbd.growth(bp, HORIZON, px, pT)[inverse]
    value = gamma_gamma.conditional_expected_value(gp, x, m)
    clv = expected * value
    return {"bgnbd": bg.params, "bgnbd_converged": bg.converged, "bgnbd_rows": bg.n_rows,
            "gamma_gamma": gg.params, "gg_converged": gg.converged, "expected_orders": float(expected.sum()),
            "clv": float(clv.sum()), "distinct_x_T": len(px)}


def spark_session():
    """The local[2] session (started before any timing: JVM start-up is not the step's cost)."""
    from engine.run.session import get_spark
    from engine.spec.project import SparkConfig

    return get_spark(SparkConfig(master="local[2]", shuffle_partitions=4, driver_memory="3g"), "bench-clv")


def run_spark(spark, path: str, out: str) -> dict:
    """The clv_model step end to end: Parquet in, Parquet out."""
    from engine.spec.clv import ClvModelStep
    from engine.steps.clv import run_clv_model
    from engine.steps.context import StepContext

    step = ClvModelStep.model_validate({"type": "clv_model", "min_repeat_customers": 100})
    ctx = StepContext(spark=spark, run_id="bench", base_dir=Path(out).parent, spec_name="gold.bench",
                      step_label="step 1 (clv_model)")
    frame = spark.read.parquet(path)
    result = run_clv_model(step, frame, ctx)
    result.write.mode("overwrite").parquet(out)
    for cached in ctx.cached:
        cached.unpersist()
    report = ctx.artefacts[-1]
    return {"status": report["status"], "bgnbd": report["bgnbd"]["params"],
            "distinct_x_T": report["scoring"]["distinct_x_T"], "driver_seconds": report["seconds_driver"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", choices=["numpy", "spark", "both"], default="both")
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = synthetic(args.customers)
    print(f"generated {len(data):,} customers in {time.perf_counter() - t0:.1f} s "
          f"({(data['frequency'] > 0).mean():.0%} repeat)")
    if args.mode in ("numpy", "both"):
        times = []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            info = run_numpy(data)
            times.append(time.perf_counter() - t0)
            print(f"numpy run {i + 1}: {times[-1]:.2f} s  {info}")
        print(f"numpy fit + score, {args.customers:,} customers: median {statistics.median(times):.2f} s")
    if args.mode in ("spark", "both"):
        spark = spark_session()
        spark.range(10).count()  # warm the JVM
        with tempfile.TemporaryDirectory() as tmp:
            src = str(Path(tmp) / "summary.parquet")
            data.to_parquet(src, index=False)
            times = []
            for i in range(args.repeats):
                t0 = time.perf_counter()
                info = run_spark(spark, src, str(Path(tmp) / f"scored_{i}.parquet"))
                times.append(time.perf_counter() - t0)
                print(f"spark run {i + 1}: {times[-1]:.2f} s  {info}")
            print(f"spark clv_model step (read, fit, score, write), {args.customers:,} customers: "
                  f"median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
