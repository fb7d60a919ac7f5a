"""AWS cron syntax, checked at spec load: `medallion validate` reports file:line."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.spec.cron import check_cron


@pytest.mark.parametrize("expr", [
    "cron(0 7 * * ? *)", "cron(15 10 ? * MON-FRI *)", "cron(0/15 * * * ? *)", "cron(0 8 1 * ? *)",
    "cron(0 18 ? * 6L 2026-2030)", "cron(0 9 ? * 2#1 *)", "cron(0 0 L * ? *)", "cron(5,35 14 * JAN,JUL ? *)",
])
def test_valid_expressions(expr):
    assert check_cron(expr) == expr


@pytest.mark.parametrize("expr, fragment", [
    ("0 7 * * ? *", "not an AWS cron expression"),
    ("cron(0 7 * * *)", "has 5 field(s)"),
    ("cron(0 7 * * * *)", "exactly one of day-of-month and day-of-week"),
    ("cron(0 7 ? * ? *)", "exactly one of day-of-month and day-of-week"),
    ("cron(60 7 * * ? *)", "minutes 60 is out of range 0-59"),
    ("cron(0 24 * * ? *)", "hours 24 is out of range 0-23"),
    ("cron(0 7 * FOO ? *)", "month 'FOO' is not a number"),
    ("cron(0 7 ? * 8 *)", "day-of-week 8 is out of range 1-7"),
    ("cron(0 ? * * ? *)", "'?' is only allowed"),
    ("cron(0/0 7 * * ? *)", "increment after / must be a positive number"),
    ("cron(0 7 * * ? 1969)", "year 1969 is out of range 1970-2199"),
])
def test_invalid_expressions(expr, fragment):
    with pytest.raises(ValueError, match=None) as info:
        check_cron(expr)
    assert fragment in str(info.value)


def test_validate_reports_bad_schedule_at_its_line(deploy_project, capsys):
    root = deploy_project(schedule="cron(0 7 * * * *)")
    code = main(["validate", "--project-dir", str(root)])
    err = capsys.readouterr().err
    assert code == 2
    # schedule: is line 7 of bronze_events.yaml (name, steps, type, format, path, columns, schedule)
    assert err.startswith("error: pipelines/bronze_events.yaml:7: schedule: 'cron(0 7 * * * *)': exactly one of")


def test_validate_accepts_good_schedule(deploy_project, capsys):
    root = deploy_project()
    assert main(["validate", "--project-dir", str(root)]) == 0
    assert "3 spec(s) valid" in capsys.readouterr().out
