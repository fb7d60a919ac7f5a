"""Entry point of the generator: ``generate(out_dir, scale, seed) -> counts``.

Why this module is thin: it owns the files, nothing else. It writes the chunks in order with
the exact raw format (UPPERCASE headers, minimal quoting, LF endings for the order files), copies
the real ``date_dim.csv`` byte for byte (CRLF, never re-encoded), and writes the ground truth
and a small manifest (scale, seed, counts) that the profile report reads to scale its targets.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

from sample_data import chunk, published
from sample_data.plan import make_plan

ITEMS, OPTIONS, DATE_DIM = "order_items.csv", "order_item_options.csv", "date_dim.csv"
TRUTH, MANIFEST = "ground_truth.csv", "sample_manifest.json"
VERSION = 1


def _write(df, fh, header: bool) -> None:
    df.to_csv(fh, header=header, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def copy_date_dim(out_dir: Path) -> Path:
    """The real 2023 calendar, copied as bytes (CRLF line endings preserved)."""
    target = out_dir / DATE_DIM
    with open(Path(__file__).resolve().parent / DATE_DIM, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


def generate(out_dir: Path, scale: float = 1.0, seed: int = 42, progress=None) -> dict:
    """Write the three raw CSVs, ``ground_truth.csv`` and ``sample_manifest.json`` into out_dir.

    Returns counts: items (logical records), options, orders, users, chunks, seconds.
    """
    started = time.perf_counter()
    plan = make_plan(float(scale), int(seed))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    totals = dict(items=0, options=0, orders=0, users=0)
    with open(out_dir / ITEMS, "w", encoding="utf-8", newline="") as f_items, \
            open(out_dir / OPTIONS, "w", encoding="utf-8", newline="") as f_opts, \
            open(out_dir / TRUTH, "w", encoding="utf-8", newline="") as f_truth:
        f_items.write(published.ITEMS_HEADER + "\n")
        f_opts.write(published.OPTIONS_HEADER + "\n")
        for c in range(plan.n_chunks):
            data = chunk.build(plan, c)
            _write(data.items, f_items, header=False)
            _write(data.options, f_opts, header=False)
            _write(data.truth, f_truth, header=(c == 0))
            for k in totals:
                totals[k] += data.counts[k]
            if progress:
                progress(c + 1, plan.n_chunks)
            del data
    copy_date_dim(out_dir)
    counts = dict(totals, chunks=plan.n_chunks, seconds=round(time.perf_counter() - started, 2))
    manifest = dict(generator="sample_data", version=VERSION, scale=float(scale), seed=int(seed),
                    files=[ITEMS, OPTIONS, DATE_DIM, TRUTH],
                    counts={k: v for k, v in counts.items() if k != "seconds"})
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts
