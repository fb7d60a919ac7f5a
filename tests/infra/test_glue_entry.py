"""The Glue entry point run locally with Glue-style arguments and the local profile."""

from __future__ import annotations

import pytest

from engine.run.glue_entry import main, parse_args, record_id, wait_for_upstream
from engine.errors import RunError
from engine.run.record import RunRecord, RunStore, SpecRecord


def _glue_args(root, spec, *extra):
    # what Glue passes: its own ids, the trigger's --spec, the job's default arguments
    return ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", "dt", "--job-bookmark-option",
            "job-bookmark-disable", "--spec", spec, "--profile", "local", "--project-dir", str(root),
            "--vars", '{"raw_dir": "raw"}', *extra]


def test_runs_one_spec_then_checkpoints_then_waits_for_upstream(deploy_project, spark, capsys):
    root = deploy_project()
    assert main(_glue_args(root, "bronze.events", "--WORKFLOW_RUN_ID", "wr_1")) == 0
    store = RunStore(root / "lake" / "_runs")
    record = store.load("wr_1.bronze.events")
    assert record.status == "ok" and record.selection == ["bronze.events"]
    assert record.spec("bronze.events").rows_out == 2

    # a Glue retry of the same spec in the same workflow run does nothing
    assert main(_glue_args(root, "bronze.events", "--WORKFLOW_RUN_ID", "wr_1")) == 0
    assert "bronze.events already committed in run wr_1; nothing to do" in capsys.readouterr().out

    # its child runs: the upstream spec committed in this workflow run
    assert main(_glue_args(root, "silver.events", "--WORKFLOW_RUN_ID", "wr_1")) == 0
    assert store.load("wr_1.silver.events").spec("silver.events").rows_out == 2


def test_unknown_spec_is_a_usage_error(deploy_project, capsys):
    root = deploy_project()
    assert main(_glue_args(root, "silver.event")) == 2
    assert "--spec silver.event: no such spec (did you mean 'silver.events'?)" in capsys.readouterr().err


def test_parse_ignores_glue_arguments():
    args = parse_args(["--spec", "a.b", "--JOB_RUN_ID", "jr", "--TempDir", "s3://x/", "--enable-metrics", "true"])
    assert (args.spec, args.profile, args.JOB_RUN_ID, args.WORKFLOW_RUN_ID) == ("a.b", "aws", "jr", None)


def _store_with(tmp_path, statuses):
    store = RunStore(tmp_path)
    for name, status in statuses.items():
        store.save(RunRecord(run_id=record_id("wr", name), project="p", profile="aws", selection=[name],
                             specs=[SpecRecord(spec=name, layer=name.split(".")[0], status=status)]))
    return store


def test_wait_returns_when_upstream_committed(tmp_path):
    store = _store_with(tmp_path, {"bronze.a": "ok", "bronze.b": "ok"})
    slept = []
    wait_for_upstream(store, "wr", ["bronze.a", "bronze.b"], timeout=60, poll=5, sleep=slept.append,
                      clock=lambda: 0.0, say=lambda _: None)
    assert slept == []


def test_wait_polls_until_upstream_appears(tmp_path):
    store = _store_with(tmp_path, {"bronze.a": "ok"})
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        _store_with(tmp_path, {"bronze.b": "ok"})  # the other spec's run commits meanwhile

    wait_for_upstream(store, "wr", ["bronze.a", "bronze.b"], timeout=60, poll=5, sleep=sleep,
                      clock=lambda: 0.0, say=lambda _: None)
    assert slept == [5]


def test_wait_fails_on_failed_upstream_and_on_timeout(tmp_path):
    store = _store_with(tmp_path, {"bronze.a": "failed"})
    with pytest.raises(RunError, match="upstream bronze.a failed in run wr; not running"):
        wait_for_upstream(store, "wr", ["bronze.a"], timeout=60, poll=5, sleep=lambda _: None,
                          clock=lambda: 0.0, say=lambda _: None)
    ticks = iter([0.0, 30.0, 61.0])
    with pytest.raises(RunError, match="gave up after 60 s waiting for bronze.z in run wr"):
        wait_for_upstream(store, "wr", ["bronze.z"], timeout=60, poll=30, sleep=lambda _: None,
                          clock=lambda: next(ticks), say=lambda _: None)
