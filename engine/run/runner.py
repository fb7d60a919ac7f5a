"""Run selected specs in dependency order in one Spark session.

Each spec goes through the stages of :mod:`engine.run.stages` (read, window, merge, observe,
write, account, commit): it reads its inputs' committed versions, applies its steps, writes new
versions of its table and side tables and commits them together. A failed spec leaves its
tables as they were; specs that depend on it are skipped; the run ends with the command that
re-runs what did not finish. Transient failures are retried by the spec's ``retry:`` policy,
else the project's (``retry:`` in medallion.yaml).
"""

from __future__ import annotations

import shlex
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from engine.errors import MedallionError, StorageFault
from engine.io.lake import Lake
from engine.io.objectstore import holder_identity
from engine.plan.graph import Graph
from engine.run import resume
from engine.run.failures import classify
from engine.run.faults import FaultPlan
from engine.run.incremental import LoadMode
from engine.run.interrupt import InterruptGuard, RunInterrupted, spark_canceller
from engine.run.lock import LakeLock, SpecLocks
from engine.run.outputs import quarantine_table, read_table, written_rows  # noqa: F401 - public API
from engine.run.record import RunRecord, RunStore, SpecRecord, new_run_id, utc_now
from engine.run.report import Reporter
from engine.run.scheduler import run_graph
from engine.run.sizing import input_bytes, partitions_for
from engine.run.sparkjobs import job_group, record_counts
from engine.run.spec_threads import SpecSessions, spark_thread
from engine.run.stages import SpecResult, execute_spec  # noqa: F401 - public API
from engine.spec.loader import LoadedSpec
from engine.spec.models import Retry
from engine.spec.secrets import SecretProvider


@dataclass
class RunContext:
    """Everything a run needs besides the list of specs."""

    graph: Graph
    lake: Lake
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
    variables: dict[str, Any] = field(default_factory=dict)  # every variable of the run, resolved
    lock_scope: str = "lake"  # "specs": lock only the specs this run writes (Glue job runs, lock.py)
    threads: int = 1  # specs at the same time (engine/run/scheduler.py); 1 = one after the other


def resume_command(record: RunRecord) -> str:
    """The command that finishes a failed run (its profile and variables are kept in its record)."""
    parts = ["medallion", "run", "--resume", record.run_id]
    if record.profile != "local":
        parts += ["--profile", record.profile]
    return shlex.join(parts)


def cli_args(ctx: RunContext) -> list[str]:
    """``--profile``/``--var`` of this run, as a recovery command needs them."""
    parts = ["--profile", ctx.profile] if ctx.profile != "local" else []
    for pair in ctx.var_args:
        parts += ["--var", shlex.quote(pair)]
    return parts


def _size_shuffles(ctx: RunContext, spark: SparkSession, loaded: LoadedSpec) -> None:
    if ctx.shuffle_partitions == "auto":
        cores = spark.sparkContext.defaultParallelism
        parts = partitions_for(input_bytes(loaded, ctx.lake, ctx.base_dir), cores)
        spark.conf.set("spark.sql.shuffle.partitions", str(parts))


def run_specs(ctx: RunContext, names: list[str], *, run_id: str | None = None,
              resumed_from: str | None = None) -> RunRecord:
    """Run ``names`` (in dependency order) under the lake lock; returns the saved record."""
    variables = {k: str(v) for k, v in ctx.variables.items()} or dict(p.partition("=")[::2] for p in ctx.var_args)
    record = RunRecord(run_id=run_id or new_run_id(), project=ctx.project_name, profile=ctx.profile,
                       selection=names, var_args=list(ctx.var_args), resumed_from=resumed_from,
                       variables=variables, holder=holder_identity(),
                       specs=[SpecRecord(spec=n, layer=ctx.graph.layer_of(n)) for n in names])
    ctx.lake.cli_args = cli_args(ctx)
    lock = (SpecLocks(ctx.lake.root, record.run_id, names) if ctx.lock_scope == "specs"
            else LakeLock(ctx.lake.root, record.run_id))
    with lock:
        if lock.recovered:
            ctx.reporter.line(f"took over a stale lock of run {lock.recovered.get('run_id')} "
                              f"(pid {lock.recovered.get('pid')}, since {lock.recovered.get('since')})")
            resume.mark_interrupted(ctx.store, lock.recovered.get("run_id"))
        ctx.store.save(record)
        resume.remember(ctx.base_dir, record, ctx.lake.root)
        ctx.reporter.run_started(record, threads=ctx.threads)
        try:
            _run_all(ctx, record, names)
        finally:
            _refresh_warehouse(ctx, record)
    return record


