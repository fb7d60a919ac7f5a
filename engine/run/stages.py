"""One spec's way through the runner, as small stages that read top to bottom.

:func:`execute_spec` runs :data:`STAGES` in order — read, window, merge, observe, write,
account, commit — on a :class:`SpecJob` that holds everything the spec touches. Nothing is
kept in module state and each job has its own StepContext and pending writes, so specs
without a path between them can later run on threads (each stage only needs its job, the
Spark session and the lake). On any failure the job's unpublished writes are removed and the
error is located in the spec file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from typing import Any, Callable

from pyspark.sql import DataFrame, SparkSession

from engine.errors import MedallionError, StorageFault, TerminalError
from engine.io.lake import Lake, PendingWrite, Publish, TableVersion
from engine.run import derived, incremental, ingested, redelivery
from engine.run.accounting import account, check
from engine.run.failures import classify
from engine.run.faults import FaultPlan
from engine.run.incremental import LoadMode
from engine.run.outputs import (columns_of, read_table, read_version, side_tables, watermark_observer,
                                watermark_of, write)
from engine.spec.loader import LoadedSpec
from engine.spec.secrets import SecretProvider
from engine.spec.steps import JdbcStep, ReadStep
from engine.steps import EXECUTORS
from engine.steps.context import Loss, StepContext
from engine.steps.counting import ObservedCount, ObservedMetrics
from engine.steps.row_shape import RejectedCount


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
    incremental: dict[str, Any] | None = None  # silver/gold: what was recomputed, or why a full pass


@dataclass
class Output:
    """One table a spec writes: the main table or a side table (quarantine, rejected, superseded)."""

    table: str
    frame: DataFrame
    partition_by: list[str] = field(default_factory=list)
    pending: PendingWrite | None = None
    rows: int = 0


@dataclass
class SpecJob:
    """Everything one spec's execution reads and produces, passed from stage to stage."""

    loaded: LoadedSpec
    lake: Lake
    ctx: StepContext
    faults: FaultPlan
    mode: LoadMode
    current: TableVersion | None = None  # the output's committed version when the job began
    frame: DataFrame | None = None
    rows_in: int = 0
    per_input: dict[str, int] = field(default_factory=dict)
    reads: list[ObservedCount] = field(default_factory=list)
    window_count: Loss | None = None  # rows outside the re-read window
    stored_rows: int = 0
    resolution: redelivery.Resolution | None = None
    watermark: ObservedMetrics | None = None
    outputs: list[Output] = field(default_factory=list)
    accounting: dict[str, Any] | None = None
    committed: TableVersion | None = None
    part: derived.Part | None = None  # silver/gold incremental: the part recomputed this run
    input_versions: dict[str, int] = field(default_factory=dict)
    part_reads: dict[str, ObservedCount] = field(default_factory=dict)  # driving inputs, read for the part
    recomputed: ObservedCount | None = None
    kept: ObservedCount | None = None  # committed rows outside the part
    part_record: dict[str, Any] | None = None
    digest: ObservedMetrics | None = None
    files: ingested.FilePlan | None = None  # bronze incremental: which files this run reads

    @property
    def spec(self) -> Any:
        """The validated spec model."""
        return self.loaded.spec


# -- the stages, in order -------------------------------------------------------------------

