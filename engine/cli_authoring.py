"""Authoring commands: validate (static checks), test, preview, schema, init, graph --columns.

Bodies live here so ``engine/cli.py`` keeps one registration line per command. Nothing here
starts Spark except ``test`` and ``preview``, and those never write to the lake.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from engine.errors import SpecErrors, UsageError
from engine.plan.select import select
from engine.run.report import Reporter

SelectOpt = Annotated[Optional[list[str]], typer.Option(
    "--select", "-s", help="spec names, layer:x, +name (with upstream), name+ (with downstream)")]
ProfileOpt = Annotated[Optional[str], typer.Option("--profile", "-p", help="profile from medallion.yaml")]
VarOpt = Annotated[Optional[list[str]], typer.Option("--var", help="override a variable: NAME=VALUE")]
ProjectOpt = Annotated[Optional[Path], typer.Option("--project-dir", help="folder with medallion.yaml",
                                                    envvar="MEDALLION_PROJECT_DIR")]


def _workspace(project_dir: Path | None, profile: str | None, var: list[str] | None) -> Any:
    from engine.run.workspace import Workspace

    return Workspace.open(project_dir, profile, list(var or []))


def checked(ws: Any) -> Any:
    """The project's derived schemas; raises every static problem at once (exit 2)."""
    from engine.plan.check import check_project

    schemas = check_project(ws.graph)
    if schemas.errors:
        raise schemas.errors[0] if len(schemas.errors) == 1 else SpecErrors(schemas.errors)
    return schemas


def validate_project(ws: Any) -> None:
    """The body of ``medallion validate``: structure, graph, columns, functions, deploy rules."""
    started = time.monotonic()
    schemas = checked(ws)
    known = sum(frame is not None for frame in schemas.outputs.values())
    tests = sum(len(item.spec.tests) for item in ws.graph.specs.values())
    Reporter().line(f"ok: {len(ws.graph.specs)} spec(s) valid, graph has no cycles; columns derived for "
                    f"{known} of {len(schemas.outputs)} output(s); {tests} spec test(s) "
                    f"({time.monotonic() - started:.2f}s)")


def test(select_: SelectOpt = None, profile: ProfileOpt = None, var: VarOpt = None,
         project_dir: ProjectOpt = None) -> None:
    """Run the specs' unit tests (tests: in each spec) in one local Spark session; exit 1 on failure."""
    from engine.run.session import get_spark
    from engine.spec.project import SparkConfig
    from engine.testing.runner import TestSetup, collect, run_tests

    ws = _workspace(project_dir, profile, var)
    schemas = checked(ws)
    names = select(ws.graph, select_)
    reporter = Reporter()
    if not collect(ws.graph, names):
        reporter.line("no spec tests in the selection (add tests: to a spec)")
        return
    config = ws.project.profile.spark
    spark = get_spark(SparkConfig(master=config.master, jars=config.jars, shuffle_partitions=1,
                                  driver_memory=config.driver_memory, conf=config.conf),
                      app_name=f"medallion-test-{ws.project.name}")
    # a few rows per test: one partition, no adaptive re-planning, no code generation to compile;
    # restored afterwards, since the session may be shared (an embedding process, the test suite)
    tuned = {"spark.sql.shuffle.partitions": "1", "spark.sql.adaptive.enabled": "false",
             "spark.sql.codegen.wholeStage": "false"}
    before = {key: spark.conf.get(key, None) for key in tuned}
    for key, value in tuned.items():
        spark.conf.set(key, value)
    setup = TestSetup(ws.graph, schemas, ws.project.root, ws.project.variables, spark, ws.secrets)

    def report(result: Any) -> None:
        mark = "PASS" if result.passed else "FAIL"
        reporter.line(f"{mark} {result.spec}: {result.name} ({result.seconds:.1f}s)")
        if not result.passed:
            reporter.line(f"     {result.location}")
            for line in result.lines:
                reporter.line(f"     {line}")

    try:
        results = run_tests(setup, names, report)
    finally:
        for key, value in before.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)
    failed = [r for r in results if not r.passed]
    reporter.line(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


def column_lineage(ws: Any, target: str) -> None:
    """The body of ``medallion graph --columns TABLE.COLUMN``."""
    from engine.plan.lineage import lineage_lines

    reporter = Reporter()
    for line in lineage_lines(ws.graph, checked(ws), target):
        reporter.line(line)


def preview(spec: Annotated[str, typer.Argument(help="the spec to preview, e.g. silver.orders")],
            limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="rows to show")] = 20,
            sample: Annotated[float, typer.Option("--sample", min=0.0, max=1.0,
                                                  help="fraction of each input to use (1 = all)")] = 1.0,
            profile: ProfileOpt = None, var: VarOpt = None, project_dir: ProjectOpt = None) -> None:
    """Run one spec on a sample and show its first rows and schema; nothing is committed.

    Inputs come from their committed versions when they exist; otherwise the upstream specs
    run too (in memory, on the same sample).
    """
    from engine.testing.preview import preview_spec

    ws = _workspace(project_dir, profile, var)
    schemas = checked(ws)
    names = select(ws.graph, [spec])
    if len(names) != 1 or any(ch in spec for ch in "+:, "):
        raise UsageError(f"preview takes one spec name, got '{spec}'")
    reporter = Reporter()
    result = preview_spec(ws, names[0], sample, limit, reporter.line)
    reporter.table(f"{names[0]} (first {len(result.rows)} row(s) of the preview)", result.columns,
                   [["" if v is None else str(v) for v in row] for row in result.rows])
    reporter.table("schema", ["column", "type", "derived by validate"],
                   [[c, t, _static_type(schemas, names[0], c)] for c, t in result.schema])
    reporter.line(f"{result.total:,} row(s) in the preview output"
                  + (f", {result.quarantined:,} quarantined" if result.quarantined else "")
                  + "; nothing was committed")


