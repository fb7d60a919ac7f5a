"""``medallion.yaml``: the project's name, variables with their defaults, and profiles.

A profile says where the lake and the warehouse live, how secrets are found and how Spark is
sized. Variables resolve with the precedence ``--var`` > ``MEDALLION_VAR_<NAME>`` >
``medallion.yaml``; the resolved set is what every spec is interpolated with.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from engine.errors import UsageError
from engine.spec.cron import check_cron
from engine.spec.interpolate import interpolate
from engine.spec.models import Retry
from engine.spec.suggest import did_you_mean
from engine.spec.validate_errors import validate_model
from engine.spec.yaml_source import YamlDoc, load_yaml_file

CONFIG_FILE = "medallion.yaml"
ENV_VAR_PREFIX = "MEDALLION_VAR_"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocalLake(_Strict):
    """Parquet tables in a local directory."""

    kind: Literal["local"]
    root: str


class S3Lake(_Strict):
    """Parquet tables under an S3 prefix, encrypted with KMS (the AWS profile)."""

    kind: Literal["s3"]
    bucket: str
    prefix: str = "lake"
    kms_key: str | None = None


class DuckDbWarehouse(_Strict):
    """A DuckDB file exposing every lake table as ``<layer>.<name>``."""

    kind: Literal["duckdb"]
    path: str


class WarehouseReader(_Strict):
    """The dashboards' own login: SELECT on gold and the health table only (created by publish)."""

    user: str = Field("medallion_dashboard", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    password: str = Field("${secret:dashboard_password}", description="a ${secret:name} reference; on AWS "
                          "the publish step generates it into Secrets Manager when missing")
    create_login: bool = Field(True, description="false: the login is created and its password rotated "
                               "elsewhere (the deploy stack's rotation on AWS); the publish step only grants")


class RedshiftWarehouse(_Strict):
    """Redshift, loaded by COPY from Parquet staged on S3 (credentials via a secret reference)."""

    kind: Literal["redshift"]
    host: str
    database: str
    user: str
    password: str = Field(description="a ${secret:name} reference, never a literal")
    port: int = 5439
    iam_role: str = Field(description="ARN of the role Redshift assumes to read the staging prefix")
    staging_bucket: str
    staging_prefix: str = "redshift-staging"
    region: str = "us-east-1"
    sslmode: Literal["verify-full", "verify-ca", "require"] = "verify-full"
    reader: WarehouseReader | None = Field(None, description="read-only login for the dashboards")


class _PostgresConnection(_Strict):
    """How to reach a PostgreSQL server; the password is a secret reference, never a literal."""

    kind: Literal["postgres"]
    host: str = "127.0.0.1"
    port: int = 5432
    database: str
    user: str
    password: str | None = Field(None, description="a ${secret:name} reference, or none for trust auth")
    sslmode: Literal["disable", "prefer", "require", "verify-full"] = "prefer"


class PostgresWarehouse(_PostgresConnection):
    """PostgreSQL as a warehouse (and as the Redshift-compatible test server)."""

    reader: WarehouseReader | None = Field(None, description="read-only login for the dashboards")


class PostgresSource(_PostgresConnection):
    """The source database (RDS PostgreSQL on AWS; the local server here)."""

    schema_: str = Field("source", alias="schema")
    tables: dict[str, str] = Field(default_factory=dict, description="table -> raw CSV file loaded into it")


class GlueCatalogConfig(_Strict):
    """Register every committed lake version in the Glue Data Catalog (one database per layer)."""

    kind: Literal["glue"]
    database_prefix: str = Field("medallion_", pattern=r"^[a-z][a-z0-9_]*$",
                                 description="Glue databases are <prefix><layer>, e.g. medallion_gold")


class SecretsConfig(_Strict):
    """Where ``${secret:name}`` values come from.

    ``dev_defaults`` are public development values used when the environment has none; they
    are allowed only for the env provider, so a deployed profile can never fall back to them.
    """

    kind: Literal["env", "aws_secrets_manager"] = "env"
    prefix: str = "MEDALLION_SECRET_"
    dev_defaults: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _dev_defaults_only_locally(self) -> "SecretsConfig":
        if self.dev_defaults and self.kind != "env":
            raise ValueError("dev_defaults are only allowed with kind: env (never on a deployed profile)")
        return self


class SparkConfig(_Strict):
    """Spark for a run outside Glue: one session for the whole run, local or on a standalone cluster."""

    master: str = Field("local[*]", description="local[N], or a standalone cluster spark://host:port (its "
                        "executors run the driver's Python unless conf names spark.pyspark.python)")
    jars: list[str] = Field(default_factory=list, description="extra jars, e.g. a JDBC driver")
    shuffle_partitions: int | Literal["auto"] = Field(
        "auto", description="a number, or auto: sized per spec from the bytes it reads")
    driver_memory: str = "4g"
    conf: dict[str, str] = Field(default_factory=dict)


def _id_list(value: Any) -> Any:
    """A list of AWS ids also given as one comma-separated string (one ``${env:...}``)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


IdList = Annotated[list[str], BeforeValidator(_id_list)]


class DeploySourceDb(_Strict):
    """The existing RDS database the bronze specs read (outside the stack: it already exists)."""

    host: str
    port: int = 5432
    database: str
    secret: str = Field("connections/source", description="secret name under the secrets prefix, "
                        "JSON {username, password}; created by you, never in YAML")
    create: bool = Field(False, description="the stack creates this database (RDS PostgreSQL, infra/template_rds.py)")


class DeployOidc(_Strict):
    """An external OpenID Connect identity provider the dashboards' load balancer signs users in with."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    user_info_endpoint: str
    client_id: str
    client_secret: str = Field("dashboards/oidc_client_secret",
                               description="secret name under the secrets prefix holding the client secret")


class DeployHosting(_Strict):
    """Where the dashboards are served on AWS (infra/template_hosting.py); values come from ${env:...}."""

    enabled: bool = True
    certificate_arn: str = Field(description="ACM certificate of the HTTPS listener (MEDALLION_CERTIFICATE_ARN)")
    domain_name: str = Field(description="host name users open, covered by the certificate")
    alb_subnet_ids: IdList = Field(min_length=1, description="subnets of the load balancer (two zones)")
    internet_facing: bool = True
    allowed_cidrs: IdList = Field(default_factory=lambda: ["0.0.0.0/0"],
                                  description="who may reach the load balancer (sign-in still required)")
    oidc: DeployOidc | None = Field(None, description="external IdP; none = a Cognito user pool of the stack")
    cpu: int = 512
    memory: int = 1024
    desired_count: int = Field(1, ge=0, le=10)


class DriveIngestion(_Strict):
    """A scheduled function copying the changed files of one Google Drive folder to the raw bucket.

    The service-account key lives in Secrets Manager (``secret``, under the secrets prefix); only
    the folder id and the schedule are configuration.
    """

    folder_id: str = Field(pattern=r"^[A-Za-z0-9_-]{10,100}$", description="id of the shared Drive folder")
    schedule: str = Field(description="EventBridge schedule: cron(...) (AWS syntax) or rate(N minutes|hours|days)")
    secret: str = Field("drive/service-account", description="secret name under the secrets prefix: "
                        "the service-account JSON key; created by you, never in YAML")
    prefix: str = Field("drive", pattern=r"^[a-z0-9][a-z0-9/_-]{0,60}$",
                        description="raw-bucket prefix the dated copies go under")
    timeout_seconds: int = Field(300, ge=30, le=900)
    memory_mb: int = Field(512, ge=128, le=10240)

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        if value.startswith("rate("):
            if not re.fullmatch(r"rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)", value):
                raise ValueError(f"'{value}' is not an EventBridge rate: rate(1 hour), rate(30 minutes), ...")
            return value
        return check_cron(value)


class DeployConfig(_Strict):
    """What ``medallion deploy`` needs that only the AWS account knows (network, names, sizing).

    Values come from ``${env:...}`` references; secrets never appear here.
    """

    region: str = "us-east-1"
    stack_name: str = "medallion-platform"
    name: str = Field("medallion", pattern=r"^[a-z][a-z0-9-]{1,30}$",
                      description="prefix of the Glue job, state machine, schedule, roles and secrets")
    vpc_id: str
    route_table_ids: IdList = Field(min_length=1, description="route tables of the database subnets")
    subnet_ids: IdList = Field(min_length=1, description="database subnets (Glue connections, Redshift)")
    security_group_ids: IdList = Field(min_length=1)
    availability_zone: str = Field(description="zone of the first subnet (Glue connections need it)")
    source: DeploySourceDb | None = None
    alarm_email: str | None = None
    worker_type: Literal["G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    workers: int = Field(2, ge=2, le=100)
    timeout_minutes: int = Field(120, ge=1, le=2880, description="one Glue job run (one spec attempt)")
    poll_seconds: int = Field(30, ge=1, le=300, description="how often the state machine polls a job run")
    redshift_base_capacity: int = Field(8, ge=8, le=512)
    job_vars: dict[str, str] = Field(default_factory=dict, description="--var NAME=VALUE of every Glue run")
    drive: DriveIngestion | None = Field(None, description="scheduled ingestion from a Google Drive folder")
    hosting: DeployHosting | None = Field(None, description="serve the dashboards on AWS (ECS behind an ALB)")

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_concurrent_specs" in data:
            raise ValueError("deploy.max_concurrent_specs is now the profile's threads: (one setting bounds the "
                             "specs at once, locally and on AWS); move the number there")
        return data


class Profile(_Strict):
    """Everything that differs between running here and running on AWS."""

    lake: Annotated[Union[LocalLake, S3Lake], Field(discriminator="kind")]
    warehouse: Annotated[Union[DuckDbWarehouse, PostgresWarehouse, RedshiftWarehouse], Field(discriminator="kind")]
    source: PostgresSource | None = None
    catalog: GlueCatalogConfig | None = Field(None, description="lake tables registered for Athena/Spectrum")
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    threads: Annotated[int, Field(ge=1, le=50)] | Literal["auto"] = Field(
        "auto", description="specs at the same time: threads of the one Spark session locally (medallion run "
        "--threads overrides), Glue job runs at once on AWS (the job's MaxConcurrentRuns); auto = one per core, "
        "at most 4 (on AWS: 4)")
    keep_versions: int = Field(5, ge=1, description="committed versions kept per table")
    spec_dirs: list[str] | None = Field(None, description="spec folders for this profile (default: the project's)")
    deploy: DeployConfig | None = Field(None, description="AWS deployment settings (medallion deploy)")
    executor: str | None = Field(None, description="run specs through this remote executor plugin (e.g. "
                                 "step_functions: run/resume/runs act on AWS); none = local Spark")


class ProjectFile(_Strict):
    """The shape of medallion.yaml."""

    name: str
    default_profile: str = "local"
    variables: dict[str, Any] = Field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = Field(min_length=1)
    spec_dirs: list[str] = Field(default_factory=lambda: ["pipelines", "marts"])
    retry: Retry = Field(default_factory=Retry, description="default retry policy of every spec")
    commands: list[str] = Field(default_factory=list, description="project commands, as module:function "
                                "(the function gets the CLI app and adds its commands), e.g. mytools.cli:register")


class Project:
    """A loaded project: root folder, resolved variables and the active profile."""

    def __init__(self, root: Path, name: str, profile_name: str, profile: Profile,
                 variables: dict[str, Any], spec_dirs: list[str], default_retry: Retry | None = None):
        self.root = root
        self.name = name
        self.profile_name = profile_name
        self.profile = profile
        self.variables = variables
        self.spec_dirs = spec_dirs
        self.default_retry = default_retry or Retry()

    def path(self, value: str | Path) -> Path:
        """A path from config, relative to the project root unless absolute."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.root / p


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding medallion.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise UsageError(f"no {CONFIG_FILE} found in {start} or above; run medallion inside a project "
                     "or pass --project-dir")


def parse_var_overrides(pairs: list[str]) -> dict[str, Any]:
    """``K=V`` strings from --var; values parse as YAML scalars (numbers stay numbers)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--var '{pair}' must look like NAME=VALUE")
        out[key.strip()] = _scalar(value)
    return out


def _scalar(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, str)) and value is not None else text


def resolve_variables(defaults: Mapping[str, Any], overrides: Mapping[str, Any],
                      env: Mapping[str, str]) -> dict[str, Any]:
    """``--var`` beats ``MEDALLION_VAR_<NAME>`` beats the defaults in medallion.yaml."""
    resolved = dict(defaults)
    for key in defaults:
        env_key = ENV_VAR_PREFIX + key.upper()
        if env_key in env:
            resolved[key] = _scalar(env[env_key])
    for key, value in overrides.items():
        if key not in defaults:
            raise UsageError(f"--var {key}: unknown variable{did_you_mean(key, defaults)}; "
                             f"declare it under variables: in {CONFIG_FILE}")
        resolved[key] = value
    return resolved


def load_project(root: Path, profile: str | None = None, overrides: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None) -> Project:
    """Load medallion.yaml at ``root`` with the chosen profile and variable overrides."""
    env = os.environ if env is None else env
    config_path = root / CONFIG_FILE
    doc = load_yaml_file(config_path, Path(CONFIG_FILE))
    raw = validate_model(ProjectFile, doc.data, doc)
    variables = resolve_variables(raw.variables, overrides or {}, env)
    chosen = profile or raw.default_profile
    if chosen not in raw.profiles:
        raise UsageError(f"unknown profile '{chosen}'{did_you_mean(chosen, raw.profiles)}; "
                         f"{CONFIG_FILE} defines: {', '.join(raw.profiles)}")
    sub = YamlDoc(doc.path, raw.profiles[chosen],
                  {k[2:]: v for k, v in doc.lines.items() if k[:2] == ("profiles", chosen)})
    resolved = interpolate(sub, variables, env)
    prof = validate_model(Profile, resolved, sub, prefix=("profiles", chosen))
    return Project(root, raw.name, chosen, prof, variables, prof.spec_dirs or raw.spec_dirs, raw.retry)
