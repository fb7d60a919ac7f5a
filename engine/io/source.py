"""Load the raw CSVs into the source database: the brief's first hop (raw files -> RDS).

PySpark reads each CSV (a local file, or ``s3://`` on Glue) and writes it over JDBC into a
staging table; one PostgreSQL transaction then swaps the staging table in. So loading twice
leaves the same rows, a failed load leaves the previous rows, and the same code runs on a
laptop (the ``postgres`` profile, the rehearsal) and on Glue against RDS (the ``aws`` profile).

Every column is text, as in the file, plus ``_row_id``: the record's position in its file
(0, 1, 2, ...; contiguous, so the partitioned JDBC reads of bronze split it into even ranges).
Bytes that are not UTF-8 become U+FFFD, quoted newlines stay inside their field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import InputDataError, TerminalError, UsageError
from engine.io.postgres import open_connection
from engine.io.sqltypes import quote
from engine.spec.interpolate import SECRET_REF
from engine.spec.secrets import SecretProvider, resolve_secrets

DRIVER = "org.postgresql.Driver"


def check_source(config: Any, secrets_kind: str, profile: str) -> Any:
    """The source config, refused with the fix when a deployed profile could not log in to it."""
    if config is None:
        return None
    where = f"{config.host}:{config.port}/{config.database}"
    if config.password is not None and not SECRET_REF.fullmatch(config.password):
        raise UsageError(f"profile '{profile}': source.password of {where} must be a ${{secret:name}} reference, "
                         "never a literal")
    if secrets_kind == "aws_secrets_manager" and config.password is None:
        raise UsageError(f"profile '{profile}': the source database {where} has no secret: set source.password: "
                         "${secret:<name>} (a Secrets Manager secret under the profile's prefix; for an RDS "
                         "managed master secret, ${secret:<name>.password})")
    return config


def jdbc_target(config: Any, secrets: SecretProvider | None) -> tuple[str, dict[str, str]]:
    """JDBC URL and properties for Spark; the password is resolved only here."""
    url = f"jdbc:postgresql://{config.host}:{config.port}/{config.database}?sslmode={config.sslmode}"
    props = {"user": config.user, "driver": DRIVER}
    if config.password:
        if secrets is None:
            raise UsageError("the source has a password secret but no secret provider is available")
        props["password"] = str(resolve_secrets(config.password, secrets))
    return url, props


def csv_location(file: str, base_dir: Path) -> str:
    """A table's CSV: an ``s3://`` URI as given, a relative path under the project folder."""
    if "://" in file:
        return file
    path = Path(file) if Path(file).is_absolute() else base_dir / file
    if not path.is_file() or path.stat().st_size == 0:
        raise InputDataError(f"source load: {path} is missing or empty")
    return str(path)


def read_csv(spark: Any, location: str) -> Any:
    """The file's records as text columns plus ``_row_id`` (file order)."""
    from pyspark.sql.types import LongType, StructField, StructType

    frame = (spark.read.option("header", True).option("multiLine", True).option("escape", '"')
             .option("encoding", "UTF-8").option("mode", "FAILFAST").csv(location))
    columns = [c.strip().lstrip("\ufeff") for c in frame.columns]
    frame = frame.toDF(*columns)
    schema = StructType([StructField("_row_id", LongType(), False), *frame.schema.fields])
    rows = frame.rdd.zipWithIndex().map(lambda pair: (pair[1], *pair[0]))
    return spark.createDataFrame(rows, schema)


def jdbc_failure(exc: BaseException, password: str | None) -> str:
    """What went wrong in a Spark JDBC write, by its root cause (never Py4J's ``o123.jdbc``), with
    the one fix a missing driver needs; the password masked wherever the driver echoes it."""
    from engine.run.failures import root_cause

    text = root_cause(exc).replace(password or "\0", "****")
    if "ClassNotFoundException" in text or "No suitable driver" in text:
        text += (" (the JDBC driver is not on Spark's classpath: install it, e.g. apt-get install "
                 "libpostgresql-jdbc-java, then start the command again)")
    return text


def load_table(spark: Any, conn: Any, config: Any, secrets: SecretProvider | None, table: str, location: str) -> int:
    """Replace ``<schema>.<table>`` by the CSV's records (JDBC into staging, then a swap); row count."""
    import psycopg

    schema, staging = config.schema_, f"{table}__loading"
    url, props = jdbc_target(config, secrets)
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    conn.commit()
    frame = read_csv(spark, location)
    try:
        frame.write.jdbc(url, f"{quote(schema)}.{quote(staging)}", mode="overwrite", properties=props)
    except Exception as exc:  # noqa: BLE001 - Py4J errors carry the JDBC message
        raise TerminalError(f"source load of {location} into {schema}.{table}: "
                            f"{jdbc_failure(exc, props.get('password'))}") from None
    try:
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {quote(schema)}.{quote(table)}")
            conn.execute(f"ALTER TABLE {quote(schema)}.{quote(staging)} RENAME TO {quote(table)}")
            (rows,) = conn.execute(f"SELECT count(*) FROM {quote(schema)}.{quote(table)}").fetchone()
    except psycopg.Error as exc:
        raise TerminalError(f"source load of {location}: {str(exc).strip().splitlines()[0]}") from None
    return rows


def load_source(spark: Any, config: Any, secrets: SecretProvider | None, base_dir: Path) -> dict[str, int]:
    """Load every configured table; returns rows per table."""
    locations = {table: csv_location(file, base_dir) for table, file in config.tables.items()}
    out = {}
    with open_connection(config, secrets) as conn:
        for table, location in locations.items():
            out[table] = load_table(spark, conn, config, secrets, table, location)
    return out
