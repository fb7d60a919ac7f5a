"""Test configuration shared by every test.

- No test may reach a real network endpoint (AWS above all): sockets may only connect to
  loopback, and AWS credentials are fake. moto intercepts boto3 in-process, so it still works.
- One SparkSession for the whole session (starting Spark costs seconds).
- The developer's own MEDALLION_* settings never leak into tests.
- Run locators (engine/run/resume.py) go to a folder of the session's own, never into the
  repository's ``.medallion/`` (many tests run the repository's project with a temporary lake).
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JDBC_JAR = Path("/usr/share/java/postgresql.jar")
IN_CI = os.environ.get("CI", "").lower() == "true"
CASES = Path(__file__).resolve().parent / "cases"

for _key in [k for k in os.environ if k.startswith("MEDALLION_")]:
    del os.environ[_key]
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
})
STATE_DIR = tempfile.mkdtemp(prefix="medallion-test-state-")
os.environ["MEDALLION_STATE_DIR"] = STATE_DIR  # inherited by every subprocess a test starts
atexit.register(shutil.rmtree, STATE_DIR, True)

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _allowed(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX socket path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: refuse rather than resolve


def _guarded_connect(sock: socket.socket, address: object) -> object:
    if not _allowed(address):
        raise ConnectionRefusedError(f"tests may not connect to {address!r} (network is blocked)")
    return _real_connect(sock, address)


def _guarded_create_connection(address: tuple, *args: object, **kwargs: object) -> socket.socket:
    if not _allowed(address):
        raise ConnectionRefusedError(f"tests may not connect to {address!r} (network is blocked)")
    return _real_create_connection(address, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.create_connection = _guarded_create_connection  # type: ignore[assignment]


@pytest.fixture(scope="session")
def spark():
    """The one SparkSession of the test run (2 shuffle partitions: the data is tiny)."""
    from engine.run.session import get_spark
    from engine.spec.project import SparkConfig

    jars = [str(JDBC_JAR)] if JDBC_JAR.is_file() else []
    session = get_spark(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="2g", jars=jars),
                        app_name="medallion-tests")
    yield session
    session.stop()


@pytest.fixture()
def cases() -> Path:
    """Folder of input/expected fixtures."""
    return CASES


MINIMAL_CONFIG = """\
name: test-project
variables:
  raw_dir: raw
  lake_dir: lake
  shuffle_partitions: 2
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[2]", shuffle_partitions: 2, driver_memory: 2g}
"""


@pytest.fixture()
def make_project(tmp_path: Path):
    """Write a project folder from ``{relative path: text}``; medallion.yaml has a default."""

    def write(files: dict[str, str], config: str = MINIMAL_CONFIG) -> Path:
        (tmp_path / "medallion.yaml").write_text(config, encoding="utf-8")
        for rel, text in files.items():
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return tmp_path

    return write


def _postgres_available() -> str | None:
    """None when the local PostgreSQL answers, else the reason it cannot be used."""
    try:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=5432, dbname="postgres", user="postgres", connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001
        return f"no PostgreSQL at 127.0.0.1:5432 (user postgres): {str(exc).strip()[:120]}"
    if not JDBC_JAR.is_file():
        return f"no JDBC driver at {JDBC_JAR} (apt-get install libpostgresql-jdbc-java)"
    return None


@pytest.fixture(scope="session")
def postgres():
    """The real local PostgreSQL server, as connection keywords for the maintenance database.

    Never a database to write to: tests take ``pg_database`` (their own throwaway database), so
    a user's data (for example in ``test``, the postgres profile's default) is never touched and
    two people testing on one server never collide. A skip outside CI, a failure under CI=true.
    """
    reason = _postgres_available()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true needs PostgreSQL and its JDBC driver: {reason}")
        pytest.skip(reason)
    return {"host": "127.0.0.1", "port": 5432, "dbname": "postgres", "user": "postgres"}


def create_database(postgres: dict, prefix: str = "medallion_t") -> dict:
    """Create a database with a unique name; returns connection keywords for it."""
    import uuid

    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**postgres, autocommit=True) as con:
        con.execute(f'create database "{name}"')
    return {**postgres, "dbname": name}


def drop_database(postgres: dict, name: str) -> None:
    import psycopg

    with psycopg.connect(**postgres, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')


def drop_role(postgres: dict, name: str) -> None:
    """Drop a login a test made (roles are server-wide: a unique name per test, dropped after it)."""
    import psycopg

    with psycopg.connect(**postgres, autocommit=True) as con:
        con.execute(f'drop role if exists "{name}"')


@pytest.fixture()
def pg_database(postgres, monkeypatch):
    """A database of this test's own (unique name, dropped afterwards), which the ``postgres``
    profile also points at (``MEDALLION_PG_DATABASE``), and a dashboards login name of its own
    (``MEDALLION_DASHBOARDS_USER``: the profile's read-only reader, made by the first publish,
    dropped with the database) with its password in the environment, as a user would set it."""
    import secrets as random

    conninfo = create_database(postgres)
    reader = f"{conninfo['dbname']}_dash"
    monkeypatch.setenv("MEDALLION_PG_DATABASE", conninfo["dbname"])
    monkeypatch.setenv("MEDALLION_DASHBOARDS_USER", reader)
    monkeypatch.setenv("MEDALLION_SECRET_DASHBOARD_PASSWORD", random.token_urlsafe(18))
    yield conninfo
    drop_database(postgres, conninfo["dbname"])  # first: the login's grants live in this database
    drop_role(postgres, reader)
