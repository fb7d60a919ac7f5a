"""Everything a command needs, built once from the project folder, profile and --var.

Commands share this so ``query``, ``runs`` and ``run`` always see the same lake and warehouse.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.io.lake import Lake, LocalLake
from engine.io.warehouse import Warehouse, WarehouseSetup, open_warehouse
from engine.plan.graph import Graph, build_graph, load_all
from engine.run.lock import LakeLock
from engine.run.record import RunStore
from engine.spec.secrets import EnvSecretProvider, SecretProvider
from engine.spec.project import LocalLake as LocalLakeConfig
from engine.spec.project import S3Lake as S3LakeConfig
from engine.spec.project import Project, find_root, load_project, parse_var_overrides

RUNS = "_runs"


class Workspace:
    """A project opened with a profile and variable overrides."""

    def __init__(self, project: Project, var_args: list[str]):
        self.project = project
        self.var_args = var_args

    @classmethod
    def open(cls, project_dir: Path | None, profile: str | None, var_args: list[str]) -> "Workspace":
        """Find medallion.yaml (from ``project_dir`` or the current folder) and load it."""
        root = find_root(project_dir or Path.cwd())
        overrides = parse_var_overrides(var_args)
        return cls(load_project(root, profile, overrides), var_args)

    @cached_property
    def graph(self) -> Graph:
        """All specs, validated and linked; raises SpecError(s) before any Spark starts."""
        return build_graph(load_all(self.project.root, self.project.spec_dirs, self.project.variables))

    @cached_property
    def lake(self) -> Lake:
        """The profile's lake: a local folder, or an S3 prefix (boto3 reads AWS_ENDPOINT_URL)."""
        cfg = self.project.profile.lake
        if isinstance(cfg, LocalLakeConfig):
            return LocalLake(self.project.path(cfg.root), self.project.profile.keep_versions)
        from engine.io.s3lake import S3Lake

        return S3Lake(cfg.bucket, cfg.prefix, cfg.kms_key, self.project.profile.keep_versions)

    def lock(self, run_id: str) -> LakeLock:
        """The lake's run lock (a file locally, a conditional-write object on S3); not yet taken."""
        return LakeLock(self.lake.root, run_id)

    @cached_property
    def warehouse(self) -> Warehouse:
        """The profile's warehouse adapter, built from its config by the registry; with a
        ``catalog:`` the refresh also registers every committed version in the Glue catalog."""
        lake = self.project.profile.lake
        on_s3 = isinstance(lake, S3LakeConfig)
        setup = WarehouseSetup(root=self.project.root, secrets=self.secrets,
                               lake_kms_key=lake.kms_key if on_s3 else None, lake_is_s3=on_s3)
        warehouse = open_warehouse(self.project.profile.warehouse, setup)
        catalog = self.project.profile.catalog
        if catalog is None:
            return warehouse
        if not on_s3:
            raise UsageError(f"profile '{self.project.profile_name}': a Glue catalog registers S3 locations; "
                             "its lake must be kind: s3 (or remove catalog:)")
        from engine.io.catalog import CatalogedWarehouse, GlueCatalog

        return CatalogedWarehouse(warehouse, GlueCatalog(catalog.database_prefix))

    @cached_property
    def source(self) -> Any:
        """The profile's source database (None without one), checked before anything connects."""
        from engine.io.source import check_source

        return check_source(self.project.profile.source, self.project.profile.secrets.kind,
                            self.project.profile_name)

    def hints(self) -> dict[str, Any]:
        """Physical-design hints per table, from the specs (for server warehouses)."""
        return {name: item.spec.output.warehouse for name, item in self.graph.specs.items()}

    @cached_property
    def secrets(self) -> SecretProvider:
        """The profile's secret provider; values are fetched only when a connection needs them."""
        cfg = self.project.profile.secrets
        if cfg.kind == "env":
            return EnvSecretProvider(cfg.prefix, dev_defaults=cfg.dev_defaults)
        from engine.io.secretsmanager import SecretsManagerProvider

        return SecretsManagerProvider(cfg.prefix)

    @cached_property
    def store(self) -> RunStore:
        """Where run records live: next to the lake's tables (``<lake>/_runs``, folder or S3 prefix)."""
        root = self.lake.root
        return RunStore(root / RUNS if isinstance(root, Path) else root.child(RUNS))

    def spark(self) -> Any:
        """The process's SparkSession for this profile (started on first call)."""
        from engine.run.session import get_spark

        return get_spark(self.project.profile.spark, app_name=f"medallion-{self.project.name}")
