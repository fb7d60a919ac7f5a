"""Every name a deployment uses, derived once from the project and its profile.

The template, the Glue plan and the entry point must agree on bucket, job, secret and trigger
names; deriving them in one place keeps them from drifting apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import UsageError
from engine.run.scheduler import AUTO_MAX_THREADS
from engine.spec.interpolate import SECRET_REF
from engine.spec.project import DeployConfig, Project, RedshiftWarehouse, S3Lake

EXAMPLE_ID = re.compile(r"^[a-z]+-0+$")


@dataclass(frozen=True)
class Target:
    """A project's deployment: its settings plus the names derived from them."""

    project: Project
    config: DeployConfig

    @property
    def lake(self) -> S3Lake:
        """The profile's S3 lake (its bucket is the stack's lake bucket)."""
        return self.project.profile.lake  # type: ignore[return-value]

    @property
    def prefix(self) -> str:
        """Prefix of the job, state machine, schedule, roles and secrets."""
        return self.config.name

    def bucket(self, kind: str) -> str:
        """Bucket names: the lake bucket is the profile's; the others are named after it."""
        lake = self.lake.bucket
        return lake if kind == "lake" else f"{lake}-{kind}"

    @property
    def job_name(self) -> str:
        """The one Glue job every spec runs as."""
        return self.prefix

    @property
    def job_role_name(self) -> str:
        """The IAM role the job runs as (created by the platform stack)."""
        return f"{self.prefix}-glue-job"

    @property
    def max_concurrent_specs(self) -> int:
        """Glue job runs at once (the job's MaxConcurrentRuns): the profile's ``threads``, the same
        setting that bounds concurrent specs of a local run. ``auto`` is 4 here: each job run has
        workers of its own, so the deploying machine's cores say nothing about it."""
        threads = self.project.profile.threads
        return AUTO_MAX_THREADS if threads == "auto" else int(threads)

    @property
    def state_machine_name(self) -> str:
        """The Step Functions state machine that runs the spec graph (one Glue job run per spec)."""
        return self.prefix

    @property
    def schedule_name(self) -> str:
        """The EventBridge Scheduler schedule that starts the state machine."""
        return f"{self.prefix}-pipeline"

    @property
    def state_machine_role_name(self) -> str:
        """The role the state machine runs as (created by the platform stack)."""
        return f"{self.prefix}-orchestration"

    @property
    def scheduler_role_name(self) -> str:
        """The role EventBridge Scheduler starts executions with (created by the platform stack)."""
        return f"{self.prefix}-scheduler"

    @property
    def runs_prefix(self) -> str:
        """Key prefix of the S3 run store (``<lake prefix>/_runs``): spec records, outcomes, pipelines."""
        return "/".join(p for p in (self.lake.prefix.strip("/"), "_runs") if p)

    @property
    def security_configuration(self) -> str:
        """Glue security configuration (S3, CloudWatch and bookmark encryption)."""
        return f"{self.prefix}-encryption"

    def connection_name(self, kind: str) -> str:
        """Glue connection to the source database (``source``) or the warehouse."""
        return f"{self.prefix}-{kind}"

    def secret_name(self, name: str) -> str:
        """A secret's full name in Secrets Manager (the profile's prefix + ``name``)."""
        return self.project.profile.secrets.prefix + name

    @property
    def source_secret(self) -> str:
        """The ONE secret of the source database (name under the prefix), used by the engine, the
        Glue connection and the stack alike: the secret the profile's ``source.password`` names
        (``${secret:rds_source.password}`` -> ``rds_source``), else ``deploy.source.secret``."""
        source = self.project.profile.source
        refs = SECRET_REF.findall(source.password or "") if source is not None else []
        if refs:
            name = refs[0]
            return name.rsplit(".", 1)[0] if "." in name else name
        return self.config.source.secret if self.config.source else "connections/source"

    @property
    def artefact_prefix(self) -> str:
        """Key prefix of the uploaded wheel, project archive and job script."""
        return f"{self.prefix}/artefacts"

    def artefact_key(self, file_name: str, digest: str) -> str:
        """Content-addressed key of one artefact: a new build never overwrites what runs now."""
        return f"{self.artefact_prefix}/{digest[:16]}/{file_name}"

    def artefact_uri(self, file_name: str, digest: str) -> str:
        """``s3://`` address of one uploaded artefact (content-addressed)."""
        return f"s3://{self.bucket('artefacts')}/{self.artefact_key(file_name, digest)}"

    @property
    def warehouse(self) -> RedshiftWarehouse | None:
        """The Redshift warehouse of the profile, when it has one."""
        wh = self.project.profile.warehouse
        return wh if isinstance(wh, RedshiftWarehouse) else None


def target_for(project: Project) -> Target:
    """The deployment target of a loaded project, or a UsageError saying what is missing."""
    cfg = project.profile.deploy
    if cfg is None:
        raise UsageError(f"profile '{project.profile_name}' has no deploy: section; "
                         "deploy with --profile aws (see docs/deploy.md)")
    if not isinstance(project.profile.lake, S3Lake):
        raise UsageError(f"profile '{project.profile_name}' has a {project.profile.lake.kind} lake; "
                         "deploy needs an s3 lake")
    if project.profile.secrets.kind != "aws_secrets_manager":
        raise UsageError(f"profile '{project.profile_name}' reads secrets from {project.profile.secrets.kind}; "
                         "deploy needs secrets: {kind: aws_secrets_manager}")
    target = Target(project, cfg)
    if cfg.source is not None and "secret" in cfg.source.model_fields_set and project.profile.source is not None \
            and project.profile.source.password and cfg.source.secret != target.source_secret:
        raise UsageError(f"profile '{project.profile_name}': deploy.source.secret is '{cfg.source.secret}' but "
                         f"source.password reads the secret '{target.source_secret}'; one database, one secret: "
                         "drop deploy.source.secret or make them the same")
    return target


def example_values(config: DeployConfig) -> list[str]:
    """Network settings that are empty or still hold the all-zero example ids of medallion.yaml
    (refused by a real deploy)."""
    found = []
    for field in ("vpc_id", "route_table_ids", "subnet_ids", "security_group_ids", "availability_zone"):
        value = getattr(config, field)
        values = value if isinstance(value, list) else [value]
        if not values or any(not v.strip() or EXAMPLE_ID.match(v) for v in values):
            found.append(field)
    return found
