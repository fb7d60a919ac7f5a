"""Run selected specs in dependency order in one Spark session.

Each spec reads its inputs' committed versions, applies its steps, writes a new version of
its table and commits it atomically. A failed spec leaves its table as it was; specs that
depend on it are skipped; the run ends with the command that re-runs what did not finish.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from engine.errors import MedallionError, TerminalError
from engine.io.lake import LocalLake, PendingWrite
from engine.run.accounting import account, check
from engine.plan.graph import Graph
from engine.run.failures import classify
from engine.run.faults import FaultPlan
from engine.run import incremental
from engine.run.incremental import LoadMode
from engine.run.lock import LakeLock
from engine.run.record import RunRecord, RunStore, SpecRecord, new_run_id, utc_now
from engine.run.report import Reporter
from engine.run.sizing import input_bytes, partitions_for
from engine.spec.loader import LoadedSpec
from engine.spec.models import Retry
from engine.spec.secrets import SecretProvider
from engine.spec.steps import ReadStep
from engine.steps import EXECUTORS
from engine.steps.context import StepContext
from engine.steps.counting import ObservedCount, ObservedMetrics


def read_table(spark: SparkSession, lake: LocalLake, table: str) -> tuple[DataFrame, int]:
    """A committed lake table as a frame, and its recorded row count."""
    version = lake.require(table)
    reader = spark.read.option("basePath", version.path) if version.partition_by else spark.read
    return reader.parquet(version.path), version.rows


def quarantine_table(spec_name: str) -> str:
    """Where a spec's quarantined rows go: ``quarantine.<layer>_<name>``."""
    return "quarantine." + spec_name.replace(".", "_")


@dataclass
class SpecResult:
    """What one spec run produced, for its run-record entry."""

    rows_in: int
    rows_out: int
    version: int
    quarantined: int | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)
    accounting: dict[str, Any] | None = None
    artefacts: list[dict[str, Any]] = field(default_factory=list)


def _run_steps(loaded: LoadedSpec, ctx: StepContext,
               lake: LocalLake) -> tuple[DataFrame, int, dict[str, int], list[ObservedCount]]:
    """Read inputs, apply every step; returns the result, rows of input tables, rows per input,
    and the counters of the files read (filled by the write that reads them anyway).

    When the spec declares ``conservation``, only losses on the path from that input to the
    output count (a filter on a lookup frame removes no source rows); other losses are dropped.
    Lossy steps count through observations (engine/steps/counting.py), so nothing is cached
    or counted here.
    """
    spec = loaded.spec
    rows_in = 0
    per_input: dict[str, int] = {}
    for alias, table in spec.inputs.items():
        ctx.frames[alias], per_input[alias] = read_table(ctx.spark, lake, table)
        rows_in += per_input[alias]
    frame: DataFrame | None = ctx.frames[next(iter(spec.inputs))] if len(spec.inputs) == 1 else None
    flow: list[DataFrame] = [ctx.frames[spec.conservation]] if spec.conservation else []
    reads: list[ObservedCount] = []
    for i, step in enumerate(spec.steps):
        ctx.step_label = f"step {i + 1} ({step.type})"
        try:
            source = ctx.frame(step.input) if step.input else frame
            main = ctx.frame(step.left) if getattr(step, "left", None) else source
            losses_before = len(ctx.losses)
            frame = EXECUTORS[step.type](step, source, ctx)
            if isinstance(step, ReadStep):
                reads.append(ObservedCount(frame))
                frame = reads[-1].frame
        except Exception as exc:  # noqa: BLE001 - every failure becomes a located RunError
            err = classify(exc, ctx.step_label)
            err.path, err.line = str(loaded.path), loaded.doc.line_of(("steps", i))
            raise err from exc
        if any(main is f for f in flow):
            flow.append(frame)
        else:
            del ctx.losses[losses_before:]
        if step.as_:
            ctx.frames[step.as_] = frame
    assert frame is not None
    if spec.conservation and not any(frame is f for f in flow):
        raise TerminalError(f"conservation: the output is not derived from input '{spec.conservation}'",
                            path=str(loaded.path), line=loaded.doc.line_of(("conservation",)))
    return frame, rows_in, per_input, reads


def _write(frame: DataFrame, pending: PendingWrite, partition_by: list[str]) -> int:
    """Write a version folder; its row count comes from the written Parquet footers."""
    writer = frame.write.mode("errorifexists")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.parquet(str(pending.path))
    return written_rows(frame.sparkSession, pending.path)


