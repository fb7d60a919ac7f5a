"""The AWS run rehearsed end to end: deploy, a scheduled pipeline run, retries, one alert, reload.

moto executes the deployed state machine for real (``execute_state_machine``); this test plays
Glue's worker: every job run the state machine starts is executed by the real entry point
(engine/run/glue_entry.py) with the job run's own arguments, and its outcome is reported back
as the job run's state. Three substitutions, because local Spark cannot write ``s3://`` (no
hadoop-aws here): the job reads the fixture folder instead of downloading the project archive,
runs the ``local`` profile (a local lake) instead of ``aws``, and its spec records are copied to
the S3 run store (``s3://test-lake/lake/_runs/``) where the ``aws`` profile reads them, as the
S3 lake would have written them. The outcome objects the state machine reads are written by the
entry point itself, to moto's S3. moto's Glue job runs move STARTING → RUNNING → SUCCEEDED by
themselves; the test holds them (moto's state manager, manual progression) and sets the state
the worker reached, as Glue would. EventBridge Scheduler does not fire in moto: the test starts
the execution exactly as the schedule's target says (ARN and input, and a generated execution
name as the Scheduler gives one; moto names an unnamed execution "None").
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.glue.models import glue_backends
from moto.moto_api import state_manager

from engine.cli import main as cli
from engine.io.lake import LocalLake
from engine.run.glue_entry import main as glue_main
from infra.deployer import clients, deploy
from engine.run.workspace import Workspace

REGION = "us-east-1"
COUNT = """\
name: gold.event_count
inputs: {events: bronze.events}
steps:
  - type: aggregate
    input: events
    group_by: []
    metrics: {events: count(*)}
"""
# by hand from raw/events.csv (1,5 and 2,7): amounts doubled 10 and 14, total 24, two events
EXPECTED = {"silver.events": [{"id": "1", "amount": "5", "amount_x2": 10}, {"id": "2", "amount": "7", "amount_x2": 14}],
            "gold.daily": [{"total": 24}], "gold.event_count": [{"events": 2}]}


class GlueWorker:
    """Runs the job runs the state machine starts, one at a time, and reports their states."""

    def __init__(self, root: Path, s3, profile: str = "local"):
        self.root = root
        self.s3 = s3
        self.profile = profile  # the local stand-in of the aws profile the job runs
        self.job = glue_backends[DEFAULT_ACCOUNT_ID][REGION].jobs["dt"]
        self.seen: set[str] = set()
        self.log: list[tuple[str, str, str]] = []  # (event, spec, run id) in the order they happened
        self.faults: dict[str, list[str]] = {}  # spec -> what to do to its next job runs

    def _args(self, run) -> list[str]:
        args = dict(run.arguments)
        args.pop("--project-archive")  # the substitutions of the module docstring
        args.update({"--profile": self.profile, "--project-dir": str(self.root), "--vars": "{}"})
        flat = ["--JOB_ID", "j_dt", "--JOB_RUN_ID", run.job_run_id, "--JOB_NAME", "dt"]
        for key, value in args.items():
            flat += [key, value]
        return flat

    def _sync_run_store(self) -> None:
        for path in sorted((self.root / "lake" / "_runs").glob("*.json")):
            self.s3.put_object(Bucket="test-lake", Key=f"lake/_runs/{path.name}", Body=path.read_bytes())

    def step(self) -> bool:
        """Run every job run that is waiting; False when there was none."""
        waiting = [r for r in self.job.job_runs if r.job_run_id not in self.seen]
        for run in waiting:
            self.seen.add(run.job_run_id)
            spec = run.arguments.get("--spec") or run.arguments["--task"]  # a spec, or the source load
            self.log.append(("start", spec, run.arguments["--run-id"]))
            action = (self.faults.get(spec) or ["run"]).pop(0)
            if action == "lost":  # the worker dies: no outcome, Glue reports FAILED
                run.status = "FAILED"
                self.log.append(("lost", spec, run.arguments["--run-id"]))
                continue
            extra = [] if action == "run" else ["--inject-fault", f"{spec}={action}"]
            code = glue_main(self._args(run) + extra)
            self._sync_run_store()
            run.status = "SUCCEEDED" if code == 0 else "FAILED"
            self.log.append(("ok" if code == 0 else "failed", spec, run.arguments["--run-id"]))
        return bool(waiting)

    def play(self, sfn, execution_arn: str, timeout: float = 600) -> dict:
        """Be Glue until the execution ends; returns its description."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.step():
                found = sfn.describe_execution(executionArn=execution_arn)
                if found["status"] != "RUNNING":
                    return found
                time.sleep(0.2)
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        trail = [(e["type"], str(e.get("stateEnteredEventDetails", {}).get("name", "")),
                  str(e.get("stateEnteredEventDetails", {}).get("input", ""))[:300]) for e in events][-25:]
        raise AssertionError(f"execution still running after {timeout} s: {self.log}\n" + "\n".join(map(str, trail)))


