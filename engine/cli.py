"""The ``medallion`` command: validate, plan, run, query, graph, runs, clv (+ plugin commands).

Every command accepts ``--profile`` and ``--var`` so it sees the same lake and warehouse as the
run. Errors print one line each (``file:line: message``); ``--debug`` adds tracebacks.
Exit codes: 0 ok, 1 a run failed, 2 invalid spec or usage.
"""

from __future__ import annotations

import csv
import json
import sys
import traceback
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.cli_authoring import column_lineage, load_project_commands, register as register_authoring, validate_project
from engine.errors import MedallionError, SpecErrors, UsageError
from engine.plan.render import render
from engine.plan.select import select
from engine.remote import executor_for
from engine.run.report import Reporter, detail_lines, spark_phrase, spark_totals
from engine.run.workspace import Workspace

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Medallion: config-driven ETL on PySpark.")

ProfileOpt = Annotated[Optional[str], typer.Option("--profile", "-p", help="profile from medallion.yaml")]
VarOpt = Annotated[Optional[list[str]], typer.Option("--var", help="override a variable: NAME=VALUE")]
SelectOpt = Annotated[Optional[list[str]], typer.Option(
    "--select", "-s", help="spec names, layer:x, +name (with upstream), name+ (with downstream)")]
OutputOpt = Annotated[str, typer.Option("--format", "-f", help="table | json (for scripts)")]
ProjectOpt = Annotated[Optional[Path], typer.Option("--project-dir", help="folder with medallion.yaml",
                                                    envvar="MEDALLION_PROJECT_DIR")]

_DEBUG = False


@app.callback()
def _options(debug: Annotated[bool, typer.Option(
        "--debug", help="add Python tracebacks to error lines (allowed anywhere on the line)")] = False) -> None:
    """Medallion: config-driven ETL on PySpark. Exit codes: 0 ok, 1 a run failed, 2 invalid spec or usage."""


def _workspace(project_dir: Path | None, profile: str | None, var: list[str] | None) -> Workspace:
    return Workspace.open(project_dir, profile, list(var or []))


@app.command()
def validate(profile: ProfileOpt = None, var: VarOpt = None, project_dir: ProjectOpt = None) -> None:
    """Check every spec, the graph, every column and expression, and the deploy rules; no Spark is started."""
    ws = _workspace(project_dir, profile, var)
    if (remote := executor_for(ws.project)) is not None:
        remote.validate(ws, Reporter().line)  # the executor's own rules (AWS: schedules, cron, retry vs timeout)
    from engine.spec.extensions import extension_errors  # checks plugins add (e.g. dashboard blocks)

    if errors := extension_errors(ws.graph, ws.project):
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    validate_project(ws)


@app.command()
def plan(select_: SelectOpt = None, profile: ProfileOpt = None, var: VarOpt = None,
         project_dir: ProjectOpt = None, format_: OutputOpt = "table") -> None:
    """Show what would run, in order: spec, layer, inputs, output, file."""
    _check_format(format_)
    ws = _workspace(project_dir, profile, var)
    names = select(ws.graph, select_)
    items = []
    for i, name in enumerate(names, 1):
        loaded = ws.graph.specs[name]
        spec = loaded.spec
        items.append({"order": i, "spec": name, "layer": spec.layer, "inputs": list(spec.input_tables),
                      "output": spec.output.table, "file": str(loaded.path)})
    if format_ == "json":
        _print_json(items)
        return
    rows = [[str(it["order"]), it["spec"], it["layer"], ", ".join(it["inputs"]) or "(files)", it["output"],
             it["file"]] for it in items]
    Reporter().table("plan", ["#", "spec", "layer", "inputs", "output", "file"], rows, keep=[1, 4])


