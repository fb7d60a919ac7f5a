"""The Glue resources a project needs, and what must change to get there from what exists.

Pure data: ``desired`` derives the security configuration, connections and the ONE job from
the project; ``diff`` compares them with the current state read from the Glue API (or with
nothing, for ``--dry-run``) and says create / update / unchanged for each. The order of the
specs is not Glue's business any more: the state machine (``orchestration.py``) starts one job
run per spec. Keeping this free of boto3 makes the plan testable and printable.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from engine.spec.project import CONFIG_FILE
from engine.spec.yaml_source import load_yaml_file
from infra.target import Target
from infra.wheels import glue_module_arguments

GLUE_VERSION = "5.1"  # Spark 3.5, Python 3.11: the runtime the engine is tested against
KINDS = ("security configuration", "connection", "job")
# fields compared with what the Glue API returns (it omits some of what it accepts)
_COMPARED = {
    "security configuration": ("EncryptionConfiguration",),
    "connection": ("Description", "ConnectionProperties", "PhysicalConnectionRequirements"),
    "job": ("Description", "Role", "ExecutionProperty", "Command", "DefaultArguments", "Connections",
            "MaxRetries", "Timeout", "WorkerType", "NumberOfWorkers", "SecurityConfiguration", "GlueVersion"),
}


@dataclass(frozen=True)
class Resource:
    """One Glue resource as its create call takes it."""

    kind: str
    name: str
    body: dict[str, Any]


@dataclass
class Change:
    """What reconciling does to one resource, and why (the fields that differ)."""

    action: str  # create, update, delete, unchanged
    kind: str
    name: str
    fields: list[str] = field(default_factory=list)
    resource: Resource | None = None

    def line(self) -> str:
        """One plan line, e.g. ``update  job  medallion  (DefaultArguments)``."""
        why = f"  ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.action:<9} {self.kind:<22} {self.name}{why}"


@dataclass(frozen=True)
class Environment:
    """What the platform stack provides to the Glue resources."""

    key_arn: str
    role_arn: str
    build: str = ""  # digest of the uploaded engine and specs; a new build updates the job
    wheels: tuple[str, ...] = ()  # s3:// URIs of the dependency wheels Glue installs (no PyPI)
    job_env: dict[str, str] = field(default_factory=dict)  # the profile's ${env:} values at deploy time
    digests: dict[str, str] = field(default_factory=dict)  # artefact file name -> SHA-256 (its key)


def _encryption(key_arn: str) -> dict[str, Any]:
    return {"S3Encryption": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn}],
            "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn},
            "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": key_arn}}


def _connections(target: Target) -> list[Resource]:
    cfg = target.config
    network = {"SubnetId": cfg.subnet_ids[0], "SecurityGroupIdList": list(cfg.security_group_ids),
               "AvailabilityZone": cfg.availability_zone}
    out = []
    if cfg.source is not None:
        src = cfg.source
        out.append(("source", "the source database (RDS)", f"jdbc:postgresql://{src.host}:{src.port}/{src.database}",
                    target.secret_name(target.source_secret)))
    if target.warehouse is not None:
        wh = target.warehouse
        out.append(("warehouse", "the Redshift warehouse", f"jdbc:redshift://{wh.host}:{wh.port}/{wh.database}",
                    target.secret_name("connections/warehouse")))
    return [Resource("connection", target.connection_name(kind), {
        "Name": target.connection_name(kind), "Description": description, "ConnectionType": "JDBC",
        "ConnectionProperties": {"JDBC_CONNECTION_URL": url, "SECRET_ID": secret, "JDBC_ENFORCE_SSL": "true"},
        "PhysicalConnectionRequirements": network}) for kind, description, url, secret in out]


def build_arguments(target: Target, env: Environment) -> dict[str, str]:
    """The arguments that name one build (content-addressed artefacts).

    The state machine passes them on every job run, so switching builds is the one state
    machine update at the end of a deploy; until then the previous build keeps running. The
    dependency wheels are part of the build: Glue installs exactly those files from S3 with
    ``--no-index``, so a job run never reaches a package index (it has no route to one).
    """
    args = {"--project-archive": target.artefact_uri("project.zip", env.digests.get("project.zip", "")),
            "--extra-py-files": target.artefact_uri(wheel_name(), env.digests.get(wheel_name(), "")),
            **glue_module_arguments(list(env.wheels))}
    if env.build:
        args["--medallion-build"] = env.build
    return args


def job_arguments(target: Target, env: Environment) -> dict[str, str]:
    """The job's default arguments: where the engine and specs are, which profile, logging."""
    args = {
        "--job-language": "python",
        "--profile": target.project.profile_name,
        **build_arguments(target, env),
        "--TempDir": f"s3://{target.bucket('artefacts')}/{target.prefix}/tmp/",
        "--enable-continuous-cloudwatch-log": "true",
        "--enable-metrics": "true",
        "--enable-spark-ui": "true",
        "--spark-event-logs-path": f"s3://{target.bucket('logs')}/{target.prefix}/spark-events/",
        "--job-bookmark-option": "job-bookmark-disable",
    }
    if target.config.job_vars:
        args["--vars"] = json.dumps(target.config.job_vars, sort_keys=True)
    if env.job_env:
        args["--env"] = json.dumps(env.job_env, sort_keys=True)
    return args


