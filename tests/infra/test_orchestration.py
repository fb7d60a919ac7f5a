"""The state machine generated from the spec graph: shape, retries, stability of its names."""

from __future__ import annotations

from pathlib import Path

from infra.orchestration import JOB_RUN_FAILED, SPEC_FAILED, Fork, MachineSettings, definition, plan_blocks
from engine.run.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def _states(machine):
    """Every state of a definition, Parallel branches included: name -> state."""
    out = {}
    for name, state in machine["States"].items():
        assert name not in out, f"state name {name} used twice"
        out[name] = state
        for branch in state.get("Branches", []):
            inner = _states(branch)
            assert not set(inner) & set(out), set(inner) & set(out)
            out.update(inner)
    return out


def _settings(ws, archive="s3://a/dt/artefacts/0000/project.zip"):
    return MachineSettings(job_name="dt", topic_arn="arn:aws:sns:us-east-1:1:dt-alerts", runs_bucket="test-lake",
                           runs_prefix="lake/_runs", profile="aws", job_arguments={"--project-archive": archive},
                           poll_seconds=30, default_retry=ws.project.default_retry)


def test_restaurant_graph_runs_in_dependency_order_with_branches():
    graph = Workspace.open(ROOT, "aws", []).graph
    # worked out by hand from `medallion plan`: each spec starts when all its inputs are done;
    # only gold.loyalty_customer_classes (customer_loyalty AND customer_lifetime_value) waits for
    # the whole mart group, and silver.order_item_options for date_dim's branch
    assert plan_blocks(graph) == (
        Fork((("bronze.date_dim",), ("bronze.order_item_options",), ("bronze.order_items", "silver.order_items"))),
        "silver.order_item_options", "silver.order_lines", "silver.orders",
        Fork((("silver.calendar",), ("gold.as_of",))),
        "gold.order_facts",
        Fork((("gold.clv_cohort_curves",),
              ("gold.customer_lifetime_value", Fork((("gold.churn_indicators",), ("gold.customer_segments",)))),
              ("gold.customer_loyalty", "gold.loyalty_enrollment_lift"),
              ("gold.location_performance",), ("gold.loyalty_impact",),
              ("gold.price_change_events", "gold.pricing_effectiveness"),
              ("gold.sales_trends",))),
        "gold.loyalty_customer_classes")


def test_one_glue_job_run_per_spec_and_names_aws_accepts():
    ws = Workspace.open(ROOT, "aws", [])
    states = _states(definition(ws.graph, _settings(ws)))
    starts = [n for n, s in states.items() if s.get("Resource") == "arn:aws:states:::glue:startJobRun"]
    assert sorted(starts) == sorted(f"{n} · start" for n in ws.graph.specs) and len(starts) == 22
    for name in starts:
        args = states[name]["Parameters"]["Arguments"]
        assert args["--spec"] == name.removesuffix(" · start") and args["--run-id.$"] == "$.run_id"
    assert all(len(n) <= 80 for n in states)  # the Step Functions limit


def test_retry_follows_the_policy_and_terminal_errors_are_not_retried(deploy_project):
    root = deploy_project()
    silver = root / "pipelines" / "silver_events.yaml"
    silver.write_text(silver.read_text() + "retry: {attempts: 5, backoff_seconds: 2.5}\n", encoding="utf-8")
    ws = Workspace.open(root, "aws", [])
    states = _states(definition(ws.graph, _settings(ws)))
    # medallion.yaml's default (attempts 3, 1 s, cap 2 s) for bronze; silver's own policy
    assert states["bronze.events · run"]["Retry"] == [{
        "ErrorEquals": [JOB_RUN_FAILED], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 2.0,
        "MaxDelaySeconds": 2, "JitterStrategy": "FULL"}]
    assert states["silver.events · run"]["Retry"] == [{
        "ErrorEquals": [JOB_RUN_FAILED], "MaxAttempts": 4, "IntervalSeconds": 3, "BackoffRate": 2.0,
        "MaxDelaySeconds": 300, "JitterStrategy": "FULL"}]
    assert states["silver.events · terminal"] == {"Type": "Fail", "Error": SPEC_FAILED, "CausePath": "$.outcome.error"}
    assert states["silver.events · run"]["Catch"][0]["Next"] == "silver.events · failed"


def test_changing_one_spec_changes_only_its_states(deploy_project):
    root = deploy_project()
    ws = Workspace.open(root, "aws", [])
    before = _states(definition(ws.graph, _settings(ws)))
    assert before == _states(definition(ws.graph, _settings(ws)))  # a pure function of the specs
    silver = root / "pipelines" / "silver_events.yaml"
    silver.write_text(silver.read_text() + "retry: {attempts: 4, backoff_seconds: 10}\n", encoding="utf-8")
    ws = Workspace.open(root, "aws", [])
    after = _states(definition(ws.graph, _settings(ws, archive="s3://a/dt/artefacts/1111/project.zip")))
    assert set(after) == set(before)
    changed = {n for n in after if after[n] != before[n]}
    # the new spec text is a new build (one state names it) and silver's retry changed
    assert changed == {"build", "silver.events · run"}


def test_every_task_outside_a_spec_catches_and_a_good_run_that_cannot_record_alerts():
    """No execution can fail silently: the record and alert tasks retry and catch (a spec's own
    states catch into its failure path, tested above)."""
    ws = Workspace.open(ROOT, "aws", [])
    states = definition(ws.graph, _settings(ws))["States"]
    for name in ("pipeline ok · record", "pipeline failed", "pipeline record · record"):
        assert states[name]["Retry"][0]["MaxAttempts"] == 3, name
        assert states[name]["Catch"][0]["ErrorEquals"] == ["States.ALL"], name
    assert states["pipeline ok · record"]["Catch"][0]["Next"] == "pipeline ok · not recorded"
    assert states["pipeline ok · not recorded"]["Next"] == "pipeline failed"  # -> the one alert
    assert states["pipeline record · record"]["Catch"][0]["Next"] == "failed"  # alerted already
    # a run id without "only" (the Drive Lambda's input) is a new run, not a reload
    begin = states["begin"]["Choices"]
    assert begin[0]["Next"] == "reload" and {c["Variable"] for c in begin[0]["And"]} == {"$.run_id", "$.only"}
    assert begin[1]["Next"] == "new named run"
