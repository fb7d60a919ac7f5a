"""Committed lake versions registered in the AWS Glue Data Catalog (Athena, Redshift Spectrum).

Why: the lake's pointer (``_current.json``) is the truth about which version readers use, but
Athena and Spectrum only know a table by its catalog entry. Each committed table is one Glue
table in the database of its layer (``<prefix><layer>``), whose location is the committed
version's own prefix, so a query there reads exactly what the pointer names and never a
half-written version. Registration runs with every warehouse refresh (after a run's commits,
after ``medallion rollback``), so a rollback re-points the catalog too. It is idempotent: a
table whose entry already names the version costs one ``GetTable``.

Partitioned versions register their partitions (each under the version's prefix); moving to
another version replaces them all, because every partition location changes with the version.
The lake's own files (``_manifest.json``, ``_SUCCESS``) start with ``_``, which Athena and
Spectrum skip. Iceberg was considered and not taken: see docs/design.md.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from engine.errors import UsageError
from engine.io.aws import CONDITION_CODES, MISSING_CODES, call, client, error_code
from engine.io.lake import TableVersion
from engine.io.versionfiles import data_files, is_s3

VERSION_PARAM = "medallion_version"
PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
_NAME = re.compile(r"^[a-z0-9_]+$")


def hive_type(spark_type: str) -> str:
    """The Glue (Hive) column type of a Spark simpleString type."""
    return {"timestamp_ntz": "timestamp", "void": "string"}.get(spark_type, spark_type)


class GlueCatalog:
    """One Glue database per layer, one table per lake table, pointing at its committed version."""

    def __init__(self, database_prefix: str = "medallion_", glue: Any = None, s3: Any = None):
        if not _NAME.match(database_prefix + "x"):
            raise UsageError(f"catalog database_prefix '{database_prefix}': Glue database names are "
                             "lower-case letters, digits and underscores")
        self.prefix = database_prefix
        self._glue = glue
        self._s3 = s3

    @property
    def glue(self) -> Any:
        self._glue = client("glue", self._glue)
        return self._glue

    def database(self, table: str) -> str:
        """The Glue database of a lake table's layer."""
        return self.prefix + table.split(".", 1)[0]

    def registered(self, table: str) -> int | None:
        """The version the catalog names for ``table`` (None when not registered)."""
        layer_db, name = self.database(table), table.split(".", 1)[1]
        try:
            found = call(lambda: self.glue.get_table(DatabaseName=layer_db, Name=name), f"reading Glue table {table}")
        except Exception as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise
        value = found["Table"].get("Parameters", {}).get(VERSION_PARAM)
        return int(value) if value else None

    def register(self, tables: Sequence[TableVersion]) -> list[str]:
        """Point each table's catalog entry at its committed version; returns the tables changed."""
        done = []
        for table in tables:
            if not is_s3(table.path):
                raise UsageError(f"{table.table}: the Glue catalog registers S3 locations only ({table.path})")
            if self.registered(table.table) == table.version:
                continue
            self._ensure_database(self.database(table.table))
            self._put_table(table)
            if table.partition_by:
                self._replace_partitions(table)
            done.append(table.table)
        return done

    def _ensure_database(self, name: str) -> None:
        try:
            call(lambda: self.glue.create_database(DatabaseInput={
                "Name": name, "Description": "medallion lake layer (one table per committed lake table)"}),
                f"creating Glue database {name}")
        except Exception as exc:
            if error_code(exc) not in CONDITION_CODES:
                raise

    def _table_input(self, table: TableVersion) -> dict[str, Any]:
        columns = [{"Name": c["name"], "Type": hive_type(c["type"])} for c in table.columns
                   if c["name"] not in table.partition_by]
        types = {c["name"]: c["type"] for c in table.columns}
        return {
            "Name": table.table.split(".", 1)[1],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", VERSION_PARAM: str(table.version),
                           "medallion_run_id": table.run_id, "medallion_committed_at": table.committed_at},
            "PartitionKeys": [{"Name": p, "Type": hive_type(types.get(p, "string"))} for p in table.partition_by],
            "StorageDescriptor": {"Columns": columns, "Location": table.path.rstrip("/") + "/", **PARQUET},
        }

    def _put_table(self, table: TableVersion) -> None:
        database, body = self.database(table.table), self._table_input(table)
        try:
            call(lambda: self.glue.update_table(DatabaseName=database, TableInput=body),
                 f"re-pointing Glue table {table.table}")
        except Exception as exc:
            if error_code(exc) not in MISSING_CODES:
                raise
            call(lambda: self.glue.create_table(DatabaseName=database, TableInput=body),
                 f"creating Glue table {table.table}")

    def _replace_partitions(self, table: TableVersion) -> None:
        """Drop the previous version's partitions and add this version's (locations under it)."""
        database, name = self.database(table.table), table.table.split(".", 1)[1]
        pages = call(lambda: list(self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=name)), f"listing partitions of {table.table}")
        old = [{"Values": p["Values"]} for page in pages for p in page.get("Partitions", [])]
        for start in range(0, len(old), 25):
            call(lambda s=start: self.glue.batch_delete_partition(
                DatabaseName=database, TableName=name, PartitionsToDelete=old[s:s + 25]),
                f"dropping old partitions of {table.table}")
        base = table.path.rstrip("/")
        seen: dict[tuple, str] = {}
        for f in data_files(table, client("s3", self._s3)):
            values = tuple("__HIVE_DEFAULT_PARTITION__" if f.partition.get(p) is None else f.partition[p]
                           for p in table.partition_by)
            seen.setdefault(values, base + "/" + f.relative.rsplit("/", 1)[0] + "/")
        storage = self._table_input(table)["StorageDescriptor"]
        new = [{"Values": list(v), "StorageDescriptor": {**storage, "Location": loc}} for v, loc in sorted(seen.items())]
        for start in range(0, len(new), 100):
            found = call(lambda s=start: self.glue.batch_create_partition(
                DatabaseName=database, TableName=name, PartitionInputList=new[s:s + 100]),
                f"adding partitions of {table.table}")
            if found.get("Errors"):
                error = found["Errors"][0]["ErrorDetail"]
                raise UsageError(f"Glue refused a partition of {table.table}: {error.get('ErrorMessage')}")


class CatalogedWarehouse:
    """A warehouse whose refresh also registers the committed versions in the catalog.

    The runner and ``medallion rollback`` refresh the warehouse after every commit or re-point,
    so wrapping it is what keeps the catalog on the committed versions without a hook in the
    lake's commit path. The catalog goes first: it is cheap, and Athena users see the new
    version even if a warehouse publish fails.
    """

    def __init__(self, warehouse: Any, catalog: GlueCatalog):
        self.warehouse = warehouse
        self.catalog = catalog
        self.dialect = warehouse.dialect

    def describe(self) -> str:
        return self.warehouse.describe()

    def refresh(self, tables: list[TableVersion], hints: dict[str, Any] | None = None) -> list[str]:
        self.catalog.register(tables)
        return self.warehouse.refresh(tables, hints)

    def published(self) -> dict[str, int]:
        return self.warehouse.published()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return self.warehouse.query(sql, params)

    def open(self) -> Any:
        return self.warehouse.open()

    def reader(self) -> Any:
        return self.warehouse.reader()
