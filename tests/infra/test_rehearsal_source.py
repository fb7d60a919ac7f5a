"""The brief's flow on its schedule: every pipeline run loads raw S3 into the source database first.

A project whose ``aws`` profile has a source database (raw CSV -> ``source.events``) and whose
bronze spec reads that database over JDBC, deployed to moto; the deployed state machine runs for
real and this test plays Glue's worker, as in test_rehearsal.py (same substitutions: the job runs
the ``rehearsal`` profile, a local lake, and the source database is the local PostgreSQL, in a
throwaway database of this test). Checked: the source load is the run's first job run, bronze
starts only after it succeeded, a changed raw file is reloaded (replaced, not appended) by the
next scheduled run, and a failed load stops the run before any spec, sends one alert, and the
alert's reload command runs the load again and then every spec.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from engine.cli import main as cli
from engine.run.workspace import Workspace
from infra.deployer import deploy
from tests.infra.test_rehearsal import GlueWorker, _alerts, _rows, _scheduled, account  # noqa: F401 - fixture

CONFIG = """\
name: source-test
retry: {attempts: 2, backoff_seconds: 1, max_delay_seconds: 1}
variables: {raw_dir: raw, lake_dir: lake}
profiles:
  rehearsal:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    source:
      kind: postgres
      host: 127.0.0.1
      database: "${env:DT_PG_DB}"
      user: postgres
      sslmode: disable
      tables: {events: "${var:raw_dir}/events.csv"}
    spark: {master: "local[2]", shuffle_partitions: 2, driver_memory: 2g}
  aws:
    source:
      kind: postgres
      host: db.internal
      database: shop
      user: etl
      password: "${secret:rds_source.password}"
      tables: {events: "${var:raw_dir}/events.csv"}
    lake: {kind: s3, bucket: test-lake, prefix: lake, kms_key: alias/dt}
    warehouse:
      kind: redshift
      host: dt.redshift.internal
      database: analytics
      user: etl
      password: "${secret:redshift_password}"
      iam_role: arn:aws:iam::123456789012:role/dt-redshift-copy
      staging_bucket: test-lake
    secrets: {kind: aws_secrets_manager, prefix: dt/}
    executor: step_functions
    deploy:
      stack_name: dt-platform
      poll_seconds: 1
      name: dt
      vpc_id: "${env:DT_VPC}"
      route_table_ids: "${env:DT_RTB}"
      subnet_ids: "${env:DT_SUBNET}"
      security_group_ids: "${env:DT_SG}"
      availability_zone: us-east-1a
      source: {host: db.internal, database: shop}
      job_vars: {raw_dir: "s3://test-lake-raw"}
"""
BRONZE = """\
name: bronze.events
steps:
  - type: jdbc
    table: events
    columns: [id, amount]
    partition_column: _row_id
    num_partitions: 2
schedule: cron(0 7 * * ? *)
"""
SILVER = """\
name: silver.events
inputs: {events: bronze.events}
steps:
  - type: derive
    columns: {amount_x2: "cast(amount as int) * 2"}
"""
GOLD = """\
name: gold.daily
inputs: {clean: silver.events}
steps:
  - type: aggregate
    input: clean
    group_by: []
    metrics: {total: sum(amount_x2)}
