"""Create or update the platform stack through a change set: show, execute, wait, explain.

A change set lets the deploy print exactly what CloudFormation will add, modify or replace
before it happens. An unchanged template is detected before any change set is made, so a
second deploy of the same project changes nothing; CloudFormation's own "no changes" answer is
treated the same way. A failed stack is reported with the resources that failed and why.

Template parameters are state the deploy sets after the stack exists (the dashboards' image
tag, infra/image_build.py), not settings: an update keeps each one's current value
(``UsePreviousValue``), and :func:`update_parameters` changes only them, on the stack's own
template.

CloudFormation takes a template body of at most 51,200 bytes inline; a larger one must be read
from S3 (``TemplateURL``). ``deploy_template`` stages such a template in the artefacts bucket
under a content-addressed key; on the very first deploy that bucket does not exist yet, so a
bootstrap pass creates just the bucket, its policy and the key (the same definitions the full
template has, so the full update leaves them as they are).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import ClientError

from engine.errors import RunError
from infra.target import Target

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


def deploy_stack(cf: Any, name: str, body: str, say: Callable[[str], None], *, template_url: str | None = None,
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
    kept = _kept_parameters(cf, name, json.loads(body)) if kind == "UPDATE" else []
    source = {"TemplateURL": template_url} if template_url else {"TemplateBody": body}
    return _change(cf, name, kind, {**source, **({"Parameters": kept} if kept else {})}, say,
                   poll_seconds, timeout_seconds)


def _current_parameters(cf: Any, name: str) -> dict[str, str]:
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def _kept_parameters(cf: Any, name: str, template: dict[str, Any]) -> list[dict[str, Any]]:
    """``UsePreviousValue`` for every parameter the new template declares and the stack already has."""
    current = _current_parameters(cf, name)
    return [{"ParameterKey": k, "UsePreviousValue": True} for k in sorted(template.get("Parameters", {}))
            if k in current]


def update_parameters(cf: Any, name: str, values: dict[str, str], say: Callable[[str], None], *,
                      poll_seconds: float = 10, timeout_seconds: float = 3600) -> str:
    """Set template parameters of stack ``name`` (its template unchanged, other parameters kept);
    returns updated or unchanged (every value already set)."""
    current = _current_parameters(cf, name)
    missing = sorted(set(values) - set(current))
    if missing:
        raise RunError(f"stack {name} has no parameter {', '.join(missing)}; deploy the current template first")
    if all(current[k] == v for k, v in values.items()):
        return "unchanged"
    parameters = [{"ParameterKey": k, "ParameterValue": values[k]} if k in values else
                  {"ParameterKey": k, "UsePreviousValue": True} for k in sorted(current)]
    return _change(cf, name, "UPDATE", {"UsePreviousTemplate": True, "Parameters": parameters}, say,
                   poll_seconds, timeout_seconds)


def _change(cf: Any, name: str, kind: str, source: dict[str, Any], say: Callable[[str], None],
            poll_seconds: float, timeout_seconds: float) -> str:
    """Make a change set of ``kind`` from ``source`` (template and parameters), show it, execute, wait."""
    change_set = "medallion-" + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
    created = cf.create_change_set(StackName=name, ChangeSetName=change_set, ChangeSetType=kind,
                                   Capabilities=CAPABILITIES, Description="medallion deploy", **source)
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


TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation accepts as TemplateBody (more only by TemplateURL)
BOOTSTRAP = ("ArtefactsBucket", "ArtefactsBucketPolicy", "DataKeyAlias")  # and what they refer to


def template_text(template: dict[str, Any]) -> str:
    """The body sent to CloudFormation: compact, keys sorted (equal templates, equal bytes)."""
    return json.dumps(template, sort_keys=True, separators=(",", ":"))


def _refers_to(value: Any) -> set[str]:
    """Logical ids a fragment refers to: Ref, Fn::GetAtt, ${Name} in Fn::Sub, DependsOn."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([A-Za-z0-9.]+)\}", text)}
            elif key == "DependsOn":
                found |= set(inner if isinstance(inner, list) else [inner])
            found |= _refers_to(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refers_to(inner)
    return found


def bootstrap_template(template: dict[str, Any]) -> dict[str, Any]:
    """The artefacts bucket, its policy and the key alias, with everything they refer to, as in ``template``."""
    resources = template["Resources"]
    keep: set[str] = set()
    todo = [r for r in BOOTSTRAP if r in resources]
    while todo:
        logical = todo.pop()
        if logical in keep:
            continue
        keep.add(logical)
        todo.extend(r for r in _refers_to(resources[logical]) if r in resources)
    return {"AWSTemplateFormatVersion": template["AWSTemplateFormatVersion"],
            "Description": template["Description"], "Resources": {k: resources[k] for k in sorted(keep)}}


def stage_template(s3: Any, target: Target, body: str, say: Callable[[str], None]) -> str | None:
    """Upload the template body (content-addressed); its HTTPS URL, or None when the bucket is not there yet."""
    bucket = target.bucket("artefacts")
    digest = hashlib.sha256(body.encode()).hexdigest()
    key = target.artefact_key("platform.template.json", digest)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return None
        raise
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json",
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=f"alias/{target.prefix}", BucketKeyEnabled=True,
                  Metadata={"sha256": digest})
    say(f"staged    template s3://{bucket}/{key} ({len(body.encode()):,} bytes: passed by URL)")
    return f"https://{bucket}.s3.{target.config.region}.amazonaws.com/{key}"


def deploy_template(aws: dict[str, Any], target: Target, template: dict[str, Any], say: Callable[[str], None], *,
                    poll_seconds: float = 10) -> str:
    """``deploy_stack`` with the body inline when it fits, else staged in S3 (bootstrapping the bucket once)."""
    cf, name, body = aws["cloudformation"], target.config.stack_name, template_text(template)
    if len(body.encode()) <= TEMPLATE_BODY_LIMIT:
        return deploy_stack(cf, name, body, say, poll_seconds=poll_seconds)
    url, first = stage_template(aws["s3"], target, body, say), None
    if url is None:
        say(f"stack {name}: first deploy of the artefacts bucket and key only (the template is passed through it)")
        first = deploy_stack(cf, name, template_text(bootstrap_template(template)), say, poll_seconds=poll_seconds)
        url = stage_template(aws["s3"], target, body, say)
        if url is None:
            raise RunError(f"the stack made no bucket {target.bucket('artefacts')}; check the stack's events")
    final = deploy_stack(cf, name, body, say, template_url=url, poll_seconds=poll_seconds)
    return "created" if first == "created" else final