def read(job: SpecJob) -> None:
    """Read the inputs' committed versions and apply every step (lazy: nothing is computed yet).

    When the spec declares ``conservation``, only losses on the path from that input to the
    output count (a filter on a lookup frame removes no source rows); a spec that reads files
    counts every loss. Lossy steps count through observations, so nothing is cached here.
    """
    spec, ctx = job.spec, job.ctx
    by_part = job.part is not None and job.part.mode in ("range", "keys")
    for alias, table in spec.inputs.items():
        version = job.lake.require(table)
        job.input_versions[table] = version.version
        ctx.frames[alias], job.per_input[alias] = read_version(ctx.spark, version), version.rows
        if by_part and alias in job.part.driving:  # type: ignore[union-attr]
            job.part_reads[alias] = ObservedCount(derived.select(job.part, ctx.frames[alias], alias))  # type: ignore[arg-type]
            ctx.frames[alias] = job.part_reads[alias].frame
        else:
            job.rows_in += job.per_input[alias]
    frame: DataFrame | None = ctx.frames[next(iter(spec.inputs))] if len(spec.inputs) == 1 else None
    flow: list[DataFrame] = [ctx.frames[spec.conservation]] if spec.conservation else []
    for i, step in enumerate(spec.steps):
        ctx.step_label = f"step {i + 1} ({step.type})"
        try:
            source = ctx.frame(step.input) if step.input else frame
            main = ctx.frame(step.left) if getattr(step, "left", None) else source
            losses_before = len(ctx.losses)
            frame = EXECUTORS[step.type](step, source, ctx)
            if isinstance(step, (ReadStep, JdbcStep)):  # rows read from a file or a source table
                job.reads.append(ObservedCount(frame))
                frame = job.reads[-1].frame
        except Exception as exc:  # noqa: BLE001 - every failure becomes a located RunError
            err = classify(exc, ctx.step_label)
            err.path, err.line = str(job.loaded.path), job.loaded.doc.line_of(("steps", i))
            raise err from exc
        if any(main is f for f in flow):
            flow.append(frame)
        elif spec.inputs:
            del ctx.losses[losses_before:]
        if step.as_:
            ctx.frames[step.as_] = frame
    assert frame is not None
    if spec.conservation and not any(frame is f for f in flow):
        raise TerminalError(f"conservation: the output is not derived from input '{spec.conservation}'",
                            path=str(job.loaded.path), line=job.loaded.doc.line_of(("conservation",)))
    job.frame = frame


def window(job: SpecJob) -> None:
    """An incremental spec keeps the source rows of this run's window (watermark - lookback)."""
    job.ctx.step_label = f"writing {job.spec.output.table}"
    if job.spec.incremental and job.spec.incremental.watermark:
        before = ObservedCount(job.frame)
        keep = job.files.window if job.files is not None else incremental.window
        after = ObservedCount(keep(before.frame, job.spec.incremental, job.mode, job.current))
        job.window_count = Loss("filtered", "outside the re-read window", before=before, after=after)
        job.frame = after.frame


def merge(job: SpecJob) -> None:
    """Merge the window into the stored table by the spec's re-delivery rule (``on_duplicate``)."""
    inc = job.spec.incremental
    if inc and inc.derived:
        _merge_part(job)
        return
    if not inc:
        return
    stored = None
    if job.mode.kind != "full" and job.current is not None and not (inc.files and job.files and job.files.rebuild):
        stored, job.stored_rows = read_table(job.ctx.spark, job.lake, job.current.table)
    if inc.files:  # the new files' rows are appended to the stored ones
        job.frame = job.frame if stored is None else job.frame.unionByName(stored)
        return
    job.resolution = redelivery.resolve(job.frame, stored, inc, job.ctx.run_id)
    job.ctx.cached.extend(job.resolution.cached)
    job.frame = job.resolution.merged


def _merge_part(job: SpecJob) -> None:
    """Silver/gold: the recomputed part replaces exactly that part of the committed table."""
    part = job.part
    if part is None or part.mode not in ("range", "keys"):
        return
    job.recomputed = ObservedCount(derived.select(part, job.frame))
    stored = read_version(job.ctx.spark, job.current)
    job.kept = ObservedCount(derived.outside(part, stored))
    job.frame = job.recomputed.frame.unionByName(job.kept.frame)


def observe(job: SpecJob) -> None:
    """Attach the counters the writes fill in: the new watermark rides along with the main write."""
    if job.spec.incremental and job.spec.incremental.watermark:
        job.watermark = watermark_observer(job.frame, job.spec.incremental.column)
        job.frame = job.watermark.frame
    job.digest = derived.digest_observer(job.frame)
    job.frame = job.digest.frame


def write_outputs(job: SpecJob) -> None:
    """Write the main table, then the side tables it needs, to new, still invisible, version folders.

    The main write fills the counters (rejected records, superseded rows), so a side table that
    would get nothing new is not written at all.
    """
    spec, ctx, lake = job.spec, job.ctx, job.lake
    sides = side_tables(spec)
    _write(job, Output(spec.output.table, job.frame, list(spec.output.partition_by)))
    if ctx.quarantine:
        _write(job, Output(sides["quarantine"], _quarantine(job, reduce(DataFrame.unionByName, ctx.quarantine))))
    if ctx.rejected and (_rejected(ctx) > 0 or lake.current(sides["rejected"]) is not None):
        _write(job, Output(sides["rejected"], reduce(DataFrame.unionByName, ctx.rejected)))
    resolution = job.resolution
    if resolution is not None and resolution.superseded is not None and resolution.superseded_rows() > 0:
        previous = lake.current(sides["superseded"])
        old = read_table(ctx.spark, lake, previous.table)[0] if previous else None
        _write(job, Output(sides["superseded"], redelivery.append_audit(old, resolution.superseded)))


