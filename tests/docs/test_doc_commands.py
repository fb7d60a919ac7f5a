"""Every ``medallion …`` line in README.md and docs/*.md is true to the tool.

Two levels, both from the fenced code blocks of the docs:

- every line (synopses such as ``medallion plan [--select SEL]`` included) names a command
  that exists and only options that command accepts;
- every example line (no ``[…]`` and no placeholder argument) is executed, in the order the
  docs give them, on a copy of this project with the small fixture data, and must exit 0.

Substitutions, so the examples run here as written: a documented run id becomes the latest
run's id, ``/path/to/csvs`` the fixture folder, ``/data/lake`` a temporary lake, a fixed
dashboard port a free one. ``medallion dashboard`` examples are started as real processes,
checked healthy and stopped; ``--profile postgres`` examples run on a throwaway database.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RAW = ROOT / "tests" / "cases" / "gold" / "raw"
PROMPT = re.compile(r"^(?:\$\s+)?(?:\.venv/bin/)?medallion\s+(?P<rest>.*)$")
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]*|<[^>]+>|\.\.\.)$")  # SQL, RUN_ID, <run id>, ...


def doc_commands() -> list[tuple[str, int, str]]:
    """(file, line, text after 'medallion') of every command line in a fenced block."""
    found = []
    for path in DOCS:
        fenced = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip().startswith("```"):
                fenced = not fenced
                continue
            match = PROMPT.match(line.strip()) if fenced else None
            if match:
                text = re.sub(r"\s+#\s.*$", "", match.group("rest")).strip()
                found.append((str(path.relative_to(ROOT)), number, text))
    return found


def _click_app():
    from engine import cli

    cli._load_plugins()
    return typer.main.get_command(cli.app)


def _is_group(command) -> bool:
    return hasattr(command, "commands")  # typer may vendor click: no isinstance on click's classes


def _resolve(group, words: list[str]):
    command = group
    rest = list(words)
    while _is_group(command) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def is_example(text: str) -> bool:
    """A command to run as written: no [optional] parts, no <placeholder> (even one with spaces)."""
    return ("[" not in text and not re.search(r"<[^>]+>", text)
            and not any(PLACEHOLDER.match(t) for t in shlex.split(text)))


def test_docs_have_command_lines():
    commands = doc_commands()
    assert len(commands) > 20 and any(is_example(t) for _, _, t in commands)


@pytest.mark.parametrize("where,text", [(f"{f}:{n}", t) for f, n, t in doc_commands()])
def test_documented_command_and_options_exist(where, text):
    group = _click_app()
    words = shlex.split(text.replace("[", " ").replace("]", " ").replace("|", " "))
    command, rest = _resolve(group, words)
    assert not _is_group(command), f"{where}: '{text}' names no command"
    accepted = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for token in rest:
        if token.startswith("--"):
            name = token.split("=", 1)[0]
            assert name in accepted | {"--debug"}, f"{where}: {name} is not an option of '{command.name}'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_and_stop(args: list[str], project: Path) -> None:
    port = _free_port()
    if "--port" in args:
        args[args.index("--port") + 1] = str(port)
    else:
        args += ["--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", *args, "--project-dir", str(project)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"medallion {' '.join(args)} exited with {proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "dashboard never became healthy"
                time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_documented_examples_run_as_written(spark, pg_database, tmp_path, capsys):
    from engine.cli import main
    from engine.run.record import RunStore

    project = tmp_path / "project"
    project.mkdir()
    for name in ("medallion.yaml", "vocabulary.yaml"):  # the project's config and shared definitions
        if (ROOT / name).is_file():
            shutil.copy(ROOT / name, project)
    for folder in ("pipelines", "marts"):
        shutil.copytree(ROOT / folder, project / folder)
    shutil.copytree(RAW, project / "data" / "raw")
    base = ["--project-dir", str(project)]
    # state the examples assume: a built lake with a few kept versions to roll back to
    assert main(["run", *base]) == 0
    for _ in range(3):
        assert main(["run", "--select", "gold.churn_indicators", *base]) == 0
    capsys.readouterr()

    subs = {"/path/to/csvs": str(project / "data" / "raw"), "/data/lake": str(tmp_path / "other_lake")}
    ran = 0
    for where, text in [(f"{f}:{n}", t) for f, n, t in doc_commands() if is_example(t)]:
        for old, new in subs.items():
            text = text.replace(old, new)
        latest = RunStore(project / ".lake" / "_runs").list()[-1].run_id
        text = re.sub(r"\b\d{8}T\d{9}Z-[0-9a-f]{6}\b", latest, text)
        args = shlex.split(text)
        if args[0] == "dashboard":
            _serve_and_stop(args, project)
        else:
            code = main([*args, *base])
            output = capsys.readouterr()
            assert code == 0, f"{where}: medallion {text} exited {code}:\n{output.out[-800:]}\n{output.err[-800:]}"
        ran += 1
    assert ran >= 10