def _refresh_warehouse(ctx: RunContext, record: RunRecord) -> None:
    """Publish every readable table; a broken lake table is reported, never an internal error."""
    if ctx.warehouse is None:
        return
    faults: list[StorageFault] = []
    try:
        tables = ctx.lake.tables(faults)
        if ctx.lock_scope == "specs":  # concurrent job runs: each publishes only what it wrote
            mine = set(record.selection)
            tables = [t for t in tables if t.table in mine or t.owner in mine]
        hints = {n: item.spec.output.warehouse for n, item in ctx.graph.specs.items()}
        ctx.warehouse.refresh(tables, hints)
    except Exception as exc:  # noqa: BLE001 - the run's own outcome is already recorded
        err = classify(exc, "refreshing the warehouse")
        faults.append(err if isinstance(err, StorageFault) else StorageFault(str(err)))
    for fault in faults:
        fault.cli_args = cli_args(ctx)
        ctx.reporter.error(f"warehouse not refreshed for this table: {fault}")


def _run_all(ctx: RunContext, record: RunRecord, names: list[str]) -> None:
    spark = ctx.spark_factory()
    ctx.reporter.attach_spark(spark)
    sessions = SpecSessions(spark) if ctx.threads > 1 else None  # one session per spec thread

    def work(name: str, slot: int) -> bool:
        with sessions.for_spec(slot) if sessions else nullcontext(spark) as session:
            ok = _run_one(ctx, session, record, record.spec(name), guard)
        ctx.store.save(record)
        return ok

    def skip(name: str, reason: str, shown: bool) -> None:
        item = record.spec(name)
        item.status, item.error = "skipped", reason
        if shown:
            ctx.reporter.spec_finished(item)

    def stop() -> bool:
        if guard.requested and sessions:  # jobs a running spec submitted after the first cancel
            spark.sparkContext.cancelAllJobs()
        return guard.requested

    # Installed after the session exists, so it replaces PySpark's own SIGINT handler (which
    # failed only the running spec and let the run go on): the first Ctrl-C or SIGTERM cancels
    # the running jobs and stops the run here; a second one exits at once.
    with InterruptGuard(cancel=spark_canceller(spark), on_request=lambda sig: ctx.reporter.line(
            f"{sig}: cancelling the running Spark jobs and stopping the run (press again to exit at once)")) as guard:
        try:
            broken = run_graph(names, ctx.graph.upstream, work, threads=ctx.threads, stop=stop,
                               skip=skip, spawn=spark_thread).broken
        finally:
            if sessions:
                sessions.restore()
        interrupted = guard.requested and bool(broken)  # asked to stop, and something did not finish
    record.status = "interrupted" if interrupted else "failed" if broken else "ok"
    record.finished_at = utc_now()
    if broken:
        record.resume_command = resume_command(record)
    ctx.store.save(record)


def _run_one(ctx: RunContext, spark: SparkSession, record: RunRecord, item: SpecRecord,
             guard: InterruptGuard | None = None) -> bool:
    """One spec with its retry policy; fills its record entry; True when it committed."""
    loaded = ctx.graph.specs[item.spec]
    item.status = "running"
    _size_shuffles(ctx, spark, loaded)
    # one job group per spec: the Spark UI and the status tracker group its jobs by spec
    group = job_group(record.run_id, item.spec)
    spark.sparkContext.setJobGroup(group, item.spec, interruptOnCancel=True)
    ctx.reporter.spec_started(item)
    started = time.monotonic()

    def work() -> SpecResult:
        ctx.faults.before_attempt(item.spec)
        return execute_spec(loaded, spark, ctx.lake, record.run_id, ctx.base_dir, ctx.secrets, ctx.faults,
                            ctx.mode, ctx.source)

    ok = True
    try:
        result = _with_retry(loaded, ctx.default_retry, item, ctx.reporter, work, guard)
        item.rows_in, item.rows_out, item.version = result.rows_in, result.rows_out, result.version
        item.quarantined, item.rules, item.accounting = result.quarantined, result.rules, result.accounting
        item.artefacts, item.incremental = result.artefacts, result.incremental
        item.status = "ok"
    except MedallionError as exc:
        if isinstance(exc, StorageFault):
            exc.cli_args = cli_args(ctx)
        if guard is not None and guard.requested:  # the failure is the cancellation we asked for
            exc = RunInterrupted(f"interrupted by {guard.signal_name}; its tables are as they were")
        item.status, item.error, item.error_class = "failed", str(exc), type(exc).__name__
        ok = False
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    item.seconds = round(time.monotonic() - started, 2)
    item.spark = record_counts(spark, group)  # this spec's jobs only, whatever runs beside it
    ctx.reporter.spec_finished(item)
    return ok


def retry_policy(loaded: LoadedSpec, default: Retry | None) -> Retry:
    """The spec's own ``retry:``, else the project default from medallion.yaml."""
    return loaded.spec.retry or default or Retry()


def _with_retry(loaded: LoadedSpec, default: Retry | None, item: SpecRecord, reporter: Reporter,
                work: Any, guard: InterruptGuard | None = None) -> Any:
    policy = retry_policy(loaded, default)

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
        retry=retry_if_exception(lambda e: getattr(e, "transient", False)
                                 and not (guard is not None and guard.requested)),
        before_sleep=before_sleep, reraise=True)
    result = retrying(attempt)
    item.error = None
    return result