def _static_type(schemas: Any, table: str, column: str) -> str:
    frame = schemas.outputs.get(table)
    col = frame.get(column) if frame else None
    return (col.type or "?") if col else "-"


def schema(out: Annotated[Path, typer.Option("--out", help="folder for the JSON Schemas")] = Path("schemas"),
           reference: Annotated[Optional[Path], typer.Option(
               "--reference", help="also write the Markdown reference to this file")] = None) -> None:
    """Write the JSON Schemas of specs and medallion.yaml (editor completion), optionally the reference."""
    from engine.spec.reference import reference_markdown, schemas

    out.mkdir(parents=True, exist_ok=True)
    reporter = Reporter()
    for name, text in schemas().items():
        (out / name).write_text(text, encoding="utf-8")
        reporter.line(f"wrote {out / name}")
    if reference is not None:
        reference.parent.mkdir(parents=True, exist_ok=True)
        reference.write_text(reference_markdown(), encoding="utf-8")
        reporter.line(f"wrote {reference}")


def init(folder: Annotated[Path, typer.Argument(help="new project folder (created; must be empty)")],
         name: Annotated[Optional[str], typer.Option("--name", help="project name (default: the folder's)")] = None,
         ) -> None:
    """Scaffold a project that validates, tests and runs as created."""
    from engine.scaffold import scaffold

    written = scaffold(folder, name or folder.resolve().name)
    reporter = Reporter()
    for path in written:
        reporter.line(f"created {path}")
    reporter.line(f"next: cd {folder} && medallion validate && medallion test && medallion run")


def register(app: typer.Typer) -> None:
    """Add the authoring commands to the CLI (one call from engine/cli.py)."""
    app.command("test")(test)
    app.command("preview")(preview)
    app.command("schema")(schema)
    app.command("init")(init)


def load_project_commands(app: typer.Typer, args: list[str]) -> None:
    """Commands a project registers itself: ``commands:`` in medallion.yaml lists ``module:function``.

    Each function gets the Typer app (as entry-point plugins do); the project folder is put on the
    import path first, so a project's own package needs no installation. Outside a project, or
    when medallion.yaml cannot be read, nothing is added (the command itself will say why).
    """
    import os

    from engine.spec.project import CONFIG_FILE, find_root
    from engine.spec.yaml_source import load_yaml_file

    given = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--project-dir"), None)
    given = given or next((a.split("=", 1)[1] for a in args if a.startswith("--project-dir=")), None)
    start = Path(given or os.environ.get("MEDALLION_PROJECT_DIR") or Path.cwd())
    try:
        root = find_root(start)
        data = load_yaml_file(root / CONFIG_FILE).data
    except Exception:  # noqa: BLE001 - not in a project, or a broken file: commands report it later
        return
    targets = data.get("commands") if isinstance(data, dict) else None
    if not targets:
        return
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from importlib import import_module

    for target in targets:
        module, _, function = str(target).partition(":")
        try:
            getattr(import_module(module), function or "register")(app)
        except Exception as exc:  # noqa: BLE001 - a broken project command must not break the CLI
            print(f"warning: project command '{target}' (medallion.yaml) failed to load: {exc}", file=sys.stderr)
