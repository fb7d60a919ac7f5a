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