def _check_format(format_: str) -> None:
    if format_ not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not '{format_}'")


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@app.command()
def run(select_: SelectOpt = None, profile: ProfileOpt = None, var: VarOpt = None,
        project_dir: ProjectOpt = None,
        resume: Annotated[Optional[str], typer.Option(
            "--resume", help="finish a failed or interrupted run (default: the latest)")] = None,
        full_refresh: Annotated[bool, typer.Option(
            "--full-refresh", help="incremental specs rebuild from every source row")] = False,
        backfill: Annotated[Optional[tuple[str, str]], typer.Option(
            "--backfill", help="incremental specs re-load the source rows between FROM and TO")] = None,
        plain: Annotated[bool, typer.Option("--plain", help="plain line output even on a terminal")] = False,
        threads: Annotated[Optional[int], typer.Option(
            "--threads", min=1, help="independent specs at the same time (default: the profile's threads:, "
            "auto = one per core, at most 4); 1 = one after the other")] = None,
        inject_fault: Annotated[Optional[list[str]], typer.Option("--inject-fault", hidden=True)] = None,
        ) -> None:
    """Run the selected specs (default: all) in dependency order in one Spark session."""
    from engine.run.command import run_command

    ws = _workspace(project_dir, profile, var)
    if (remote := executor_for(ws.project)) is not None:  # e.g. AWS: start it there, no Spark here
        if threads is not None:
            raise UsageError("--threads is for runs on this machine; on AWS the profile's threads: bounds the "
                             "Glue job runs at once (set at deploy)")
        raise typer.Exit(remote.run(ws, select_, resume, Reporter(plain=True).line))
    record = run_command(ws, select_=select_, profile=profile, var=list(var or []), project_dir=project_dir,
                         resume=resume, full_refresh=full_refresh, backfill=backfill, plain=plain,
                         inject_fault=list(inject_fault or []), threads=threads)
    if record.status != "ok":
        raise typer.Exit(130 if record.status == "interrupted" else 1)


@app.command()
def rollback(table: Annotated[str, typer.Argument(help="table to roll back, e.g. gold.churn_indicators")],
             version: Annotated[Optional[int], typer.Argument(help="version to restore (default: previous)")] = None,
             profile: ProfileOpt = None, var: VarOpt = None, project_dir: ProjectOpt = None) -> None:
    """Point a table back at a kept earlier version (the warehouse follows)."""
    from engine.run.command import rollback_command

    rollback_command(_workspace(project_dir, profile, var), table, version, Reporter())


source_app = typer.Typer(no_args_is_help=True, help="The source database (RDS-style PostgreSQL).")
app.add_typer(source_app, name="source")


@source_app.command("load")
def source_load(profile: ProfileOpt = None, var: VarOpt = None, project_dir: ProjectOpt = None) -> None:
    """Load the raw CSVs into the source database's tables (idempotent: replaces them)."""
    from engine.io.source import load_source

    ws = _workspace(project_dir, profile, var)
    source = ws.source
    if source is None:
        raise UsageError(f"profile '{ws.project.profile_name}' has no source database; try --profile postgres")
    counts = load_source(ws.spark(), source, ws.secrets, ws.project.root)
    Reporter().table("source load", ["table", "rows"],
                     [[f"{source.schema_}.{t}", f"{n:,}"] for t, n in counts.items()])


clv_app = typer.Typer(no_args_is_help=True, help="Predictive customer lifetime value (the clv_model step).")
app.add_typer(clv_app, name="clv")


@clv_app.command("evaluate")
def clv_evaluate(
        calibration_end: Annotated[str, typer.Option("--calibration-end", help="last date the refit may see, YYYY-MM-DD")],
        holdout_days: Annotated[Optional[int], typer.Option("--holdout-days", min=1,
                                                            help="holdout length (default: to the last date)")] = None,
        spec: Annotated[Optional[str], typer.Option("--spec", help="the spec whose clv_model step to evaluate")] = None,
        profile: ProfileOpt = None, var: VarOpt = None, project_dir: ProjectOpt = None) -> None:
    """Refit every CLV model on a calibration window; score the holdout (orders, money) against two baselines."""
    from datetime import date as date_type

    from engine.clv import backtest

    try:
        end = date_type.fromisoformat(calibration_end)
    except ValueError:
        raise UsageError(f"--calibration-end must be a date YYYY-MM-DD, got '{calibration_end}'") from None
    ws = _workspace(project_dir, profile, var)
    name, step = backtest.find_step(ws.graph, spec)
    orders = backtest.load_orders(ws.spark(), ws.lake, step.evaluation)
    try:
        report = backtest.backtest(orders, step, end, holdout_days,
                                   lambda index: backtest.true_alive(step.evaluation, ws.project.root, index, end),
                                   learn=backtest.fit_customers(ws.spark(), ws.lake, name, step))
    except ValueError as exc:  # e.g. no holdout after the calibration end
        raise UsageError(str(exc)) from exc
    report["spec"] = name
    path = ws.store.save_artefact(backtest.ARTEFACT, report)
    reporter = Reporter()
    for line in backtest.report_lines(report):
        reporter.line(line)
    reporter.line(f"saved: {path}")