@pytest.fixture()
def account(monkeypatch):
    """A mocked account that runs state machines; Glue job runs hold their state until told."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 10**9})
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        monkeypatch.setenv("DT_VPC", vpc)
        monkeypatch.setenv("DT_RTB", ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"])
        # the interface endpoints of the stack are placed in these (they must exist)
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
        monkeypatch.setenv("DT_SUBNET", subnet["SubnetId"])
        monkeypatch.setenv("DT_SG", ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"])
        yield clients(REGION)
    state_manager.unset_transition("glue::job_run")


def _alerts(aws, topic_arn: str):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["sns"].subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                         Attributes={"RawMessageDelivery": "true"})

    def read() -> list[str]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for message in got:  # read once: a message left in the queue would come back
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [m["Body"] for m in got]

    return read


def _scheduled(sfn, schedule) -> dict:
    """What EventBridge Scheduler does when the schedule fires: start its target with its input."""
    return sfn.start_execution(stateMachineArn=schedule["Target"]["Arn"], input=schedule["Target"]["Input"],
                               name=str(uuid.uuid4()))


def _rows(root: Path, table: str) -> list[dict]:
    version = LocalLake(root / "lake").require(table)
    frame = pq.read_table(version.path).to_pandas()
    return sorted(frame.to_dict("records"), key=lambda r: json.dumps(r, sort_keys=True, default=str))


def _order_ok(log, graph, run_id) -> None:
    """Every spec started only after all its upstream specs succeeded in the same run."""
    succeeded: set[str] = set()
    for event, spec, rid in log:
        if rid != run_id:
            continue
        if event == "start":
            assert graph.upstream[spec] <= succeeded, (spec, succeeded)
        if event == "ok":
            succeeded.add(spec)


@pytest.mark.slow
def test_scheduled_run_retries_alerts_once_and_reloads_on_aws(deploy_project, account, spark, capsys, wheelhouse):
    root = deploy_project()
    (root / "pipelines" / "gold_event_count.yaml").write_text(COUNT, encoding="utf-8")
    ws = Workspace.open(root, "aws", [])
    outcome = deploy(ws.project, ws.graph, dry_run=False, say=lambda _: None, aws=account, poll_seconds=0,
                     template_path=root / "build" / "platform.json", wheelhouse=wheelhouse)
    assert outcome.schedule == "cron(0 7 * * ? *)"
    sfn, s3 = account["stepfunctions"], account["s3"]
    topic = next(t["TopicArn"] for t in account["sns"].list_topics()["Topics"] if t["TopicArn"].endswith(":dt-alerts"))
    alerts = _alerts(account, topic)
    schedule = account["scheduler"].get_schedule(Name="dt-pipeline")
    assert schedule["ScheduleExpression"] == "cron(0 7 * * ? *)"
    worker = GlueWorker(root, s3)

    # 1. a scheduled run: bronze's first job run loses its worker (Glue-level: the state machine
    #    retries it), gold.event_count meets a throttle (transient: the engine retries in the run)
    worker.faults = {"bronze.events": ["lost"], "gold.event_count": ["transient"]}
    first = _scheduled(sfn, schedule)
    done = worker.play(sfn, first["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    run1 = first["executionArn"].rsplit(":", 1)[-1]  # a scheduled run's id is its execution name
    starts = [spec for event, spec, rid in worker.log if event == "start" and rid == run1]
    assert sorted(starts) == ["bronze.events", "bronze.events", "gold.daily", "gold.event_count", "silver.events"]
    committed = [spec for event, spec, rid in worker.log if event == "ok" and rid == run1]
    assert sorted(committed) == ["bronze.events", "gold.daily", "gold.event_count", "silver.events"]
    _order_ok(worker.log, ws.graph, run1)
    count = json.loads((root / "lake" / "_runs" / f"{run1}.gold.event_count.json").read_text())
    assert count["specs"][0]["attempts"] == 2 and count["status"] == "ok"
    assert alerts() == []
    for table, rows in EXPECTED.items():
        assert _rows(root, table) == rows

    # 2. a terminal failure in silver.events: not retried, gold.daily (downstream) never starts,
    #    the independent branch still runs, ONE alert, the run record says failed
    worker.faults = {"silver.events": ["terminal"]}
    second = _scheduled(sfn, schedule)
    done = worker.play(sfn, second["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "Medallion.PipelineFailed"
    run2 = second["executionArn"].rsplit(":", 1)[-1]
    starts = [spec for event, spec, rid in worker.log if event == "start" and rid == run2]
    assert sorted(starts) == ["bronze.events", "gold.event_count", "silver.events"]
    _order_ok(worker.log, ws.graph, run2)
    messages = alerts()
    assert len(messages) == 1
    reload = f"medallion run --resume {run2} --profile aws"
    assert "silver.events" in messages[0] and "injected terminal fault in silver.events" in messages[0]
    assert reload in messages[0]
    record = json.loads(s3.get_object(Bucket="test-lake", Key=f"lake/_runs/_pipelines/{run2}/{run2}.json")["Body"].read())
    assert record["status"] == "failed" and record["failed"] == ["silver.events"]
    capsys.readouterr()
    assert cli(["runs", "--profile", "aws", "--project-dir", str(root)]) == 0
    listing = capsys.readouterr().out
    assert any(line.startswith(run1) and " ok " in line for line in listing.splitlines())
    assert any(line.startswith(run2) and " failed " in line for line in listing.splitlines())
    assert cli(["runs", run2, "--profile", "aws", "--project-dir", str(root)]) == 0
    detail = capsys.readouterr().out
    assert "silver.events" in detail and "not run" in detail and f"to reload: {reload}" in detail

    # 3. the alert's reload command, from the operator's machine (no Spark): only the failed spec
    #    and its downstream run, in the same run id; the tables end as a clean run leaves them
    assert cli(reload.split()[1:] + ["--project-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"reload of run {run2}: 2 spec(s) (silver.events, gold.daily)" in out
    reloads = [e for e in sfn.list_executions(stateMachineArn=schedule["Target"]["Arn"])["executions"]
               if e["name"].startswith(f"{run2}-reload-")]
    assert len(reloads) == 1
    before = len(worker.log)
    done = worker.play(sfn, reloads[0]["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert [(e, s) for e, s, rid in worker.log[before:]] == [
        ("start", "silver.events"), ("ok", "silver.events"), ("start", "gold.daily"), ("ok", "gold.daily")]
    assert {rid for _, _, rid in worker.log[before:]} == {run2}
    assert alerts() == []
    for table, rows in EXPECTED.items():
        assert _rows(root, table) == rows
    assert LocalLake(root / "lake").require("gold.daily").run_id == f"{run2}.gold.daily"
    assert cli(["runs", "--profile", "aws", "--project-dir", str(root)]) == 0
    listing = capsys.readouterr().out
    assert any(line.startswith(run2) and " ok " in line for line in listing.splitlines())


@pytest.mark.slow
def test_a_run_started_by_the_drive_lambda_runs_every_spec_under_its_id(deploy_project, account, spark, wheelhouse):
    """The deployed machine with exactly the input the Drive Lambda sends (infra/drive/ingest.py)."""
    from infra.drive.ingest import pipeline_input

    root = deploy_project()
    ws = Workspace.open(root, "aws", [])
    deploy(ws.project, ws.graph, dry_run=False, say=lambda _: None, aws=account, poll_seconds=0,
           template_path=root / "build" / "platform.json", wheelhouse=wheelhouse)
    sfn, s3 = account["stepfunctions"], account["s3"]
    machine = account["scheduler"].get_schedule(Name="dt-pipeline")["Target"]["Arn"]
    run_id = "20261201T063000000Z-drive1"
    started = sfn.start_execution(stateMachineArn=machine, name=f"drive-{run_id}", input=json.dumps(
        pipeline_input(run_id, "s3://test-lake-raw/drive/2026-12-01/_manifest.json", "s3://test-lake-raw/drive/latest")))
    worker = GlueWorker(root, s3)
    done = worker.play(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert sorted(spec for event, spec, rid in worker.log if event == "ok" and rid == run_id) == \
        ["bronze.events", "gold.daily", "silver.events"]
    _order_ok(worker.log, ws.graph, run_id)
    record = json.loads(s3.get_object(Bucket="test-lake", Key=f"lake/_runs/_pipelines/{run_id}/drive-{run_id}.json")
                        ["Body"].read())
    assert record["status"] == "ok" and record["run_id"] == run_id
