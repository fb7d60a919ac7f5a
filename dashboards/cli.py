"""``medallion dashboard``: serve the generated dashboards on the profile's warehouse.

A plugin (entry point ``dashboard = "dashboards.cli:register"``) so the engine stays free of
Streamlit. It checks the project opens (bad specs fail here, with their file:line messages)
and then runs ``streamlit run dashboards/app.py`` with the project, profile and variables in
the environment the app reads.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

APP = Path(__file__).with_name("app.py")


LOOPBACK = "127.0.0.1"


def streamlit_command(port: int, headless: bool, host: str = LOOPBACK) -> list[str]:
    """The command line that serves the app (also used by the browser test).

    Bound to the loopback interface unless a host is given: the pages show customer-level data,
    so reaching them from the network is a decision (``--host 0.0.0.0``), not a default.
    """
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", host,
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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send the server SIGTERM when this command's process dies (even by kill -9)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run the server as a child that stops when this command stops.

    ``kill <pid>`` (SIGTERM) or Ctrl-C of ``medallion dashboard`` stops the Streamlit server
    too; without this the server kept running, holding the port.
    """
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    proc = subprocess.Popen(command, env=env, preexec_fn=preexec)  # noqa: PLW1509 - prctl only

    def stop(signum: int, _frame: object) -> None:
        proc.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to the medallion Typer app, and the dashboard-block check to
    ``medallion validate``."""
    from dashboards.validate import register as register_validation

    register_validation()

    @app.command("dashboard")
    def dashboard(
        port: Annotated[int, typer.Option("--port", help="port to serve on")] = 8501,
        host: Annotated[str, typer.Option("--host", help="address to listen on (0.0.0.0: every interface)")]
        = LOOPBACK,
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
        shown = "localhost" if host == LOOPBACK else host
        print(f"dashboards for {ws.project.name} (profile {ws.project.profile_name}) on http://{shown}:{port}",
              flush=True)
        env = app_environment(ws.project.root, profile, list(var or []))
        code = serve(streamlit_command(port, headless, host), env)
        if code not in (0, -signal.SIGTERM):
            raise typer.Exit(code)
