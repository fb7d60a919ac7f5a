"""The Glue job's entry point: run ONE spec with the same runner as ``medallion run``.

The pipeline state machine starts the job with ``--spec <name> --run-id <pipeline run id>``
(plus ``--outcomes s3://...``) over the job's default arguments (``--profile``,
``--project-archive``, ``--vars``). The entry point opens the project with :class:`Workspace`
and calls ``run_specs`` for that spec, so run records, engine retries and commits behave
exactly as locally. It runs outside Glue too (``--project-dir`` instead of an archive);
``awsglue`` is imported only when Glue started it.

Per spec, the record id is ``<run id>.<spec>``: a retried job run of a spec that already
committed in this pipeline run does nothing (the checkpoint), a failed one runs again, and a
reload runs the failed spec in the same run id, so it sees the same checkpoints and
watermarks. The state machine guarantees the order (a spec starts after its upstreams
succeeded), so the entry point never waits for upstream specs.

``--task source-load`` (instead of ``--spec``) is the run's first job run when the profile has
a source database: it loads the raw files into it (``engine/io/source.py``, idempotent) before
any spec reads it, and reports its outcome the same way (folder ``source-load``).

Why the outcome object: Step Functions must tell a terminal failure (never retried) from a
Glue-level one (retried per the spec's policy). The job run's state cannot say which, so the
entry point writes ``<outcomes>/<run id>/<spec>/<job run id>.json`` with the verdict in its
metadata (``terminal``, ``error``), which the state machine reads with one HeadObject. No
outcome (the worker died) counts as Glue-level.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

from engine.errors import MedallionError, RunError, UsageError
from engine.run.record import new_run_id
from engine.spec.suggest import did_you_mean

LOCKED = "is locked by run"  # the lock message (lake or spec lock) when another job run holds it
SOURCE_LOAD = "source-load"  # --task: load the raw files into the profile's source database


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Glue-style ``--key value`` arguments; unknown ones (Glue adds many) are ignored."""
    parser = argparse.ArgumentParser(prog="medallion-glue", add_help=False)
    parser.add_argument("--spec")
    parser.add_argument("--task", choices=[SOURCE_LOAD])
    parser.add_argument("--run-id")
    parser.add_argument("--profile", default="aws")
    parser.add_argument("--project-dir")
    parser.add_argument("--project-archive")
    parser.add_argument("--vars", default="{}", help="JSON object of variables")
    parser.add_argument("--var", action="append", default=[])
    parser.add_argument("--env", default="{}", help="JSON object: environment values the profile's ${env:} "
                                                   "references resolve with (the deploying machine's)")
    parser.add_argument("--outcomes", help="s3:// prefix the verdict of this job run is written under")
    parser.add_argument("--wait-minutes", type=float, default=120.0)
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    parser.add_argument("--inject-fault", action="append", default=[],
                        help=argparse.SUPPRESS)  # rehearsals only: SPEC=KIND[:COUNT] (engine/run/faults.py)
    parser.add_argument("--JOB_RUN_ID")
    parser.add_argument("--JOB_NAME")
    args, _unknown = parser.parse_known_args(argv)
    return args


def record_id(run_id: str, spec: str) -> str:
    """Where one spec's outcome in a pipeline run is recorded."""
    return f"{run_id}.{spec}"


def _project_dir(args: argparse.Namespace) -> Path | None:
    if not args.project_archive:
        return Path(args.project_dir) if args.project_dir else None
    import boto3

    bucket, _, key = args.project_archive.removeprefix("s3://").partition("/")
    folder = Path(tempfile.mkdtemp(prefix="medallion-project-"))
    archive = folder / "project.zip"
    boto3.client("s3").download_file(bucket, key, str(archive))
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder)
    return folder


def _var_args(args: argparse.Namespace) -> list[str]:
    try:
        values = json.loads(args.vars or "{}")
    except json.JSONDecodeError as exc:
        raise UsageError(f"--vars must be a JSON object: {exc}") from None
    return [f"{k}={v}" for k, v in values.items()] + list(args.var)


