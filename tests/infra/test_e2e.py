"""End to end from the CLI: `medallion deploy --profile aws` twice against a moto server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from engine.run.workspace import Workspace
from tests.infra.test_moto import glue_wheel_names

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def moto_server():
    """A moto server on a free loopback port, stopped after the test."""
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a loaded machine: stop it for sure
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_deploy_twice_from_the_cli(moto_server, tmp_path, wheelhouse):
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDALLION_")}
    # this checkout's code, whichever checkout the venv was installed from
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update({"AWS_ENDPOINT_URL": moto_server, "AWS_REGION": "us-east-1", "MEDALLION_VPC_ID": vpc,
                "MEDALLION_DB_ROUTE_TABLE_IDS": rtb, "MEDALLION_DB_SUBNET_IDS": subnet,
                "MEDALLION_DB_SECURITY_GROUP_IDS": group,
                # moto's CloudFormation can create neither an RDS instance with its own parameter
                # group nor Cognito: those parts are asserted on the template (tests/infra/test_controls.py,
                # test_hosting.py)
                "MEDALLION_RDS_CREATE": "false", "MEDALLION_DASHBOARDS": "false"})
    command = [str(BIN / "medallion"), "deploy", "--profile", "aws", "--project-dir", str(ROOT),
               "--out", str(tmp_path / "platform.json"), "--wheelhouse", str(wheelhouse)]

    # 1 security configuration + 2 connections + 1 job; the order of the specs is the state machine's
    specs = len(Workspace.open(ROOT, "aws", []).graph.specs)
    resources = 1 + 2 + 1

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "stack medallion-platform: CREATE_COMPLETE" in first.stdout
    assert f"glue: {resources} created, 0 updated, 0 deleted, 0 unchanged" in first.stdout
    assert f"  create    state machine          medallion  ({specs} specs)" in first.stdout
    # the Drive ingestion starts runs when files change: no fixed daily schedule beside it
    assert "schedule: the Drive ingestion (cron(30 6 * * ? *)) starts pipeline runs when files change" in first.stdout
    assert "create    schedule" not in first.stdout

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "stack medallion-platform: no changes" in second.stdout
    assert "uploaded" not in second.stdout
    assert f"glue: 0 created, 0 updated, 0 deleted, {resources} unchanged" in second.stdout
    assert "  unchanged state machine          medallion" in second.stdout

    glue = boto3.client("glue", endpoint_url=moto_server, region_name="us-east-1")
    assert [j["Name"] for j in glue.get_jobs()["Jobs"]] == ["medallion"]
    # the job's dependencies: the wheels this deploy uploaded, installed from S3 only
    args = glue.get_job(JobName="medallion")["Job"]["DefaultArguments"]
    assert args["--python-modules-installer-option"] == "--no-index"
    assert sorted(u.rsplit("/", 1)[-1] for u in args["--additional-python-modules"].split(",")) == glue_wheel_names()
    assert f"wheels    {len(glue_wheel_names())} dependency wheels ready" in first.stdout
    assert (tmp_path / "wheels").is_dir() and list(tmp_path.glob("drive-lambda-*.zip"))  # beside --out, not in the repo
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server, region_name="us-east-1")
    machine = sfn.list_state_machines()["stateMachines"][0]
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"])
    # every run first loads the raw files into the RDS source (one job run), then the bronze fork reads it
    assert definition["States"]["build"]["Next"] == "source load"
    load = definition["States"]["source load · run"]["Branches"][0]["States"]["source load · start"]
    assert load["Parameters"]["Arguments"]["--task"] == "source-load"
    first_fork = definition["States"][definition["States"]["source load · run"]["Next"]]
    assert [b["StartAt"] for b in first_fork["Branches"]] == [
        "bronze.date_dim", "bronze.order_item_options", "bronze.order_items"]
    scheduler = boto3.client("scheduler", endpoint_url=moto_server, region_name="us-east-1")
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == []
