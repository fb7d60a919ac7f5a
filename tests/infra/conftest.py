"""A small deployable project: three specs (root with a schedule, one child, one grandchild).

bronze.events (root, scheduled) -> silver.events -> gold.daily (also reads bronze.events): the
state machine runs them in that order. Retries are quick (1 s backoff) and the state machine
polls every second, so the rehearsal runs in seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONFIG = """\
name: deploy-test
retry: {attempts: 3, backoff_seconds: 1, max_delay_seconds: 2}
variables:
  raw_dir: raw
  lake_dir: lake
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[2]", shuffle_partitions: 2, driver_memory: 2g}
  aws:
    lake: {kind: s3, bucket: test-lake, prefix: lake, kms_key: alias/dt}
    warehouse:
      kind: redshift
      host: dt.redshift.internal
      database: analytics
      user: etl
      password: "${secret:redshift_password}"
      iam_role: arn:aws:iam::123456789012:role/dt-redshift-copy
      staging_bucket: test-lake
    secrets: {kind: aws_secrets_manager, prefix: dt/}
    executor: step_functions
    threads: 2   # Glue job runs at once (the job's MaxConcurrentRuns)
    deploy:
      stack_name: dt-platform
      poll_seconds: 1
      name: dt
      vpc_id: "${env:DT_VPC:-vpc-00000000000000000}"
      route_table_ids: "${env:DT_RTB:-rtb-00000000000000000}"
      subnet_ids: "${env:DT_SUBNET:-subnet-0a1b2c3d4e5f60718}"
      security_group_ids: "${env:DT_SG:-sg-0a1b2c3d4e5f60718}"
      availability_zone: us-east-1a
      source: {host: db.internal, database: shop}
      job_vars: {raw_dir: "s3://test-lake-raw"}
"""

BRONZE = """\
name: bronze.events
steps:
  - type: read
    format: csv
    path: ${var:raw_dir}/events.csv
    columns: {id: string, amount: string}
schedule: {schedule}
"""

SILVER = """\
name: silver.events
inputs: {events: bronze.events}
steps:
  - type: derive
    columns: {amount_x2: "cast(amount as int) * 2"}
"""

GOLD = """\
name: gold.daily
inputs: {clean: silver.events, raw: bronze.events}
steps:
  - type: aggregate
    input: clean
    group_by: []
    metrics: {total: sum(amount_x2)}
"""


@pytest.fixture()
def deploy_project(tmp_path: Path):
    """Write the project; ``schedule`` and ``with_gold`` let tests change it between deploys."""

    def write(schedule: str = "cron(0 7 * * ? *)", with_gold: bool = True) -> Path:
        (tmp_path / "medallion.yaml").write_text(CONFIG, encoding="utf-8")
        specs = tmp_path / "pipelines"
        specs.mkdir(exist_ok=True)
        (specs / "bronze_events.yaml").write_text(BRONZE.replace("{schedule}", schedule), encoding="utf-8")
        (specs / "silver_events.yaml").write_text(SILVER, encoding="utf-8")
        gold = specs / "gold_daily.yaml"
        if with_gold:
            gold.write_text(GOLD, encoding="utf-8")
        elif gold.exists():
            gold.unlink()
        raw = tmp_path / "raw"
        raw.mkdir(exist_ok=True)
        (raw / "events.csv").write_text("id,amount\n1,5\n2,7\n", encoding="utf-8")
        return tmp_path

    return write


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A wheelhouse holding one real (tiny, pure-Python) wheel per pinned dependency of the Glue job
    and of the Drive function (infra/drive/requirements.txt).

    The deploy's own ``pip download`` / ``pip install --no-index --find-links`` run over it, so the
    deploy tests exercise the real download, cache and upload of the wheels with no network.
    """
    from infra.template_drive import REQUIREMENTS
    from infra.wheels import build_wheel_bytes, glue_requirements

    folder = tmp_path_factory.mktemp("wheelhouse")
    drive = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines()]
    for pin in sorted(set(glue_requirements()) | {d for d in drive if "==" in d}):
        name, _, ver = pin.partition("==")
        module = name.replace("-", "_")
        wheel = build_wheel_bytes(name, ver, {f"{module}_stub/__init__.py": f"VERSION = {ver!r}\n".encode()}, [])
        (folder / f"{module}-{ver}-py3-none-any.whl").write_bytes(wheel)
    return folder
