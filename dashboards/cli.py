"""``medallion dashboard``: serve the generated dashboards on the profile's warehouse.

A plugin (entry point ``dashboard = "dashboards.cli:register"``) so the engine stays free of
Streamlit. It checks the project opens (bad specs fail here, with their file:line messages)
and then runs ``streamlit run dashboards/app.py`` with the project, profile and variables in
the environment the app reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

APP = Path(__file__).with_name("app.py")


def streamlit_command(port: int, headless: bool) -> list[str]:
    """The command line that serves the app (also used by the browser test)."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.headless", "true" if headless else "false", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--theme.base", "light",
            "--client.toolbarMode", "viewer", "--client.showErrorDetails", "none"]


def app_environment(project_dir: Path, profile: str | None, var: list[str]) -> dict[str, str]:
    """The environment that points the app at a project, profile and variables."""
    from dashboards.env import ENV_DIR, ENV_PROFILE, ENV_VARS

    env = dict(os.environ)
    env[ENV_DIR] = str(project_dir)
    env[ENV_PROFILE] = profile or ""
    env[ENV_VARS] = json.dumps(list(var))
    return env


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to the medallion Typer app, and the dashboard-block check to
    ``medallion validate``."""
    from dashboards.validate import register as register_validation

    register_validation()

    @app.command("dashboard")
    def dashboard(
        port: Annotated[int, typer.Option("--port", help="port to serve on")] = 8501,
        profile: Annotated[Optional[str], typer.Option("--profile", "-p", help="profile from medallion.yaml")] = None,
        var: Annotated[Optional[list[str]], typer.Option("--var", help="override a variable: NAME=VALUE")] = None,
        project_dir: Annotated[Optional[Path], typer.Option("--project-dir", help="folder with medallion.yaml",
                                                            envvar="MEDALLION_PROJECT_DIR")] = None,
        headless: Annotated[bool, typer.Option("--headless/--open", help="do not open a browser")] = True,
    ) -> None:
        """Serve the dashboards (one page per mart, plus pipeline health) on the profile's warehouse."""
        from engine.run.workspace import Workspace

        ws = Workspace.open(project_dir, profile, list(var or []))
        _ = ws.graph  # invalid specs stop here, with file:line messages
        print(f"dashboards for {ws.project.name} (profile {ws.project.profile_name}) on http://localhost:{port}")
        env = app_environment(ws.project.root, profile, list(var or []))
        try:
            code = subprocess.call(streamlit_command(port, headless), env=env)
        except KeyboardInterrupt:
            code = 0
        if code:
            raise typer.Exit(code)
