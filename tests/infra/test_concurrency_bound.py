"""One setting bounds the specs at once: the profile's ``threads:`` locally, and on AWS the
Glue job's MaxConcurrentRuns (the bound the state machine's Parallel branches run into)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import SpecError
from engine.run.workspace import Workspace
from infra.deployer import deploy
from infra.glue_plan import Environment, desired
from infra.target import target_for


def _set_threads(root: Path, value: str | None) -> None:
    config = root / "medallion.yaml"
    line = "    threads: 2   # Glue job runs at once (the job's MaxConcurrentRuns)\n"
    text = config.read_text()
    assert line in text
    config.write_text(text.replace(line, f"    threads: {value}\n" if value is not None else ""))


def _job(root: Path) -> dict:
    target = target_for(Workspace.open(root, "aws", []).project)
    [job] = [r for r in desired(target, Environment("arn:key", "arn:role")) if r.kind == "job"]
    return job.body


def test_the_profiles_threads_is_the_glue_jobs_max_concurrent_runs(deploy_project):
    root = deploy_project()
    _set_threads(root, "3")
    assert _job(root)["ExecutionProperty"] == {"MaxConcurrentRuns": 3}
    ws = Workspace.open(root, "aws", [])
    lines: list[str] = []
    outcome = deploy(ws.project, ws.graph, dry_run=True, say=lines.append)
    assert [c.resource.body["ExecutionProperty"] for c in outcome.changes if c.kind == "job"] == [
        {"MaxConcurrentRuns": 3}]
    assert any("at most 3 at once" in line for line in lines)
    # the state machine's starts retry on the bound that setting sets (over it, Glue refuses a start)
    start = outcome.state_machine["States"]
    assert "Glue.ConcurrentRunsExceededException" in str(start)


def test_threads_auto_is_four_job_runs_whatever_machine_deploys(deploy_project):
    root = deploy_project()
    _set_threads(root, None)  # not set: auto
    assert _job(root)["ExecutionProperty"] == {"MaxConcurrentRuns": 4}


def test_the_old_deploy_setting_says_where_it_went(deploy_project):
    root = deploy_project()
    config = root / "medallion.yaml"
    config.write_text(config.read_text().replace("      poll_seconds: 1\n", "      poll_seconds: 1\n"
                                                 "      max_concurrent_specs: 2\n"))
    with pytest.raises(SpecError, match="deploy.max_concurrent_specs is now the profile's threads:"):
        Workspace.open(root, "aws", []).project  # noqa: B018
