"""The data files of one committed table version, on a local folder or an S3 prefix alike.

Warehouses and the catalog need the same three things from a version: which objects are data
(Spark's ``part-*.parquet``, never ``_SUCCESS``, ``.crc``, ``_manifest.json`` or a failed
attempt's ``_temporary/``), which hive partition each one sits in, and its rows with the
partition columns put back (hive-partitioned files lack them). A committed version whose folder
is gone (pruned by hand, a lifecycle rule) is a one-line error naming the table and the fix,
never an empty table.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from engine.errors import TerminalError
from engine.io.lake import TableVersion

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


@dataclass(frozen=True)
class DataFile:
    """One Parquet data file of a version: where it is, its size, its hive partition values."""

    uri: str                     # a local path, or s3://bucket/key
    relative: str                # path under the version folder, "/"-separated
    size: int
    partition: dict[str, str | None] = field(default_factory=dict, hash=False, compare=False)


def is_s3(path: str) -> bool:
    """Whether a version lives on S3 (the aws profile) rather than in a local folder."""
    return str(path).startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as ``(bucket, key)``."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _is_data(relative: str) -> bool:
    parts = relative.split("/")
    hidden = any(p.startswith(".") or (p.startswith("_") and "=" not in p) for p in parts)
    return relative.endswith(".parquet") and not hidden


def _partition(relative: str) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for segment in relative.split("/")[:-1]:
        if "=" in segment:
            key, raw = segment.split("=", 1)
            values[key] = None if raw == HIVE_NULL else unquote(raw)
    return values


def gone(table: TableVersion) -> TerminalError:
    """The error for a committed version whose files are no longer there."""
    return TerminalError(f"{table.table}: committed version {table.version} is gone from {table.path} "
                         f"(deleted outside medallion); roll back to a kept version (medallion rollback "
                         f"{table.table}) or rebuild it (medallion run --select {table.table})")


def data_files(table: TableVersion, s3: Any = None) -> list[DataFile]:
    """Every data file of ``table``'s committed version, sorted by path.

    Raises :func:`gone` when the version folder (local) or prefix (S3) holds nothing at all.
    """
    if is_s3(table.path):
        from engine.io.aws import call, client

        s3 = client("s3", s3)
        bucket, key = split_s3(table.path.rstrip("/"))
        base = key + "/"
        pages = call(lambda: list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base)),
                     f"listing {table.path}")
        objects = [(o["Key"][len(base):], o["Size"]) for page in pages for o in page.get("Contents", [])]
        if not objects:
            raise gone(table)
        found = [DataFile(f"s3://{bucket}/{base}{rel}", rel, size, _partition(rel))
                 for rel, size in objects if _is_data(rel)]
    else:
        root = Path(table.path)
        if not root.is_dir():
            raise gone(table)
        found = []
        for path in root.rglob("*.parquet"):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and _is_data(rel):
                found.append(DataFile(str(path), rel, path.stat().st_size, _partition(rel)))
    if table.rows and not found:
        raise TerminalError(f"{table.table} v{table.version}: {table.path} holds no Parquet data files "
                            f"but its commit records {table.rows} rows")
    return sorted(found, key=lambda f: f.relative)


def arrow_type(spark_type: str) -> Any:
    """The Arrow type of a Spark simpleString type (anything nested travels as text)."""
    import pyarrow as pa

    decimal = _DECIMAL.match(spark_type)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    return {"boolean": pa.bool_(), "tinyint": pa.int8(), "smallint": pa.int16(), "int": pa.int32(),
            "bigint": pa.int64(), "float": pa.float32(), "double": pa.float64(), "date": pa.date32(),
            "timestamp": pa.timestamp("us"), "timestamp_ntz": pa.timestamp("us"),
            "binary": pa.binary()}.get(spark_type, pa.string())


def read_file(file: DataFile, table: TableVersion, s3: Any = None) -> Any:
    """One data file as an Arrow table with every column of ``table``, in its column order.

    Partition columns come from the file's folder names, typed as the table declares them.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if is_s3(file.uri):
        from engine.io.aws import call, client

        s3 = client("s3", s3)
        bucket, key = split_s3(file.uri)
        body = call(lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read(), f"reading {file.uri}")
        data = pq.read_table(io.BytesIO(body), coerce_int96_timestamp_unit="us")
    else:
        data = pq.read_table(file.uri, coerce_int96_timestamp_unit="us")
    arrays = []
    for col in table.columns:
        name = col["name"]
        if name in table.partition_by:
            if name not in file.partition:
                raise TerminalError(f"{table.table}: {file.uri} is not under a '{name}=' folder")
            try:
                arrays.append(pa.array([file.partition[name]] * data.num_rows, pa.string())
                              .cast(arrow_type(col["type"])))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise TerminalError(f"{table.table}: partition value {name}={file.partition[name]!r} is not a "
                                    f"{col['type']}: {exc}") from None
        else:
            arrays.append(data.column(name))
    return pa.table(arrays, names=[c["name"] for c in table.columns])


def iter_rows(table: TableVersion, s3: Any = None, batch_size: int = 50_000) -> Iterator[tuple[Any, ...]]:
    """Rows of a committed version in its column order (partition columns included)."""
    for file in data_files(table, s3):
        for batch in read_file(file, table, s3).to_batches(max_chunksize=batch_size):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            yield from zip(*columns)
