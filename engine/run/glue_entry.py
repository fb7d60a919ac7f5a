"""The Glue job's entry point: run ONE spec with the same runner as ``medallion run``.

Glue starts the job with ``--spec <name>`` (from the trigger) and the job's default arguments
(``--profile``, ``--project-archive``, ``--vars``); a workflow adds ``--WORKFLOW_RUN_ID``. The
entry point opens the project with :class:`Workspace` and calls ``run_specs`` for that spec,
so run records, retries and commits behave exactly as locally. It runs outside Glue too
(``--project-dir`` instead of an archive); ``awsglue`` is imported only when Glue started it.

Per spec, the record id is ``<run id>.<spec>``: a retried Glue run of a spec that already
committed in this workflow run does nothing (the checkpoint), a failed one runs again. Because
one job runs every spec, a Glue condition can only say "the job succeeded", so in a workflow
run the entry point also waits until the spec's upstream specs committed in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

from engine.errors import MedallionError, RunError, UsageError
from engine.run.record import RunStore, new_run_id
from engine.spec.suggest import did_you_mean

LOCKED = "is locked by run"  # LakeLock's message when another spec run holds the lake


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Glue-style ``--key value`` arguments; unknown ones (Glue adds many) are ignored."""
    parser = argparse.ArgumentParser(prog="medallion-glue", add_help=False)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--run-id")
    parser.add_argument("--profile", default="aws")
    parser.add_argument("--project-dir")
    parser.add_argument("--project-archive")
    parser.add_argument("--vars", default="{}", help="JSON object of variables")
    parser.add_argument("--var", action="append", default=[])
    parser.add_argument("--wait-minutes", type=float, default=120.0)
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    parser.add_argument("--WORKFLOW_RUN_ID")
    parser.add_argument("--JOB_RUN_ID")
    parser.add_argument("--JOB_NAME")
    args, _unknown = parser.parse_known_args(argv)
    return args


def record_id(run_id: str, spec: str) -> str:
    """Where one spec's outcome in a (workflow) run is recorded."""
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


def wait_for_upstream(store: RunStore, run_id: str, upstream: list[str], *, timeout: float, poll: float,
                      sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                      say: Callable[[str], None] = print) -> None:
    """Block until every upstream spec committed in run ``run_id``; fail if one failed.

    Why: the workflow's conditions cannot tell the specs apart (they all run as one job).
    """
    deadline = clock() + timeout
    waiting = list(upstream)
    while waiting:
        still = []
        for name in waiting:
            record = store.load(record_id(run_id, name))
            status = record.spec(name).status if record else "pending"
            if status in ("failed", "skipped"):
                raise RunError(f"upstream {name} {status} in run {run_id}; not running")
            if status != "ok":
                still.append(name)
        if not still:
            return
        if clock() > deadline:
            raise RunError(f"gave up after {timeout:.0f} s waiting for {', '.join(still)} in run {run_id}")
        say(f"waiting for {', '.join(still)} (run {run_id})")
        sleep(poll)
        waiting = still


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


def run(args: argparse.Namespace, *, sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic) -> int:
    """Run the one spec ``args.spec``; returns 0 when it committed (or already had), else 1."""
    from engine.run.preflight import preflight
    from engine.run.report import Reporter
    from engine.run.runner import RunContext, run_specs
    from engine.run.workspace import Workspace

    ws = Workspace.open(_project_dir(args), args.profile, _var_args(args))
    graph = ws.graph
    if args.spec not in graph.specs:
        raise UsageError(f"--spec {args.spec}: no such spec{did_you_mean(args.spec, graph.specs)}")
    run_id = args.run_id or args.WORKFLOW_RUN_ID or new_run_id()
    rid = record_id(run_id, args.spec)
    reporter = Reporter(plain=True)
    done = ws.store.load(rid)
    if done is not None and done.spec(args.spec).status == "ok":
        reporter.line(f"{args.spec} already committed in run {run_id}; nothing to do")
        return 0
    if args.WORKFLOW_RUN_ID:
        upstream = [n for n in graph.order if n in graph.upstream[args.spec]]
        wait_for_upstream(ws.store, run_id, upstream, timeout=args.wait_minutes * 60, poll=args.poll_seconds,
                          sleep=sleep, clock=clock, say=reporter.line)
    glue_spark = _glue_spark(args, ws.project.profile.spark)
    preflight([graph.specs[args.spec]], ws.project.root)
    ctx = RunContext(graph=graph, lake=ws.lake, store=ws.store, reporter=reporter,
                     spark_factory=(lambda: glue_spark) if glue_spark is not None else ws.spark,
                     project_name=ws.project.name, profile=ws.project.profile_name, base_dir=ws.project.root,
                     var_args=ws.var_args, default_retry=ws.project.default_retry,
                     shuffle_partitions=ws.project.profile.spark.shuffle_partitions, secrets=ws.secrets,
                     warehouse=ws.warehouse, source=ws.source)
    deadline = clock() + args.wait_minutes * 60
    while True:
        try:
            record = run_specs(ctx, [args.spec], run_id=rid)
            break
        except RunError as exc:  # another spec of the workflow holds the lake: wait our turn
            if LOCKED not in str(exc) or clock() > deadline:
                raise
            reporter.line(f"waiting for the lake: {exc}")
            sleep(args.poll_seconds)
    reporter.run_finished(record)
    return 0 if record.status == "ok" else 1


def main(argv: list[str] | None = None) -> int:
    """Script entry: one line per error (as the CLI prints), exit 0 ok, 1 failed, 2 invalid."""
    try:
        return run(parse_args(list(sys.argv[1:] if argv is None else argv)))
    except MedallionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