@app.command()
def query(sql: Annotated[str, typer.Argument(help="SQL against the warehouse, e.g. select * from gold.x")],
          format_: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
          profile: ProfileOpt = None, var: VarOpt = None, project_dir: ProjectOpt = None) -> None:
    """Query the profile's warehouse; tables are named <layer>.<name>."""
    if format_ not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    ws = _workspace(project_dir, profile, var)
    columns, rows = ws.warehouse.query(sql)
    if format_ == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif format_ == "json":
        sys.stdout.write(json.dumps([dict(zip(columns, r)) for r in rows], default=str, indent=2) + "\n")
    else:
        Reporter().table("", columns, [["" if v is None else str(v) for v in r] for r in rows])


@app.command()
def summary(select_: SelectOpt = None, profile: ProfileOpt = None, var: VarOpt = None,
            project_dir: ProjectOpt = None, format_: OutputOpt = "table") -> None:
    """Each mart's row count and dashboard KPIs, computed in the warehouse."""
    from engine.run.summary import built_by, summarize

    _check_format(format_)
    ws = _workspace(project_dir, profile, var)
    names = select(ws.graph, select_ or ["layer:gold"])
    reporter = Reporter()
    results = list(summarize(ws.graph, names, ws.warehouse))
    specs = {ws.graph.specs[n].spec.output.table: n for n in names}
    builds = {table: built_by(ws.lake, ws.store, specs[table], table) for table, _, _ in results}
    if format_ == "json":
        _print_json([{"table": table, "rows": rows if rows >= 0 else None,
                      "kpis": [{"label": label, "value": value} for label, value in kpis],
                      "run_id": builds[table][0], "spark": builds[table][1]}
                     for table, rows, kpis in results])
        return
    for table, rows, kpis in results:
        reporter.line(f"{table}: {rows:,} rows" if rows >= 0 else f"{table}:")
        for label, value in kpis:
            reporter.line(f"    {label}: {value}")
        run_id, work = builds[table]
        if work:
            reporter.line(f"    built by run {run_id}: {spark_phrase(work)}")


@app.command()
def graph(format_: Annotated[str, typer.Option(
              "--format", "-f", help="mermaid | dot (lineage), drawio (architecture + lineage), "
              "erd | erd-drawio (silver/gold data model)")] = "mermaid",
          columns: Annotated[Optional[str], typer.Option(
              "--columns", help="TABLE.COLUMN: print where that column comes from")] = None,
          select_: SelectOpt = None, profile: ProfileOpt = None, var: VarOpt = None,
          project_dir: ProjectOpt = None) -> None:
    """Print a diagram generated from the specs (lineage, deployed architecture, data model)."""
    ws = _workspace(project_dir, profile, var)
    if columns:
        return column_lineage(ws, columns)  # engine/cli_authoring.py
    sys.stdout.write(render(format_, ws.graph, select(ws.graph, select_), ws.project))


