"""The Glue entry point run locally with Glue-style arguments and the local profile."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from engine.run.glue_entry import main, parse_args, write_outcome
from engine.run.record import RunStore


def _glue_args(root, spec, *extra):
    # what Glue passes: its own ids, the state machine's --spec/--run-id, the job's default arguments
    return ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", "dt", "--job-bookmark-option",
            "job-bookmark-disable", "--spec", spec, "--profile", "local", "--project-dir", str(root),
            "--vars", '{"raw_dir": "raw"}', *extra]


def test_runs_one_spec_in_the_pipeline_run_then_checkpoints(deploy_project, spark, capsys):
    root = deploy_project()
    assert main(_glue_args(root, "bronze.events", "--run-id", "run_1")) == 0
    store = RunStore(root / "lake" / "_runs")
    record = store.load("run_1.bronze.events")
    assert record.status == "ok" and record.selection == ["bronze.events"]
    assert record.spec("bronze.events").rows_out == 2

    # a second job run of the same spec in the same pipeline run does nothing
    assert main(_glue_args(root, "bronze.events", "--run-id", "run_1")) == 0
    assert "bronze.events already committed in run run_1; nothing to do" in capsys.readouterr().out


def test_unknown_spec_is_a_usage_error(deploy_project, capsys):
    root = deploy_project()
    assert main(_glue_args(root, "silver.event")) == 2
    assert "--spec silver.event: no such spec (did you mean 'silver.events'?)" in capsys.readouterr().err


def test_parse_ignores_glue_arguments():
    args = parse_args(["--spec", "a.b", "--run-id", "r", "--JOB_RUN_ID", "jr", "--TempDir", "s3://x/",
                       "--enable-metrics", "true"])
    assert (args.spec, args.profile, args.JOB_RUN_ID, args.run_id, args.outcomes) == ("a.b", "aws", "jr", "r", None)


def test_outcome_says_terminal_in_one_ascii_metadata_line(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake-b")
        key = write_outcome("s3://lake-b/lake/_runs/_outcomes", "r1", "silver.x", "jr_9", status="failed",
                            terminal=True, error="bad row\n  amount ≥ 0 failed", s3=s3)
        assert key == "lake/_runs/_outcomes/r1/silver.x/jr_9.json"
        head = s3.head_object(Bucket="lake-b", Key=key)
        assert head["Metadata"] == {"status": "failed", "terminal": "true",
                                    "error": "silver.x: bad row amount \\u2265 0 failed"}
        body = json.loads(s3.get_object(Bucket="lake-b", Key=key)["Body"].read())
        assert body["error"] == "bad row\n  amount ≥ 0 failed" and body["terminal"] is True


def test_env_gives_the_job_run_the_deploying_machines_values(deploy_project, spark, monkeypatch):
    # a Glue job run has no environment of its own: --env carries what the profile's ${env:} read
    root = deploy_project()
    config = root / "medallion.yaml"
    config.write_text(config.read_text().replace('root: "${var:lake_dir}"', 'root: "${env:DT_LAKE_ROOT:-lake}"', 1))
    monkeypatch.delenv("DT_LAKE_ROOT", raising=False)
    try:
        assert main(_glue_args(root, "bronze.events", "--run-id", "run_e", "--env", '{"DT_LAKE_ROOT": "elsewhere"}')) == 0
    finally:
        monkeypatch.delenv("DT_LAKE_ROOT", raising=False)  # _apply_env set it in this process
    assert RunStore(root / "elsewhere" / "_runs").load("run_e.bronze.events").status == "ok"
    assert not (root / "lake" / "_runs").exists()  # (the DuckDB warehouse still lives under lake/)


def test_job_environment_is_the_profiles_env_references_only():
    from pathlib import Path

    from engine.spec.project import load_project
    from infra.glue_plan import Environment, desired, job_environment
    from infra.target import target_for

    root = Path(__file__).resolve().parents[2]
    target = target_for(load_project(root, "aws", env={}))
    environ = {"MEDALLION_RDS_HOST": "src.example", "MEDALLION_BUCKET": "acme-lake", "MEDALLION_VPC_ID": "vpc-1",
               "HOME": "/root", "MEDALLION_SECRET_X": "never"}
    # by hand from medallion.yaml: RDS host and bucket are read by the aws profile; the VPC id only
    # by its deploy: section; HOME and MEDALLION_SECRET_X by nothing
    assert job_environment(target, environ) == {"MEDALLION_BUCKET": "acme-lake", "MEDALLION_RDS_HOST": "src.example"}
    [job] = [r for r in desired(target, Environment("k", "r", job_env={"MEDALLION_RDS_HOST": "src.example"}))
             if r.kind == "job"]
    assert json.loads(job.body["DefaultArguments"]["--env"]) == {"MEDALLION_RDS_HOST": "src.example"}