ENV_REF = re.compile(r"\$\{env:(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


def job_environment(target: Target, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values of the ``${env:NAME}`` references of the deployed profile (not of its ``deploy:``
    section) and of the variables, as set on the deploying machine.

    A Glue job run has no environment of its own, so without these the profile would resolve
    to its defaults there (e.g. ``source.internal`` for the RDS host): the job gets them as
    ``--env`` and sees the lake, source and warehouse the deploy saw. They are ids and host
    names by the project's rule (secrets are ``${secret:...}``, never ``${env:...}``).
    """
    environ = os.environ if environ is None else environ
    data = load_yaml_file(target.project.root / CONFIG_FILE, Path(CONFIG_FILE)).data or {}
    profile = dict((data.get("profiles") or {}).get(target.project.profile_name) or {})
    profile.pop("deploy", None)
    text = json.dumps([data.get("variables") or {}, profile])
    return {name: environ[name] for name in sorted(set(ENV_REF.findall(text))) if name in environ}


def wheel_name() -> str:
    """File name of the engine wheel (its version comes from the installed package)."""
    from importlib.metadata import version

    return f"medallion-{version('medallion')}-py3-none-any.whl"


def desired(target: Target, env: Environment) -> list[Resource]:
    """Every Glue resource the project needs, in the order they must be created."""
    cfg = target.config
    connections = _connections(target)
    out = [Resource("security configuration", target.security_configuration, {
        "Name": target.security_configuration, "EncryptionConfiguration": _encryption(env.key_arn)})]
    out += connections
    out.append(Resource("job", target.job_name, {
        "Name": target.job_name,
        "Description": "Runs one medallion spec per run: --spec <layer.name>",
        "Role": env.role_arn,
        # how many specs run at once; the state machine retries a start over the bound
        "ExecutionProperty": {"MaxConcurrentRuns": target.max_concurrent_specs},
        "Command": {"Name": "glueetl", "ScriptLocation": target.artefact_uri("glue_job.py",
                                                                             env.digests.get("glue_job.py", "")),
                    "PythonVersion": "3"},
        "DefaultArguments": job_arguments(target, env),
        "Connections": {"Connections": [c.name for c in connections]},
        # Glue's own retries have no backoff and cannot tell a terminal error: the state machine retries
        "MaxRetries": 0, "Timeout": cfg.timeout_minutes,
        "WorkerType": cfg.worker_type, "NumberOfWorkers": cfg.workers,
        "SecurityConfiguration": target.security_configuration, "GlueVersion": GLUE_VERSION}))
    return out


def _differs(kind: str, want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    return [key for key in _COMPARED[kind] if (key in want or key in have) and want.get(key) != have.get(key)]


def diff(wanted: list[Resource], current: dict[tuple[str, str], dict[str, Any]]) -> list[Change]:
    """Changes from ``current`` ((kind, name) -> what Glue returns) to ``wanted``.

    Nothing is deleted (a removed connection setting leaves the connection for a person to drop).
    """
    changes: list[Change] = []
    for res in wanted:
        have = current.get((res.kind, res.name))
        if have is None:
            changes.append(Change("create", res.kind, res.name, resource=res))
        else:
            fields = _differs(res.kind, res.body, have)
            changes.append(Change("update" if fields else "unchanged", res.kind, res.name, fields, res))
    return changes