def _is_terminal(error_class: str | None) -> bool:
    """Whether the engine error named ``error_class`` is terminal (unknown names are not)."""
    stack: list[type] = [MedallionError]
    while stack:
        cls = stack.pop()
        if cls.__name__ == error_class:
            return not getattr(cls, "transient", False)
        stack.extend(cls.__subclasses__())
    return False


def _ascii(text: str, limit: int = 1500) -> str:
    """S3 metadata is one line of US-ASCII: squeeze whitespace, escape the rest, cut."""
    flat = " ".join(text.split())
    return flat.encode("ascii", "backslashreplace").decode("ascii")[:limit]


def write_outcome(uri: str, run_id: str, spec: str, job_run_id: str, *, status: str, terminal: bool,
                  error: str | None, s3: Any = None) -> str:
    """Write this job run's verdict under ``uri`` (``s3://bucket/prefix``); returns the key."""
    from engine.io.aws import client

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    key = "/".join(p for p in (prefix.strip("/"), run_id, spec, f"{job_run_id}.json") if p)
    body = {"run_id": run_id, "spec": spec, "job_run_id": job_run_id, "status": status, "terminal": terminal,
            "error": error}
    client("s3", s3).put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode("utf-8"),
                                ContentType="application/json",
                                Metadata={"status": status, "terminal": "true" if terminal else "false",
                                          "error": _ascii(f"{spec}: {error}" if error else "")})
    return key


def _glue_spark(args: argparse.Namespace, spark_config: Any) -> Any:
    """Inside Glue, the GlueContext's session with the engine's SQL settings; else None."""
    if not args.JOB_RUN_ID:
        return None
    try:
        from awsglue.context import GlueContext  # only present inside Glue
        from pyspark.context import SparkContext
    except ImportError:
        return None
    from engine.run.session import spark_conf

    spark = GlueContext(SparkContext.getOrCreate()).spark_session
    for key, value in spark_conf(spark_config).items():
        if key.startswith("spark.sql.") and key != "spark.sql.shuffle.partitions":
            spark.conf.set(key, value)
    return spark


def load_source_task(args: argparse.Namespace) -> int:
    """The source load (``--task source-load``): raw files -> the profile's source database; 0 when loaded.

    Idempotent (each table is swapped in whole), so a retried or reloaded job run leaves the same
    rows. Its verdict goes to the outcome object like a spec's: a transient error (the database
    unreachable) is retried by the state machine, bad input or a bad setting is terminal.
    """
    from engine.io.source import load_source
    from engine.run.report import Reporter

    ws = _open_workspace(args)
    run_id = args.run_id or new_run_id()
    job_run = args.JOB_RUN_ID or record_id(run_id, SOURCE_LOAD)
    reporter = Reporter(plain=True)
    try:
        source = ws.source
        if source is None or not source.tables:
            raise UsageError(f"--task {SOURCE_LOAD}: profile '{ws.project.profile_name}' has no source database "
                             "with tables to load (source: tables:)")
        glue_spark = _glue_spark(args, ws.project.profile.spark)
        counts = load_source(glue_spark if glue_spark is not None else ws.spark(), source, ws.secrets,
                             ws.project.root)
    except BaseException as exc:
        if args.outcomes:
            terminal = isinstance(exc, MedallionError) and not exc.transient
            write_outcome(args.outcomes, run_id, SOURCE_LOAD, job_run, status="failed", terminal=terminal,
                          error=f"{type(exc).__name__}: {exc}")
        raise
    for table, rows in counts.items():
        reporter.line(f"source load: {source.schema_}.{table} {rows:,} rows")
    if args.outcomes:
        write_outcome(args.outcomes, run_id, SOURCE_LOAD, job_run, status="ok", terminal=False, error=None)
    return 0


def _apply_env(args: argparse.Namespace) -> None:
    """Set the ``--env`` values the job's own environment lacks (a Glue job run has none of them)."""
    try:
        values = json.loads(args.env or "{}")
    except json.JSONDecodeError as exc:
        raise UsageError(f"--env must be a JSON object: {exc}") from None
    for name, value in values.items():
        os.environ.setdefault(str(name), str(value))


