"""One deploy, start to end: checks, template, wheels, stack, artefacts, secrets, Glue, state machine.

Order matters. Everything that can be refused is decided before AWS is touched: the specs and
the orchestration checks, the template (built, with its rotation check), the settings, and the
artefacts themselves — engine wheel, project archive, job script, the dependency wheels and the
Drive function's zip, downloaded or built on this machine (``infra/wheels.py``; cached beside
the template, ``build/deploy/wheels/`` by default, or read from an operator's ``--wheelhouse``).
A wheel that cannot be had stops the deploy there. Then the stack (it makes the key,
buckets and roles the rest need), the artefacts under new content-addressed keys, the Glue job,
and LAST the state machine, whose definition names the build it runs: until that one update,
the previous build and orchestration stay in force. Every step is idempotent, so a deploy that
failed half-way is finished by running it again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from infra.artefacts import artefacts, build_digest, dependency_uris, upload
from infra.checks import check_for_aws
from infra.glue_apply import apply, read_current
from infra.glue_plan import Change, Environment, desired, diff, job_environment
from infra.orchestration import SOURCE_LOAD, definition, plan_blocks
from infra.orchestration_apply import apply_schedule, apply_state_machine, has_source_load, settings_for
from infra.secrets import ensure_connection_secrets
from infra.template_drive import deploy_platform, drive_code
from infra.target import Target, example_values, target_for
from infra.template import build_template, write_template
from infra.template_hosting import require_hosting_settings
from infra.wheels import cached_wheels, glue_requirements
from engine.errors import RunError, UsageError
from engine.plan.graph import Graph
from engine.spec.project import Project

DEFAULT_TEMPLATE = Path("build/deploy/platform.template.json")
SERVICES = ("cloudformation", "s3", "glue", "kms", "iam", "secretsmanager", "stepfunctions", "scheduler", "sns")


@dataclass
class Outcome:
    """What a deploy did (for the CLI's last line and for tests)."""

    template: Path
    stack: str = "not deployed (dry run)"
    uploaded: int = 0
    changes: list[Change] = field(default_factory=list)
    missing_secrets: list[str] = field(default_factory=list)
    state_machine: dict[str, Any] | None = None
    schedule: str | None = None
    wheels: list[str] = field(default_factory=list)  # s3:// URIs of the dependency wheels the job installs

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
    return {name: session.client(name, config=config) for name in SERVICES}


def key_arn_of(kms: Any, alias: str) -> str:
    """The ARN of the key behind ``alias`` (from the alias list: no key policy is read)."""
    for page in kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"] == alias and entry.get("TargetKeyId"):
                return entry["AliasArn"].replace(alias, "key/" + entry["TargetKeyId"])
    raise RunError(f"the stack made no KMS alias {alias}; check the stack's events")


def topic_arn_of(sns: Any, name: str) -> str:
    """The ARN of the alerts topic the stack made."""
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return topic["TopicArn"]
    raise RunError(f"the stack made no SNS topic {name}; check the stack's events")


def _shape(target: Target, graph: Graph) -> str:
    """How a pipeline run goes, in one line: the source load, then specs in sequence, forks in [ | ]."""
    def show(steps: tuple) -> str:
        return " → ".join(s if isinstance(s, str) else "[" + " | ".join(show(b) for b in s.branches) + "]"
                          for s in steps)

    return (f"{SOURCE_LOAD} → " if has_source_load(target) else "") + show(plan_blocks(graph))


def _job_runs(target: Target, graph: Graph) -> int:
    """Glue job runs per pipeline run: one per spec, plus the source load when there is one."""
    return len(graph.specs) + has_source_load(target)


def deploy(project: Project, graph: Graph, *, dry_run: bool, say: Callable[[str], None],
           template_path: Path | None = None, aws: dict[str, Any] | None = None,
           poll_seconds: float = 10, wheelhouse: Path | None = None) -> Outcome:
    """Deploy ``project`` (or, with ``dry_run``, write the template and print the plan only).

    ``wheelhouse``: a folder of wheels the dependency wheels come from (no package index read).
    """
    target = target_for(project)
    schedule = check_for_aws(project, graph)  # refuses before anything is written or called
    drive = target.config.drive
    if drive is not None:
        # the Drive ingestion starts a run when (and only when) a file changed: no fixed schedule
        # beside it, which would run the pipeline every day whether or not anything arrived
        say(f"schedule: the Drive ingestion ({drive.schedule}) starts pipeline runs when files change; "
            "the specs' schedule is not deployed")
        schedule = None
    path = project.path(template_path or DEFAULT_TEMPLATE)
    template = build_template(target)
    write_template(template, path)
    outcome = Outcome(path, schedule=schedule)
    say(f"template  {path}")
    requirements = glue_requirements()
    if dry_run:
        items = artefacts(target)
        build = build_digest(items)
        env = Environment(f"arn:aws:kms:{target.config.region}:<account>:key/<from stack {target.config.stack_name}>",
                          f"arn:aws:iam::<account>:role/{target.job_role_name}", build,
                          digests={a.file_name: a.digest for a in items})
        outcome.changes = diff(desired(target, env), {})
        outcome.state_machine = definition(graph, settings_for(target, env, "<alerts topic>"))
        say("glue plan (dry run: AWS not called; compared with an account that has none of it):")
        for change in outcome.changes:
            say(f"  {change.line()}")
        say(f"wheels    {len(requirements)} dependency wheels, downloaded at deploy into {path.parent / 'wheels'} "
            f"and installed by Glue from S3 with --no-index: {', '.join(requirements)}")
        say(f"state machine {target.state_machine_name}: {_job_runs(target, graph)} Glue job runs per pipeline run, "
            f"at most {target.max_concurrent_specs} at once: {_shape(target, graph)}")
        say(f"schedule {target.schedule_name}: {schedule or ('none: the Drive ingestion starts runs' if drive else 'none (start runs by hand)')}")
        return outcome
    examples = example_values(target.config)
    if examples:
        raise UsageError(f"deploy settings are empty or still hold medallion.yaml's example ids ({', '.join(examples)}); "
                         "export MEDALLION_VPC_ID, MEDALLION_DB_ROUTE_TABLE_IDS, MEDALLION_DB_SUBNET_IDS and "
                         "MEDALLION_DB_SECURITY_GROUP_IDS (and MEDALLION_DB_AZ; docs/deploy.md)")
    require_hosting_settings(target)  # the dashboards' certificate, domain and subnets (template_hosting.py)
    # every artefact exists, complete, before the first upload: a wheel pip cannot find stops here
    wheels = cached_wheels(requirements, path.parent / "wheels", wheelhouse=wheelhouse)
    say(f"wheels    {len(wheels)} dependency wheels ready in {path.parent / 'wheels'}")
    items = artefacts(target, wheels)
    build = build_digest(items)
    digests = {a.file_name: a.digest for a in items}
    outcome.wheels = dependency_uris(target, items)
    code = drive_code(target, say, path.parent, wheelhouse) if "DriveFunction" in template["Resources"] else None
    aws = aws or clients(target.config.region)
    outcome.stack = deploy_platform(aws, target, template, say, poll_seconds=poll_seconds, code=code)  # + Drive code
    key_arn = key_arn_of(aws["kms"], f"alias/{target.prefix}")
    role = lambda name: aws["iam"].get_role(RoleName=name)["Role"]["Arn"]  # noqa: E731
    outcome.uploaded = upload(aws["s3"], target, items, key_arn, say)
    from infra.image_build import ensure_dashboards_image  # build the image if new, then the service runs it
    ensure_dashboards_image(aws, target, key_arn, say, poll_seconds=poll_seconds)
    outcome.missing_secrets = ensure_connection_secrets(aws["secretsmanager"], target, key_arn, say)
    env = Environment(key_arn, role(target.job_role_name), build, wheels=tuple(outcome.wheels), digests=digests,
                      job_env=job_environment(target))
    wanted = desired(target, env)
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
    settings = settings_for(target, env, topic_arn_of(aws["sns"], f"{target.prefix}-alerts"))
    outcome.state_machine = definition(graph, settings)
    machine = apply_state_machine(aws["stepfunctions"], target, graph, settings, role(target.state_machine_role_name),
                                  lambda line: say(f"  {line}"))
    apply_schedule(aws["scheduler"], target, schedule, machine, role(target.scheduler_role_name),
                   lambda line: say(f"  {line}"))
    say(f"pipeline: {_job_runs(target, graph)} Glue job runs per run, in dependency order: {_shape(target, graph)}")
    return outcome