@app.command()
def runs(run_id: Annotated[Optional[str], typer.Argument(help="show one run in detail")] = None,
         profile: ProfileOpt = None, var: VarOpt = None, project_dir: ProjectOpt = None,
         format_: OutputOpt = "table") -> None:
    """Run history, or one run's per-spec state with its conservation and rule counts."""
    from engine.run.command import runs_status

    _check_format(format_)
    ws = _workspace(project_dir, profile, var)
    reporter = Reporter()
    if (remote := executor_for(ws.project)) is not None:
        return remote.runs(ws, run_id, reporter.line)
    if run_id is None and format_ == "json":
        _print_json([rec.model_dump(mode="json") for rec in ws.store.list()])
        return
    if run_id is None:
        rows = []
        for rec in ws.store.list():
            counts = {s: sum(x.status == s for x in rec.specs) for s in ("ok", "failed", "skipped")}
            status = runs_status(ws, rec)
            work = spark_totals(rec)
            rows.append([rec.run_id, status, rec.started_at, rec.finished_at or "-",
                         str(counts["ok"]), str(counts["failed"]), str(counts["skipped"]),
                         str(work["jobs"]) if work else "-"])
        reporter.table("runs", ["run_id", "status", "started", "finished", "ok", "failed", "skipped", "spark_jobs"],
                       rows, keep=[0])
        return
    record = ws.store.load(run_id)
    if record is None:
        known = [r.run_id for r in ws.store.list()]
        from engine.spec.suggest import did_you_mean
        raise UsageError(f"no run '{run_id}'{did_you_mean(run_id, known)}")
    if format_ == "json":
        _print_json(record.model_dump(mode="json"))
        return
    reporter.line(f"run {record.run_id} {runs_status(ws, record)} · profile {record.profile} · "
                  f"started {record.started_at} · finished {record.finished_at or '-'}")
    reporter.table("specs", ["spec", "status", "attempts", "rows_in", "rows_out", "seconds", "version",
                             "jobs", "stages", "tasks", "error"],
                   [[s.spec, s.status, str(s.attempts), str(s.rows_in if s.rows_in is not None else "-"),
                     str(s.rows_out if s.rows_out is not None else "-"),
                     str(s.seconds if s.seconds is not None else "-"),
                     str(s.version if s.version is not None else "-"),
                     *[str(s.spark[k]) if s.spark else "-" for k in ("jobs", "stages", "tasks")],
                     s.error or ""] for s in record.specs],
                   keep=[0])
    if spark_totals(record):
        reporter.line(f"Spark work: {spark_phrase(spark_totals(record))}")
    for s in record.specs:
        details = detail_lines(s)
        if details:
            reporter.line(s.spec)
            for line in details:
                reporter.line(line)
    if record.resume_command:
        reporter.line(f"to resume: {record.resume_command}")


register_authoring(app)  # test, preview, schema, init (engine/cli_authoring.py)

_PLUGINS_LOADED = False


def _load_plugins(args: list[str] | None = None) -> None:
    """Commands contributed by other packages (deploy, dashboard), once; then the commands the
    project registers (``commands:`` in medallion.yaml, e.g. the sample-data generator)."""
    global _PLUGINS_LOADED
    if not _PLUGINS_LOADED:
        _PLUGINS_LOADED = True
        for ep in entry_points(group="medallion.commands"):
            try:
                ep.load()(app)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the CLI
                print(f"warning: plugin command '{ep.name}' failed to load: {exc}", file=sys.stderr)
    load_project_commands(app, list(args or []))  # engine/cli_authoring.py


def _print_error(exc: BaseException) -> None:
    errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    if _DEBUG:
        traceback.print_exception(exc)


def _optional_resume_value(args: list[str]) -> list[str]:
    """``--resume`` may stand alone (latest unfinished run); give the option its value."""
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--resume" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append("latest")
    return out


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code (0 ok, 1 run failed, 2 invalid)."""
    global _DEBUG
    args = list(sys.argv[1:] if argv is None else argv)
    _DEBUG = "--debug" in args
    args = _optional_resume_value([a for a in args if a != "--debug"])
    _load_plugins(args)
    try:
        result = app(args=args, prog_name="medallion", standalone_mode=False)
        if isinstance(result, int):  # click returns typer.Exit codes when not standalone
            return result
    except MedallionError as exc:
        _print_error(exc)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        return 130
    except Exception as exc:  # usage errors of the CLI library, and anything unexpected
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # click-style usage error (typer may vendor click): message + exit 2
            return exc.exit_code
        print(f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)",
              file=sys.stderr)
        if _DEBUG:
            traceback.print_exception(exc)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def entry() -> None:
    """What the ``medallion`` script runs."""
    sys.exit(main())