def written_rows(spark: SparkSession, path: Any) -> int:
    """Rows in a written Parquet folder, summed from the file footers (no Spark job).

    Only a local folder is read that way; a URL (``s3://…`` on Glue, ``file://``) or a footer
    that cannot be read is counted by Spark, so the number is always the truth.
    """
    local = Path(str(path))
    if "://" not in str(path) and local.is_dir():
        try:
            import pyarrow.parquet as pq

            files = [f for f in local.rglob("*.parquet") if not f.name.startswith((".", "_"))]
            return sum(pq.read_metadata(f).num_rows for f in files)
        except Exception:  # noqa: BLE001 - the footers are an optimisation, the count is the truth
            pass
    return spark.read.parquet(str(path)).count()


_WATERMARK_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"


def _watermark_observer(frame: DataFrame, column: str) -> ObservedMetrics:
    """The largest time of the table about to be written, observed while it is written.

    The same expression as :func:`engine.run.incremental.new_watermark`, which reads the
    written files back in a second pass; rendered as UTC text (the session time zone) so no
    timestamp crosses the Py4J boundary.
    """
    latest = F.max(incremental._time(column))  # noqa: SLF001 - one definition of "the time of a row"
    return ObservedMetrics(frame, [F.date_format(latest, _WATERMARK_FORMAT).alias("w")])


def _watermark(observed: ObservedMetrics, path: str, spark: SparkSession, spec: Any) -> str | None:
    """The new watermark, as ``new_watermark`` would give it (a naive local-time ISO string)."""
    if not observed.ready():
        return incremental.new_watermark(path, spark, spec.incremental)
    text = observed.values()["w"]
    if text is None:
        return None
    utc = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    # PySpark hands timestamps to Python as naive local time; keep the recorded form identical
    return utc.astimezone().replace(tzinfo=None).isoformat()


def _columns(frame: DataFrame) -> list[dict[str, str]]:
    return [{"name": f.name, "type": f.dataType.simpleString()} for f in frame.schema.fields]


def execute_spec(loaded: LoadedSpec, spark: SparkSession, lake: LocalLake, run_id: str,
                 base_dir: Any, secrets: SecretProvider | None = None,
                 faults: FaultPlan | None = None, mode: LoadMode | None = None,
                 source: Any = None) -> SpecResult:
    """Run one spec's steps and commit its output (and its quarantine) atomically."""
    spec = loaded.spec
    ctx = StepContext(spark=spark, run_id=run_id, base_dir=base_dir, spec_name=spec.name, secrets=secrets,
                      source=source)
    if spec.incremental:
        ctx.incremental_since = incremental.since(spec.incremental, mode or LoadMode(),
                                                  lake.current(spec.output.table))
    pending: list[PendingWrite] = []
    try:
        frame, rows_in, per_input, reads = _run_steps(loaded, ctx, lake)
        ctx.step_label = f"writing {spec.output.table}"
        if spec.incremental:
            mode = mode or LoadMode()
            current = lake.current(spec.output.table)
            frame = incremental.window(frame, spec.incremental, mode, current)
            stored = None if mode.kind == "full" or current is None else read_table(spark, lake, current.table)[0]
            frame = incremental.merge(frame, stored, spec.incremental)
            watermark_obs = _watermark_observer(frame, spec.incremental.column)
            frame = watermark_obs.frame
        quarantined = None
        if ctx.quarantine:
            q_pending = lake.begin(quarantine_table(spec.name))
            pending.append(q_pending)
            q_frame = reduce(lambda a, b: a.unionByName(b), ctx.quarantine)
            quarantined = _write(q_frame, q_pending, [])
        main = lake.begin(spec.output.table)
        pending.append(main)
        rows_out = _write(frame, main, spec.output.partition_by)
        rows_in += sum(read.count() for read in reads)
        accounting = None
        if spec.conservation:
            accounting = account(spec.conservation, per_input[spec.conservation], rows_out, ctx.losses)
            check(accounting)
        if faults is not None:
            faults.before_commit(spec.name)
        if quarantined is not None:
            lake.commit(pending[0], rows=quarantined, columns=_columns(q_frame), partition_by=[], run_id=run_id)
        watermark = _watermark(watermark_obs, str(main.path), spark, spec) if spec.incremental else None
        committed = lake.commit(main, rows=rows_out, columns=_columns(frame),
                                partition_by=spec.output.partition_by, run_id=run_id, watermark=watermark)
    except Exception as exc:  # noqa: BLE001
        for write in pending:
            if lake.current(write.table) is None or lake.current(write.table).version != write.version:
                lake.abort(write)
        err = classify(exc, ctx.step_label)
        if err.path is None:
            err.path, err.line = str(loaded.path), loaded.doc.line_of(("output",))
        raise err from exc
    finally:
        for cached in ctx.cached:
            cached.unpersist()
    return SpecResult(rows_in, rows_out, committed.version, quarantined,
                      [r.as_dict() for r in ctx.rules], accounting, list(ctx.artefacts))


