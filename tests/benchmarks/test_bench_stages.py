"""The benchmark's stage clock with specs running side by side (``--threads``).

The lines are the engine's plain reporter output of a two-thread run (shortened); the
expected stage after each line is worked out by hand from which specs are running."""
from benchmarks.bench_pipeline import StageTracker


LINES = [
    ("run 2026 · profile local · 4 spec(s) · 2 at a time", "startup"),
    ("  start bronze.b (1 of 4)", "bronze"),
    ("  start bronze.a (2 of 4)", "bronze"),
    # bronze.a ends while bronze.b still runs: still bronze (the old clock said "finish")
    ("  ok      bronze.a   rows_in=1 rows_out=1 1.0s", "bronze"),
    ("    conservation (records read): in 1 = out 1 — balanced", None),
    ("  ok      bronze.b   rows_in=1 rows_out=1 2.0s", "finish"),
    ("  start silver.s (3 of 4)", "silver"),
    ("  start gold.g (4 of 4)", "gold"),
    # the latest started spec still running decides
    ("  ok      gold.g     rows_in=1 rows_out=1 1.0s", "silver"),
    ("  skipped silver.s   rows_in=- rows_out=- ", "finish"),
    ("@stage gold", "gold"),
]


def test_stage_follows_the_specs_still_running():
    tracker = StageTracker()
    assert [tracker.feed(line) for line, _ in LINES] == [stage for _, stage in LINES]
