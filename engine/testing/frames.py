"""Frames from rows written in YAML, typed from a known schema where there is one.

Why typed: a test's ``item_price: 5.00`` must reach the spec as the ``decimal(10,2)`` the
upstream spec really produces, or the test would pass on doubles and the run fail on decimals.
Columns of the known schema a test leaves out are null (typed); columns it adds are inferred.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (BooleanType, DataType, DateType, DecimalType, DoubleType, FloatType, IntegralType,
                               LongType, StringType, StructField, StructType, TimestampType,
                               _parse_datatype_string)

from engine.errors import SpecError


def _infer(values: list[Any]) -> DataType:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return BooleanType()
    if isinstance(sample, int):
        return LongType()
    if isinstance(sample, (float, Decimal)):
        return DoubleType()
    if isinstance(sample, datetime):
        return TimestampType()
    if isinstance(sample, date):
        return DateType()
    return StringType()


def convert(value: Any, kind: DataType, column: str) -> Any:
    """One YAML value as the Python value Spark expects for ``kind``."""
    if value is None:
        return None
    try:
        if isinstance(kind, TimestampType):
            return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", ""))
        if isinstance(kind, DateType):
            if isinstance(value, datetime):
                return value.date()
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if isinstance(kind, DecimalType):
            return Decimal(str(value))
        if isinstance(kind, IntegralType):
            return int(value)
        if isinstance(kind, (DoubleType, FloatType)):
            return float(value)
        if isinstance(kind, BooleanType):
            if isinstance(value, str):
                return {"true": True, "false": False}[value.lower()]
            return bool(value)
        if isinstance(kind, StringType):
            return value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    except (ValueError, KeyError, ArithmeticError) as exc:
        raise ValueError(f"column '{column}': {value!r} is not a {kind.simpleString()} ({exc})") from None
    return value


def _spark_type(text: str | None) -> DataType | None:
    if not text:
        return None
    try:
        return _parse_datatype_string(text)
    except Exception:  # noqa: BLE001 - a type sqlglot wrote that Spark spells differently
        return None


def given_frame(spark: SparkSession, rows: list[dict[str, Any]], known: dict[str, str | None] | None,
                where: SpecError) -> DataFrame:
    """A frame of ``rows``; ``known`` is column -> Spark type of the upstream output (or None)."""
    columns = list(known or {})
    lowered = {c.lower(): c for c in columns}
    for row in rows:
        for key in row:
            if str(key).lower() not in lowered:
                lowered[str(key).lower()] = str(key)
                columns.append(str(key))
    fields = []
    for column in columns:
        values = [next((v for k, v in row.items() if str(k).lower() == column.lower()), None) for row in rows]
        kind = _spark_type((known or {}).get(column)) or _infer(values)
        fields.append(StructField(column, kind, True))
    data = []
    for row in rows:
        by_name = {str(k).lower(): v for k, v in row.items()}
        try:
            data.append(tuple(convert(by_name.get(f.name.lower()), f.dataType, f.name) for f in fields))
        except ValueError as exc:
            raise SpecError(f"{where.message}: {exc}", path=where.path, line=where.line) from None
    return spark.createDataFrame(data, StructType(fields))