def _quarantine(job: SpecJob, new_rows: DataFrame) -> DataFrame:
    """A part recomputed: the earlier runs' quarantined rows outside it are kept."""
    part, lake = job.part, job.lake
    previous = lake.current(side_tables(job.spec)["quarantine"])
    if part is None or part.mode not in ("range", "keys") or previous is None:
        return new_rows
    types = {g: f.dataType.simpleString() for g in part.grain for f in job.frame.schema.fields
             if f.name.lower() == g.lower()}
    kept = derived.quarantine_outside(part, read_version(job.ctx.spark, previous), types)
    return new_rows.unionByName(kept, allowMissingColumns=True)


def _write(job: SpecJob, out: Output) -> None:
    job.outputs.append(out)
    claimed = job.part.pending if job.part is not None and len(job.outputs) == 1 else None
    out.pending = claimed or job.lake.begin(out.table)
    out.rows = write(out.frame, out.pending, out.partition_by)


def account_rows(job: SpecJob) -> None:
    """Balance the rows: every row read is written or counted where it went (else fail)."""
    spec, ctx = job.spec, job.ctx
    job.rows_in += sum(read.count() for read in job.reads)
    rows_out = job.outputs[0].rows
    for alias, seen in job.part_reads.items():
        job.per_input[alias] = seen.count()
        job.rows_in += job.per_input[alias]
    if job.part is not None:
        job.part_record = _part_record(job)
    if spec.conservation:
        source, rows_in = spec.conservation, job.per_input[spec.conservation]
        if job.kept is not None:
            source, rows_in = f"{source} (recomputed part) + stored rows kept", rows_in + job.kept.count()
        job.accounting = account(source, rows_in, rows_out, ctx.losses)
    elif job.reads and not spec.inputs:
        losses = list(ctx.losses)
        if job.window_count is not None:
            losses.append(job.window_count)
        if job.resolution is not None:
            losses.append(Loss("deduplicated", "identical re-delivery", rows=job.resolution.identical()))
            losses.append(Loss("superseded", "older version of a re-delivered key",
                               rows=job.resolution.superseded_rows()))
        records = sum(read.count() for read in job.reads) + _rejected(ctx) + _set_aside_by_readers(ctx)
        job.rows_in = records
        job.accounting = account("records read" + (" + stored rows" if job.stored_rows else ""),
                                 records + job.stored_rows, rows_out, losses)
    if job.accounting is not None:
        check(job.accounting)


def _part_record(job: SpecJob) -> dict[str, Any]:
    record = job.part.record()  # type: ignore[union-attr]
    record["rows_read"] = {alias: job.per_input[alias] for alias in job.spec.inputs}
    if job.recomputed is not None and job.kept is not None:
        record["rows_recomputed"], record["rows_kept"] = job.recomputed.count(), job.kept.count()
    else:
        record["rows_recomputed"] = job.outputs[0].rows
    return record


def _rejected(ctx: StepContext) -> int:
    return sum(loss.count() for loss in ctx.losses if isinstance(loss, RejectedCount))


def _set_aside_by_readers(ctx: StepContext) -> int:
    """Records a reader itself quarantined (a text line with the wrong field count): they were
    read, so they count in ``records read`` as well as in the quarantine."""
    return sum(loss.count() for loss in ctx.losses
               if loss.kind == "quarantined" and loss.step.endswith("(read)") and not isinstance(loss, RejectedCount))


def commit(job: SpecJob) -> None:
    """Publish every output as one commit (an injected fault may strike before or in the middle)."""
    spec = job.spec
    job.faults.before_commit(spec.name)
    main = job.outputs[0]
    watermark = watermark_of(job.watermark, str(main.pending.path), job.ctx.spark, spec) if job.watermark else None
    publish = [Publish(o.pending, o.rows, columns_of(o.frame), o.partition_by) for o in job.outputs]
    publish[0].watermark = watermark
    publish[0].inputs, publish[0].change = dict(job.input_versions), _change(job)
    publish[0].fingerprint = derived.fingerprint(spec)
    publish[0].digest = derived.digest_of(job.digest) if job.digest is not None else None
    publish[0].files = job.files.manifest() if job.files is not None else None
    job.committed = job.lake.commit_all(publish[0], publish[1:], run_id=job.ctx.run_id,
                                        between=lambda: job.faults.mid_commit(spec.name))