"""


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "medallion.yaml").write_text(CONFIG, encoding="utf-8")
    specs = root / "pipelines"
    specs.mkdir()
    for name, text in (("bronze_events", BRONZE), ("silver_events", SILVER), ("gold_daily", GOLD)):
        (specs / f"{name}.yaml").write_text(text, encoding="utf-8")
    (root / "raw").mkdir()
    (root / "raw" / "events.csv").write_text("id,amount\n1,5\n2,7\n", encoding="utf-8")
    return root


def _source_rows(conninfo) -> list[tuple]:
    with psycopg.connect(**conninfo) as conn:
        return conn.execute("select _row_id, id, amount from source.events order by _row_id").fetchall()


def _started(worker: GlueWorker, run_id: str) -> list[tuple[str, str]]:
    return [(event, spec) for event, spec, rid in worker.log if rid == run_id]


@pytest.mark.slow
def test_every_run_loads_the_source_first_and_a_failed_load_reloads(account, spark, pg_database, wheelhouse,
                                                                    tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DT_PG_DB", pg_database["dbname"])
    root = _project(tmp_path / "project")
    ws = Workspace.open(root, "aws", [])
    deploy(ws.project, ws.graph, dry_run=False, say=lambda _: None, aws=account, poll_seconds=0,
           template_path=root / "build" / "platform.json", wheelhouse=wheelhouse)
    sfn, s3 = account["stepfunctions"], account["s3"]
    schedule = account["scheduler"].get_schedule(Name="dt-pipeline")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=schedule["Target"]["Arn"])["definition"])
    states = definition["States"]
    assert states["build"]["Next"] == "source load"
    assert states["source load · run"]["Next"] == "bronze.events"
    start = states["source load · run"]["Branches"][0]["States"]["source load · start"]["Parameters"]["Arguments"]
    assert start["--task"] == "source-load" and "--spec" not in start
    topic = next(t["TopicArn"] for t in account["sns"].list_topics()["Topics"] if t["TopicArn"].endswith(":dt-alerts"))
    alerts = _alerts(account, topic)
    worker = GlueWorker(root, s3, profile="rehearsal")

    # 1. a scheduled run: the load is the first job run, bronze reads what it loaded
    first = _scheduled(sfn, schedule)
    assert worker.play(sfn, first["executionArn"])["status"] == "SUCCEEDED"
    run1 = first["executionArn"].rsplit(":", 1)[-1]
    assert _started(worker, run1) == [("start", "source-load"), ("ok", "source-load"),
                                      ("start", "bronze.events"), ("ok", "bronze.events"),
                                      ("start", "silver.events"), ("ok", "silver.events"),
                                      ("start", "gold.daily"), ("ok", "gold.daily")]
    assert _source_rows(pg_database) == [(0, "1", "5"), (1, "2", "7")]
    assert _rows(root, "gold.daily") == [{"total": 24}]  # by hand: (5 + 7) * 2

    # 2. the raw file grew: the next scheduled run replaces the source table (3 rows, not 5)
    (root / "raw" / "events.csv").write_text("id,amount\n1,5\n2,7\n3,9\n", encoding="utf-8")
    second = _scheduled(sfn, schedule)
    assert worker.play(sfn, second["executionArn"])["status"] == "SUCCEEDED"
    assert _source_rows(pg_database) == [(0, "1", "5"), (1, "2", "7"), (2, "3", "9")]
    assert _rows(root, "gold.daily") == [{"total": 42}]  # by hand: (5 + 7 + 9) * 2
    assert alerts() == []

    # 3. the raw file is gone: the load fails (terminal: not retried), no spec starts, one alert
    (root / "raw" / "events.csv").unlink()
    third = _scheduled(sfn, schedule)
    done = worker.play(sfn, third["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "Medallion.PipelineFailed"
    run3 = third["executionArn"].rsplit(":", 1)[-1]
    assert _started(worker, run3) == [("start", "source-load"), ("failed", "source-load")]
    [message] = alerts()
    assert "source load" in message and "is missing or empty" in message
    assert _source_rows(pg_database) == [(0, "1", "5"), (1, "2", "7"), (2, "3", "9")]  # previous rows kept

    # the alert's reload command: the load again, then every spec, in the same run id
    (root / "raw" / "events.csv").write_text("id,amount\n4,1\n", encoding="utf-8")
    capsys.readouterr()
    assert cli(["run", "--resume", run3, "--profile", "aws", "--project-dir", str(root)]) == 0
    assert (f"reload of run {run3}: 3 spec(s) (source load, bronze.events, silver.events, gold.daily)"
            in capsys.readouterr().out)
    [reload] = [e for e in sfn.list_executions(stateMachineArn=schedule["Target"]["Arn"])["executions"]
                if e["name"].startswith(f"{run3}-reload-")]
    before = len(worker.log)
    assert worker.play(sfn, reload["executionArn"])["status"] == "SUCCEEDED"
    assert [(e, s) for e, s, _ in worker.log[before:] if e == "start"] == [
        ("start", "source-load"), ("start", "bronze.events"), ("start", "silver.events"), ("start", "gold.daily")]
    assert {rid for _, _, rid in worker.log[before:]} == {run3}
    assert _source_rows(pg_database) == [(0, "4", "1")]
    assert _rows(root, "gold.daily") == [{"total": 2}]  # by hand: 1 * 2


def test_dry_run_shows_the_source_load_first(tmp_path, monkeypatch):
    for name in ("DT_VPC", "DT_RTB", "DT_SUBNET", "DT_SG", "DT_PG_DB"):
        monkeypatch.setenv(name, "x")
    root = _project(tmp_path / "project")
    ws = Workspace.open(root, "aws", [])
    lines: list[str] = []
    outcome = deploy(ws.project, ws.graph, dry_run=True, say=lines.append)
    assert lines[-2] == ("state machine dt: 4 Glue job runs per pipeline run, at most 4 at once: "
                         "source load → bronze.events → silver.events → gold.daily")
    assert outcome.state_machine["States"]["build"]["Next"] == "source load"