@dataclass
class RunContext:
    """Everything a run needs besides the list of specs."""

    graph: Graph
    lake: LocalLake
    store: RunStore
    reporter: Reporter
    spark_factory: Any
    project_name: str
    profile: str
    base_dir: Any
    var_args: list[str] = field(default_factory=list)
    default_retry: Retry | None = None
    shuffle_partitions: int | str = "auto"
    secrets: SecretProvider | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    warehouse: Any = None
    mode: LoadMode = field(default_factory=LoadMode)
    source: Any = None


def resume_command(record: RunRecord) -> str:
    """The command that finishes a failed run (its variables are kept in its record)."""
    parts = ["medallion", "run", "--resume", record.run_id]
    if record.profile != "local":
        parts += ["--profile", record.profile]
    return shlex.join(parts)


def _size_shuffles(ctx: RunContext, spark: SparkSession, loaded: LoadedSpec) -> None:
    if ctx.shuffle_partitions == "auto":
        cores = spark.sparkContext.defaultParallelism
        parts = partitions_for(input_bytes(loaded, ctx.lake, ctx.base_dir), cores)
        spark.conf.set("spark.sql.shuffle.partitions", str(parts))


def run_specs(ctx: RunContext, names: list[str], *, run_id: str | None = None,
              resumed_from: str | None = None) -> RunRecord:
    """Run ``names`` (in dependency order) under the lake lock; returns the saved record."""
    record = RunRecord(run_id=run_id or new_run_id(), project=ctx.project_name, profile=ctx.profile,
                       selection=names, var_args=list(ctx.var_args), resumed_from=resumed_from,
                       variables=dict(p.partition("=")[::2] for p in ctx.var_args),
                       specs=[SpecRecord(spec=n, layer=ctx.graph.layer_of(n)) for n in names])
    with LakeLock(ctx.lake.root, record.run_id) as lock:
        if lock.recovered:
            ctx.reporter.line(f"took over a stale lock of run {lock.recovered.get('run_id')} "
                              f"(pid {lock.recovered.get('pid')}, since {lock.recovered.get('since')})")
        ctx.store.save(record)
        ctx.reporter.run_started(record)
        try:
            _run_all(ctx, record, names)
        finally:
            if ctx.warehouse is not None:
                hints = {n: item.spec.output.warehouse for n, item in ctx.graph.specs.items()}
                ctx.warehouse.refresh(ctx.lake.tables(), hints)
    return record


def _run_all(ctx: RunContext, record: RunRecord, names: list[str]) -> None:
    spark = ctx.spark_factory()
    broken: set[str] = set()
    for name in names:
        item = record.spec(name)
        loaded = ctx.graph.specs[name]
        blocked = ctx.graph.upstream[name] & broken
        if blocked:
            item.status, item.error = "skipped", f"upstream failed: {', '.join(sorted(blocked))}"
            broken.add(name)
            ctx.reporter.spec_finished(item)
            continue
        item.status = "running"
        _size_shuffles(ctx, spark, loaded)
        ctx.reporter.spec_started(item)
        started = time.monotonic()

        def work() -> SpecResult:
            ctx.faults.before_attempt(name)  # noqa: B023 - called within this iteration
            return execute_spec(loaded, spark, ctx.lake, record.run_id,  # noqa: B023
                                ctx.base_dir, ctx.secrets, ctx.faults, ctx.mode, ctx.source)

        try:
            result = _with_retry(loaded, ctx.default_retry, item, ctx.reporter, work)
            item.rows_in, item.rows_out, item.version = result.rows_in, result.rows_out, result.version
            item.quarantined, item.rules, item.accounting = result.quarantined, result.rules, result.accounting
            item.artefacts = result.artefacts
            item.status = "ok"
        except MedallionError as exc:
            item.status, item.error, item.error_class = "failed", str(exc), type(exc).__name__
            broken.add(name)
        item.seconds = round(time.monotonic() - started, 2)
        ctx.reporter.spec_finished(item)
        ctx.store.save(record)
    record.status = "failed" if broken else "ok"
    record.finished_at = utc_now()
    if broken:
        record.resume_command = resume_command(record)
    ctx.store.save(record)


def _with_retry(loaded: LoadedSpec, default: Retry | None, item: SpecRecord, reporter: Reporter,
                work: Any) -> Any:
    policy = loaded.spec.retry or default or Retry()

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        item.error = str(exc) if exc else None
        reporter.retrying(item, state.next_action.sleep if state.next_action else 0.0)

    def attempt() -> Any:
        item.attempts += 1
        try:
            return work()
        except MedallionError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise classify(exc) from exc

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_random_exponential(multiplier=policy.backoff_seconds, max=policy.max_delay_seconds),
        retry=retry_if_exception(lambda e: getattr(e, "transient", False)),
        before_sleep=before_sleep, reraise=True)
    result = retrying(attempt)
    item.error = None
    return result
