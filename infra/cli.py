"""``medallion deploy`` and the ``step_functions`` executor, contributed through the
``medallion.commands`` entry point.

A plugin rather than a command in engine/cli.py so the core CLI does not import boto3 or the
deploy machinery for local work; registering the executor here is what lets a profile with
``executor: step_functions`` run, reload and list its runs on AWS (engine/remote.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the ``deploy`` command to the medallion Typer app; register the AWS executor."""
    from engine.remote import register_executor

    def step_functions() -> object:
        from infra.remote import StepFunctionsExecutor

        return StepFunctionsExecutor()

    register_executor("step_functions", step_functions)  # type: ignore[arg-type]

    @app.command("deploy")
    def deploy_command(
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="write the template and print the Glue and state machine plan; do not call AWS")] = False,
        out: Annotated[Optional[Path], typer.Option(
            "--out", help="where to write the template (default build/deploy/platform.template.json)")] = None,
        wheelhouse: Annotated[Optional[Path], typer.Option(
            "--wheelhouse", help="folder of wheels to take the job's dependency wheels from (pip --find-links "
                                 "--no-index); default: the package index, cached under build/deploy/wheels",
            envvar="MEDALLION_WHEELHOUSE")] = None,
        profile: Annotated[Optional[str], typer.Option("--profile", "-p", help="profile from medallion.yaml")] = None,
        var: Annotated[Optional[list[str]], typer.Option("--var", help="override a variable: NAME=VALUE")] = None,
        project_dir: Annotated[Optional[Path], typer.Option(
            "--project-dir", help="folder with medallion.yaml", envvar="MEDALLION_PROJECT_DIR")] = None,
    ) -> None:
        """Deploy to AWS: the platform stack (change set), the artefacts, the Glue job, and the state
        machine + schedule generated from the specs. Idempotent: an unchanged project changes nothing."""
        from infra.deployer import deploy
        from engine.run.report import Reporter
        from engine.run.workspace import Workspace

        ws = Workspace.open(project_dir, profile, list(var or []))
        reporter = Reporter(plain=True)
        deploy(ws.project, ws.graph, dry_run=dry_run, say=reporter.line, template_path=out, wheelhouse=wheelhouse)
