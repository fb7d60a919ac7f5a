"""Issue 24: the dashboards image's command, run here against PostgreSQL as the read-only login,
every page opened in headless Chromium.

What is the image's, taken from it rather than retyped: the command (ENTRYPOINT + CMD of
infra/Dockerfile, exec form), its ENV and WORKDIR, the installed code (the engine wheel and the
dashboards wheel the build context carries, pip-installed ``--no-index --no-deps`` into a folder
as the Dockerfile's RUN line installs them, which makes the ``medallion`` command) and ``/app``
(the context's ``project/`` files). What differs, and why: the port (tests never take a fixed
one; the ALB maps 8501 on AWS), ``/app`` and ``/tmp`` are folders of the test, the dependency
wheels are this environment's installed packages (the same pinned versions), and the project's
``aws_dashboards`` profile has its Redshift warehouse replaced by the test's PostgreSQL database,
keeping its user and password references, so the app signs in as the read-only login exactly as
the hosted one does.

The warehouse: the dashboards' small fixture warehouse (tests/dashboards/conftest.py) copied in
by the ETL login, then a real publish through the repository's ``postgres`` profile (a silver
table with a card-token column), which creates the read-only login and grants it gold and the
health table. The server is started in a session of its own and only that session is stopped.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pyarrow as pa
import pytest
import yaml

from dashboards.source import QueryFailed, open_source
from dashboards.sql import Sql
from engine.run.workspace import Workspace
from infra.image import context_entries
from infra.target import target_for
from engine.spec.project import load_project
from tests.conftest import IN_CI
from tests.dashboards.browser import errors_on_page, free_port, make_driver, missing_browser, wait_drawn
from tests.dashboards.conftest import build_warehouse
from tests.dashboards.test_pages import PAGES
from tests.dashboards.test_postgres import _copy_warehouse
from tests.io.test_warehouse_contract import Lakes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "infra" / "Dockerfile"
HEALTH = "/_stcore/health"
TOKENS = ["3f1c9a…", "9b2e04…"]
NOT_ON_A_PAGE = ("Traceback", "Exception", "Error:", "could not be drawn", "No data to show",
                 "warehouse is not available", "The project could not be opened")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def image_command(text: str) -> tuple[list[str], dict[str, str], str]:
    """(argv, ENV, WORKDIR) the container starts with: ENTRYPOINT + CMD in exec form, as Docker runs them."""
    entrypoint: list[str] = []
    cmd: list[str] = []
    env: dict[str, str] = {}
    workdir = "/"
    for word, rest in instructions(text):
        if word == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif word == "WORKDIR":
            workdir = rest
    return entrypoint + cmd, env, workdir


def test_the_dockerfile_parser_reads_this_dockerfile():
    argv, env, workdir = image_command(DOCKERFILE.read_text())
    assert argv == ["medallion", "dashboard", "--profile", "aws_dashboards", "--host", "0.0.0.0", "--port", "8501"]
    assert env["MEDALLION_PROJECT_DIR"] == "/app" and env["HOME"] == "/tmp" and workdir == "/app"
    assert image_command('FROM x\nENTRYPOINT ["a", "b"]\nCMD ["c"]\nENV A=1 \\\n    B="two words"\n') == (
        ["a", "b", "c"], {"A": "1", "B": "two words"}, "/")


def _image_filesystem(tmp_path: Path) -> tuple[Path, Path]:
    """(site-packages with bin/, /app) of the image, from the build context's own files."""
    target = target_for(load_project(ROOT, "aws", env={}))
    entries = context_entries(target, [])  # no dependency wheels: this environment has them installed
    wheels, app = tmp_path / "wheels", tmp_path / "app"
    for name, data in entries.items():
        folder, _, rest = name.partition("/")
        if folder in ("wheels", "project"):
            path = (wheels if folder == "wheels" else app) / rest
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-index", "--no-deps", "--target", str(site), *sorted(map(str, wheels.glob("*.whl")))],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (site / "bin" / "medallion").is_file()  # the engine wheel's console script, as in the image
    return site, app