def _change(job: SpecJob) -> dict[str, Any]:
    """What this commit changes against the version before, for incremental specs downstream."""
    if job.part is not None:
        return job.part.change()
    return ingested.change(job, side_tables(job.spec)["superseded"])


STAGES: list[Callable[[SpecJob], None]] = [read, window, merge, observe, write_outputs, account_rows, commit]


def execute_spec(loaded: LoadedSpec, spark: SparkSession, lake: Lake, run_id: str,
                 base_dir: Any, secrets: SecretProvider | None = None,
                 faults: FaultPlan | None = None, mode: LoadMode | None = None,
                 source: Any = None) -> SpecResult:
    """Run one spec through every stage; its outputs are committed together or not at all."""
    spec = loaded.spec
    ctx = StepContext(spark=spark, run_id=run_id, base_dir=base_dir, spec_name=spec.name, secrets=secrets,
                      source=source)
    job = SpecJob(loaded, lake, ctx, faults or FaultPlan(), mode or LoadMode())
    try:
        if spec.incremental:
            job.current = lake.current(spec.output.table)
        if spec.incremental and spec.incremental.derived:
            job.part = derived.plan(spark, lake, spec, loaded, job.mode, job.current)
            if job.part.mode == "up_to_date":
                return _unchanged(job)
            derived.claim_keys(job.part, lake, spec.output.table)
            if job.part.affected == 0:  # inputs moved, but no row of any entity changed
                lake.abort(job.part.pending)
                job.part.mode, job.part.reason = "up_to_date", "up to date: the changed input rows touch no entity"
                return _unchanged(job)
        elif spec.incremental:
            ctx.incremental_since = incremental.since(spec.incremental, job.mode, job.current)
            job.files = ingested.plan_files(spark, spec, ctx.resolve_path, job.mode, job.current,
                                            derived.fingerprint(spec))
            if job.files is not None and job.files.mode == "up_to_date":
                return _unchanged(job)
            ctx.files = job.files.chosen() if job.files is not None else {}
        for stage in STAGES:
            stage(job)
    except Exception as exc:  # noqa: BLE001
        _abort(job)
        raise _located(job, exc) from exc
    finally:
        for cached in ctx.cached:
            cached.unpersist()
    return _result(job)


def _unchanged(job: SpecJob) -> SpecResult:
    """No input moved since the committed version: nothing is read, written or committed."""
    assert job.current is not None
    if job.files is not None:
        return SpecResult(0, job.current.rows, job.current.version, incremental=job.files.record() | {"rows_read": 0})
    assert job.part is not None
    record = job.part.record() | {"rows_read": {}, "rows_recomputed": 0}
    return SpecResult(0, job.current.rows, job.current.version, incremental=record)


def _abort(job: SpecJob) -> None:
    claimed = job.part.pending if job.part is not None else None
    if claimed is not None and not any(o.pending is claimed for o in job.outputs):
        job.lake.abort(claimed)
    for out in job.outputs:
        if out.pending is None:
            continue
        try:
            now = job.lake.current(out.table)
        except StorageFault:
            now = None
        if now is None or now.version != out.pending.version:
            job.lake.abort(out.pending)


def _located(job: SpecJob, exc: BaseException) -> MedallionError:
    err = classify(exc, job.ctx.step_label)
    if err.path is None:
        err.path, err.line = str(job.loaded.path), job.loaded.doc.line_of(("output",))
    return err


def _result(job: SpecJob) -> SpecResult:
    sides = side_tables(job.spec)
    quarantined = next((o.rows for o in job.outputs if o.table == sides["quarantine"]), None)
    assert job.committed is not None
    record = job.part_record
    if job.files is not None:
        record = job.files.record() | {"rows_read": job.rows_in, "rows_stored": job.stored_rows}
    return SpecResult(job.rows_in, job.outputs[0].rows, job.committed.version, quarantined,
                      [r.as_dict() for r in job.ctx.rules], job.accounting, list(job.ctx.artefacts), record)
