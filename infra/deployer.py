"""One deploy, start to end: template, stack, artefacts, secrets, Glue plan and its application.

Order matters: the stack first (it makes the key, buckets and role the rest need), then the
artefacts (the job points at them), then the Glue resources. Every step is idempotent, so a
deploy that failed half-way is finished by running it again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from infra.artefacts import artefacts, build_digest, python_modules, upload
from infra.glue_apply import apply, read_current
from infra.glue_plan import Change, Environment, desired, diff
from infra.secrets import ensure_connection_secrets
from infra.template_drive import deploy_platform
from infra.target import Target, example_values, target_for
from infra.template import build_template, write_template
from infra.template_hosting import require_hosting_settings
from engine.errors import RunError, UsageError
from engine.plan.graph import Graph
from engine.spec.project import Project

DEFAULT_TEMPLATE = Path("build/deploy/platform.template.json")


@dataclass
class Outcome:
    """What a deploy did (for the CLI's last line and for tests)."""

    template: Path
    stack: str = "not deployed (dry run)"
    uploaded: int = 0
    changes: list[Change] = field(default_factory=list)
    missing_secrets: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Glue changes by action."""
        out = {a: 0 for a in ("create", "update", "delete", "unchanged")}
        for change in self.changes:
            out[change.action] += 1
        return out


def clients(region: str) -> dict[str, Any]:
    """boto3 clients of the deploy; ``AWS_ENDPOINT_URL`` (e.g. a moto server) is honoured by boto3.

    Path-style S3 addressing when an endpoint is given: bucket host names cannot resolve there.
    """
    import boto3
    from botocore.config import Config

    s3_style = {"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {}
    config = Config(retries={"max_attempts": 8, "mode": "standard"}, s3=s3_style)
    session = boto3.session.Session(region_name=region)
    return {name: session.client(name, config=config)
            for name in ("cloudformation", "s3", "glue", "kms", "iam", "secretsmanager")}


def key_arn_of(kms: Any, alias: str) -> str:
    """The ARN of the key behind ``alias`` (from the alias list: no key policy is read)."""
    for page in kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"] == alias and entry.get("TargetKeyId"):
                return entry["AliasArn"].replace(alias, "key/" + entry["TargetKeyId"])
    raise RunError(f"the stack made no KMS alias {alias}; check the stack's events")


def _plan(target: Target, graph: Graph, env: Environment, current: dict) -> list[Change]:
    return diff(desired(target, graph, env), current)


def deploy(project: Project, graph: Graph, *, dry_run: bool, say: Callable[[str], None],
           template_path: Path | None = None, aws: dict[str, Any] | None = None,
           poll_seconds: float = 10) -> Outcome:
    """Deploy ``project`` (or, with ``dry_run``, write the template and print the plan only)."""
    target = target_for(project)
    path = project.path(template_path or DEFAULT_TEMPLATE)
    template = build_template(target)
    write_template(template, path)
    outcome = Outcome(path)
    say(f"template  {path}")
    items = artefacts(target)
    modules = python_modules()
    build = build_digest(items)
    if dry_run:
        env = Environment(f"arn:aws:kms:{target.config.region}:<account>:key/<from stack {target.config.stack_name}>",
                          f"arn:aws:iam::<account>:role/{target.job_role_name}", build, modules)
        outcome.changes = _plan(target, graph, env, {})
        say("glue plan (dry run: AWS not called; compared with an account that has none of it):")
        for change in outcome.changes:
            say(f"  {change.line()}")
        return outcome
    examples = example_values(target.config)
    if examples:
        raise UsageError(f"deploy settings still hold medallion.yaml's example ids ({', '.join(examples)}); "
                         "export MEDALLION_VPC_ID, MEDALLION_DB_ROUTE_TABLE_IDS, MEDALLION_DB_SUBNET_IDS and "
                         "MEDALLION_DB_SECURITY_GROUP_IDS (docs/deploy.md)")
    require_hosting_settings(target)  # the dashboards' certificate, domain and subnets (template_hosting.py)
    aws = aws or clients(target.config.region)
    outcome.stack = deploy_platform(aws, target, template, say, poll_seconds=poll_seconds)  # + Drive code
    key_arn = key_arn_of(aws["kms"], f"alias/{target.prefix}")
    role_arn = aws["iam"].get_role(RoleName=target.job_role_name)["Role"]["Arn"]
    outcome.uploaded = upload(aws["s3"], target, items, key_arn, say)
    outcome.missing_secrets = ensure_connection_secrets(aws["secretsmanager"], target, key_arn, say)
    wanted = desired(target, graph, Environment(key_arn, role_arn, build, modules))
    connection_names = [r.name for r in wanted if r.kind == "connection"]
    current = read_current(aws["glue"], target, connection_names)
    outcome.changes = diff(wanted, current)
    for change in outcome.changes:
        if change.action == "unchanged":
            say(f"  {change.line()}")
    apply(aws["glue"], outcome.changes, current, lambda line: say(f"  {line}"))
    counts = outcome.counts()
    say(f"glue: {counts['create']} created, {counts['update']} updated, {counts['delete']} deleted, "
        f"{counts['unchanged']} unchanged")
    return outcome