def _point_profile_at(app: Path, database: str, lake: Path) -> dict:
    """The image's aws_dashboards profile, its Redshift replaced by the PostgreSQL test database."""
    config = yaml.safe_load((app / "medallion.yaml").read_text())
    profile = config["profiles"]["aws_dashboards"]
    redshift = profile["warehouse"]
    profile["warehouse"] = {"kind": "postgres", "host": "127.0.0.1", "port": 5432, "database": database,
                            "user": redshift["user"], "password": redshift["password"]}
    profile["lake"] = {"kind": "local", "root": str(lake)}
    profile["secrets"] = {"kind": "env", "prefix": "MEDALLION_SECRET_"}
    (app / "medallion.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return profile


def _publish(tmp_path: Path, lake: Path, pg_database: dict) -> None:
    """Fixture marts copied in by the ETL login, then a real publish (the repository's postgres profile)."""
    build_warehouse(lake)
    _copy_warehouse(lake / "warehouse.duckdb", pg_database)
    ws = Workspace.open(ROOT, "postgres", [f"lake_dir={tmp_path / 'etl'}"])
    lakes = Lakes("local", tmp_path, None)
    lakes.lake = ws.lake
    columns = [{"name": "order_id", "type": "string"}, {"name": "card_token", "type": "string"},
               {"name": "card_last4", "type": "string"}]
    silver = lakes.commit("silver.order_items", {"part-0.parquet": pa.table(
        {"order_id": ["O1", "O2"], "card_token": TOKENS, "card_last4": ["4242", "0005"]})}, columns)
    assert ws.warehouse.refresh([silver]) == ["silver.order_items"]  # creates and grants the read-only login


def _wait_healthy(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{HEALTH}", timeout=2) as response:
                if response.read().decode() == "ok":
                    return
        except OSError:
            time.sleep(0.5)
    state = f"exited {proc.returncode}" if proc.poll() is not None else "no answer within 120 s"
    pytest.fail(f"the image's command did not serve ({state}):\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server's own session (medallion and the streamlit it started), nothing else."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def test_the_image_command_serves_every_page_as_the_read_only_login(pg_database, tmp_path):
    reason = missing_browser()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true needs Chromium for the browser test: {reason}")
        pytest.skip(reason)
    reader, password = os.environ["MEDALLION_DASHBOARDS_USER"], os.environ["MEDALLION_SECRET_DASHBOARD_PASSWORD"]
    lake = tmp_path / "lake"
    _publish(tmp_path, lake, pg_database)
    site, app = _image_filesystem(tmp_path)
    profile = _point_profile_at(app, pg_database["dbname"], lake)
    assert profile["warehouse"]["user"] == "${env:MEDALLION_DASHBOARDS_USER:-medallion_dashboards}"

    argv, image_env, workdir = image_command(DOCKERFILE.read_text())
    port = free_port()
    argv[argv.index("8501")] = str(port)
    home = tmp_path / "home"
    home.mkdir()
    where = {"/app": str(app), "/tmp": str(home)}  # the image's folders, as folders of the test
    container = {k: where.get(v, v) for k, v in image_env.items()}
    env = {**os.environ, **container, "PATH": f"{site / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(site),  # the image's site-packages: these wheels, not the checkout
           "MEDALLION_SECRET_REDSHIFT_DASHBOARDS_PASSWORD": password}  # what the task reads from Secrets Manager
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=where[workdir], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    driver = None
    try:
        _wait_healthy(proc, port, log)
        group = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        listening = {c.laddr.ip for p in group for c in p.net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
        assert listening & {"0.0.0.0", "::"}, listening  # --host 0.0.0.0: the ALB reaches the task
        served = Workspace.open(app, "aws_dashboards", [])
        from dashboards.catalog import load_pages
        from dashboards.vocabulary import load_vocabulary

        pages = load_pages(served.graph, app, load_vocabulary(app, served.project.variables))
        titles = {"": "Dashboards", **{p.slug: p.title for p in pages}, "pipeline_health": "Pipeline health"}
        assert len(titles) == len(PAGES) + 2  # every mart page of the project, the overview, health

        driver = make_driver()
        claims = base64.urlsafe_b64encode(json.dumps({"name": "Ada Lovelace"}).encode()).decode().rstrip("=")
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"x-amzn-oidc-data": f"e30.{claims}.c2ln"}})
        for slug, title in titles.items():
            driver.get(f"http://127.0.0.1:{port}/{slug}")
            state = wait_drawn(driver, timeout=90)
            body = driver.find_element("tag name", "body").text
            assert driver.find_element("tag name", "h1").text.strip() == title, slug
            assert errors_on_page(driver) == [], (slug, errors_on_page(driver))
            assert not [t for t in NOT_ON_A_PAGE if t in body], (slug, body[:2000])
            assert state["drawn"] == state["charts"], (slug, state)
            assert "published 2024-01-10 00:02 UTC (run 20240110T000000000Z-aaaaaa)" in body, slug  # data as of
            assert "Signed in as Ada Lovelace" in body, slug
            assert f"PostgreSQL 127.0.0.1:5432/{pg_database['dbname']} · profile aws_dashboards" in body, slug
        driver.get(f"http://127.0.0.1:{port}/sales_trends")
        wait_drawn(driver, timeout=90)
        assert "Data as of 2024-01-10" in driver.find_element("tag name", "body").text  # the table's as_of

        # the dashboards' own connection (the served profile, as the app opens it) reads gold only
        os.environ["MEDALLION_SECRET_REDSHIFT_DASHBOARDS_PASSWORD"] = password
        source = open_source(served)
        assert source.warehouse.config.user == reader
        assert source.query(Sql("SELECT count(*) AS n FROM gold.sales_trends"))["n"].tolist() == [6]
        for statement in ("SELECT card_token FROM silver.order_items", "SELECT * FROM silver.order_items",
                          "SELECT * FROM quarantine.silver_order_items",
                          "INSERT INTO gold.sales_trends (restaurant_id) VALUES ('x')", "DELETE FROM gold.sales_trends",
                          "UPDATE medallion.published SET version = 9", "CREATE TABLE gold.mine (x int)",
                          "CREATE TABLE public.mine (x int)", "DROP TABLE gold.sales_trends"):
            with pytest.raises(QueryFailed, match="permission denied|must be owner"):
                source.query(Sql(statement))
    finally:
        os.environ.pop("MEDALLION_SECRET_REDSHIFT_DASHBOARDS_PASSWORD", None)
        if driver is not None:
            driver.quit()
        _stop(proc)
    # and straight over the wire, as the login itself: a write is refused, the tokens stay unread
    with psycopg.connect(host="127.0.0.1", port=5432, dbname=pg_database["dbname"], user=reader,
                         password=password) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT card_token FROM silver.order_items")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO gold.sales_trends (restaurant_id) VALUES ('x')")
    with psycopg.connect(**pg_database) as conn:  # the ETL login sees the tokens: they are there to protect
        assert [t for (t,) in conn.execute("SELECT card_token FROM silver.order_items ORDER BY 1")] == TOKENS