def _open_workspace(args: argparse.Namespace) -> Any:
    """The project the job run works on (downloaded archive or folder), with its profile and variables."""
    from engine.run.workspace import Workspace

    _apply_env(args)
    return Workspace.open(_project_dir(args), args.profile, _var_args(args))


def run(args: argparse.Namespace, *, sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic) -> int:
    """Run the one spec ``args.spec``; returns 0 when it committed (or already had), else 1."""
    if args.task == SOURCE_LOAD:
        if args.spec:
            raise UsageError(f"--task {SOURCE_LOAD} and --spec do not go together: one job run does one of them")
        return load_source_task(args)
    if not args.spec:
        raise UsageError(f"give --spec <layer.name> (one spec per job run) or --task {SOURCE_LOAD}")
    from engine.run.faults import FaultPlan
    from engine.run.preflight import preflight
    from engine.run.report import Reporter
    from engine.run.runner import RunContext, run_specs

    ws = _open_workspace(args)
    graph = ws.graph
    if args.spec not in graph.specs:
        raise UsageError(f"--spec {args.spec}: no such spec{did_you_mean(args.spec, graph.specs)}")
    run_id = args.run_id or new_run_id()
    rid = record_id(run_id, args.spec)
    reporter = Reporter(plain=True)
    done = ws.store.load(rid)
    if done is not None and done.spec(args.spec).status == "ok":
        reporter.line(f"{args.spec} already committed in run {run_id}; nothing to do")
        if args.outcomes:
            write_outcome(args.outcomes, run_id, args.spec, args.JOB_RUN_ID or rid, status="ok", terminal=False,
                          error=None)
        return 0
    glue_spark = _glue_spark(args, ws.project.profile.spark)
    preflight([graph.specs[args.spec]], ws.project.root)
    ctx = RunContext(graph=graph, lake=ws.lake, store=ws.store, reporter=reporter,
                     spark_factory=(lambda: glue_spark) if glue_spark is not None else ws.spark,
                     project_name=ws.project.name, profile=ws.project.profile_name, base_dir=ws.project.root,
                     var_args=ws.var_args, default_retry=ws.project.default_retry,
                     shuffle_partitions=ws.project.profile.spark.shuffle_partitions, secrets=ws.secrets,
                     warehouse=ws.warehouse, source=ws.source, variables=dict(ws.project.variables),
                     faults=FaultPlan.parse(list(args.inject_fault)),
                     lock_scope="specs")  # independent specs' job runs run at the same time
    deadline = clock() + args.wait_minutes * 60
    job_run = args.JOB_RUN_ID or rid
    try:
        while True:
            try:
                record = run_specs(ctx, [args.spec], run_id=rid)
                break
            except RunError as exc:  # someone else holds the lake (e.g. an operator's run): wait our turn
                if LOCKED not in str(exc) or clock() > deadline:
                    raise
                reporter.line(f"waiting for the lake: {exc}")
                sleep(args.poll_seconds)
    except BaseException as exc:  # not a spec failure the runner recorded: a Glue-level failure
        if args.outcomes:
            terminal = isinstance(exc, MedallionError) and not exc.transient
            write_outcome(args.outcomes, run_id, args.spec, job_run, status="failed", terminal=terminal,
                          error=f"{type(exc).__name__}: {exc}")
        raise
    reporter.run_finished(record)
    item = record.spec(args.spec)
    if args.outcomes:
        write_outcome(args.outcomes, run_id, args.spec, job_run, status=item.status,
                      terminal=item.status != "ok" and _is_terminal(item.error_class), error=item.error)
    return 0 if record.status == "ok" else 1


def main(argv: list[str] | None = None) -> int:
    """Script entry: one line per error (as the CLI prints), exit 0 ok, 1 failed, 2 invalid."""
    try:
        return run(parse_args(list(sys.argv[1:] if argv is None else argv)))
    except MedallionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
