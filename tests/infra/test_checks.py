"""`medallion validate --profile aws`: what the orchestration needs of the specs, at file:line."""

from __future__ import annotations

from engine.cli import main


def _validate(root, capsys):
    code = main(["validate", "--profile", "aws", "--project-dir", str(root)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _append(path, text):
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_valid_project_reports_the_pipeline(deploy_project, capsys):
    code, out, _ = _validate(deploy_project(), capsys)
    assert code == 0
    assert "orchestration ok: 3 Glue job runs per pipeline run, schedule cron(0 7 * * ? *)" in out


def test_schedule_on_a_downstream_spec(deploy_project, capsys):
    root = deploy_project()
    _append(root / "pipelines" / "silver_events.yaml", "schedule: cron(0 8 * * ? *)\n")
    code, _, err = _validate(root, capsys)
    assert code == 2
    assert ("error: pipelines/silver_events.yaml:6: silver.events has a schedule but reads bronze.events; "
            "only specs with no upstream spec are scheduled") in err


def test_cron_aws_would_reject(deploy_project, capsys):
    code, _, err = _validate(deploy_project(schedule="cron(0 7 * * * *)"), capsys)
    assert code == 2
    assert "pipelines/bronze_events.yaml:7:" in err
    assert "exactly one of day-of-month and day-of-week must be '?'" in err


def test_two_roots_with_different_schedules(deploy_project, capsys):
    root = deploy_project()
    (root / "pipelines" / "bronze_more.yaml").write_text(
        "name: bronze.more\nsteps:\n  - type: read\n    format: csv\n    path: ${var:raw_dir}/events.csv\n"
        "    columns: {id: string, amount: string}\nschedule: cron(0 9 * * ? *)\n", encoding="utf-8")
    code, _, err = _validate(root, capsys)
    assert code == 2
    assert ("error: pipelines/bronze_more.yaml:7: bronze.more is scheduled 'cron(0 9 * * ? *)' but bronze.events "
            "'cron(0 7 * * ? *)'; one schedule starts the whole pipeline") in err


def test_cycle(deploy_project, capsys):
    root = deploy_project()
    bronze = root / "pipelines" / "bronze_events.yaml"
    bronze.write_text(bronze.read_text().replace("steps:", "inputs: {back: gold.daily}\nsteps:"), encoding="utf-8")
    code, _, err = _validate(root, capsys)
    assert code == 2
    assert "cycle" in err and "bronze.events" in err and "gold.daily" in err


def test_retry_policy_longer_than_the_job_timeout(deploy_project, capsys):
    root = deploy_project()
    _append(root / "pipelines" / "gold_daily.yaml", "retry: {attempts: 20, backoff_seconds: 600, max_delay_seconds: 900}\n")
    code, _, err = _validate(root, capsys)
    assert code == 2
    # waits: 600, 900 x 18 (capped) = 16,800 s > 120 min = 7,200 s
    assert ("error: pipelines/gold_daily.yaml:8: gold.daily's retry policy can wait 16800 s between its 20 "
            "attempts, longer than the Glue job timeout of 120 min (7200 s)") in err
