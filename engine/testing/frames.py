"""Frames from rows written in YAML, typed from a known schema where there is one.

Why typed: a test's ``item_price: 5.00`` must reach the spec as the ``decimal(10,2)`` the
upstream spec really produces, or the test would pass on doubles and the run fail on decimals.
Columns of the known schema a test leaves out are null (typed); columns it adds are inferred.

Timestamps are written in the Spark session's time zone, as Spark shows them: PySpark would
read a naive ``datetime`` in the Python process's local zone, so ``10:00`` on a laptop in New
York would reach a UTC session as 15:00 and ``hour()`` or a date would differ from the YAML.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def session_zone(spark: SparkSession) -> tzinfo | None:
    """The session time zone (``spark.sql.session.timeZone``); None when it is not a zone name."""
    try:
        return ZoneInfo(str(spark.conf.get("spark.sql.session.timeZone")))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def convert(value: Any, kind: DataType, column: str, zone: tzinfo | None = None) -> Any:
    """One YAML value as the Python value Spark expects for ``kind``.

    A timestamp without an offset is a wall time in ``zone`` (the session time zone).
    """
    if value is None:
        return None
    try:
        if isinstance(kind, TimestampType):
            stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return stamp.replace(tzinfo=zone) if stamp.tzinfo is None and zone is not None else stamp
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
                where: Callable[[int], SpecError]) -> DataFrame:
    """A frame of ``rows``; ``known`` is column -> Spark type of the upstream output (or None).

    ``where(i)`` locates row ``i`` in the spec file: a value that cannot be typed is reported
    at its own row's line.
    """
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
    zone = session_zone(spark)
    for i, row in enumerate(rows):
        by_name = {str(k).lower(): v for k, v in row.items()}
        try:
            data.append(tuple(convert(by_name.get(f.name.lower()), f.dataType, f.name, zone) for f in fields))
        except ValueError as exc:
            at = where(i)
            raise SpecError(f"{at.message}: {exc}", path=at.path, line=at.line) from None
    return spark.createDataFrame(data, StructType(fields))


def session_rows(frame: DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """``frame``'s rows as dicts, timestamps as naive wall times of the session time zone.

    PySpark hands timestamps back in the Python process's local zone; the expected rows are
    written as Spark shows them, in the session's.
    """
    zone = session_zone(frame.sparkSession)
    rows = [r.asDict() for r in (frame.select(*columns) if columns else frame).collect()]
    stamps = [f.name for f in frame.schema.fields if isinstance(f.dataType, TimestampType)
              and (not columns or f.name in columns)]
    if zone is None or not stamps:
        return rows
    for row in rows:
        for name in stamps:
            if row.get(name) is not None:
                row[name] = row[name].astimezone(zone).replace(tzinfo=None)
    return rows
