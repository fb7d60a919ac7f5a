"""Create or update the platform stack through a change set: show, execute, wait, explain.

A change set lets the deploy print exactly what CloudFormation will add, modify or replace
before it happens. An unchanged template is detected before any change set is made, so a
second deploy of the same project changes nothing; CloudFormation's own "no changes" answer is
treated the same way. A failed stack is reported with the resources that failed and why.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import ClientError

from engine.errors import RunError

NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# named IAM roles; AUTO_EXPAND for the Secrets Manager transform (the source database's hosted rotation)
CAPABILITIES = ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
STUCK = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED")


def stack_status(cf: Any, name: str) -> str | None:
    """The stack's status, or None when it does not exist (or was deleted)."""
    try:
        stacks = cf.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    status = stacks[0]["StackStatus"] if stacks else None
    return None if status == "DELETE_COMPLETE" else status


def _as_dict(body: Any) -> Any:
    return json.loads(body) if isinstance(body, str) else json.loads(json.dumps(body))


def _unchanged(cf: Any, name: str, body: str) -> bool:
    current = cf.get_template(StackName=name, TemplateStage="Original").get("TemplateBody")
    try:
        return _as_dict(current) == json.loads(body)
    except (TypeError, ValueError):
        return False


def _wait(describe: Callable[[], dict[str, Any]], key: str, poll: float, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = describe()
        if not str(found.get(key, "")).endswith("_IN_PROGRESS") and found.get(key) != "CREATE_PENDING":
            return found
        if time.monotonic() > deadline:
            raise RunError(f"gave up waiting after {timeout:.0f} s (status {found.get(key)})")
        time.sleep(poll)


def change_lines(description: dict[str, Any]) -> list[str]:
    """One line per resource change: action, type, logical id, and whether it is replaced."""
    lines = []
    for change in description.get("Changes", []):
        rc = change.get("ResourceChange", {})
        replace = rc.get("Replacement")
        note = "  (replacement)" if replace == "True" else "  (may be replaced)" if replace == "Conditional" else ""
        lines.append(f"  {rc.get('Action', '?'):<7} {rc.get('ResourceType', '?'):<40} "
                     f"{rc.get('LogicalResourceId', '?')}{note}")
    return lines


def _failure_reasons(cf: Any, name: str) -> list[str]:
    events = cf.describe_stack_events(StackName=name).get("StackEvents", [])
    return [f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}" for e in events
            if str(e.get("ResourceStatus", "")).endswith("_FAILED")][:10]


def deploy_stack(cf: Any, name: str, body: str, say: Callable[[str], None], *,
                 poll_seconds: float = 10, timeout_seconds: float = 3600) -> str:
    """Create or update stack ``name`` with ``body``; returns created, updated or unchanged.

    Raises RunError naming the failed resources when CloudFormation rolls back.
    """
    status = stack_status(cf, name)
    if status in STUCK:
        raise RunError(f"stack {name} is {status}; delete it (aws cloudformation delete-stack --stack-name "
                       f"{name}) and deploy again")
    if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise RunError(f"stack {name} is busy ({status}); wait for it to finish and deploy again")
    if status and status != "REVIEW_IN_PROGRESS" and _unchanged(cf, name, body):
        say(f"stack {name}: no changes")
        return "unchanged"
    kind = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    change_set = "medallion-" + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    created = cf.create_change_set(StackName=name, ChangeSetName=change_set, TemplateBody=body,
                                   ChangeSetType=kind, Capabilities=CAPABILITIES,
                                   Description="medallion deploy")
    described = _wait(lambda: cf.describe_change_set(ChangeSetName=created["Id"], StackName=name),
                      "Status", poll_seconds, timeout_seconds)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if any(text in reason for text in NO_CHANGES):
            cf.delete_change_set(ChangeSetName=created["Id"], StackName=name)
            say(f"stack {name}: no changes")
            return "unchanged"
        raise RunError(f"stack {name}: change set {change_set} failed: {reason}")
    say(f"stack {name}: change set {change_set} ({kind.lower()}):")
    for line in change_lines(described):
        say(line)
    cf.execute_change_set(ChangeSetName=created["Id"], StackName=name)
    final = _wait(lambda: cf.describe_stacks(StackName=name)["Stacks"][0], "StackStatus", poll_seconds,
                  timeout_seconds)["StackStatus"]
    if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        reasons = "; ".join(_failure_reasons(cf, name)) or "no failure events"
        raise RunError(f"stack {name} ended {final}: {reasons}")
    say(f"stack {name}: {final}")
    return "created" if kind == "CREATE" else "updated"
