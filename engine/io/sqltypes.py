"""Spark column types as SQL column types, for warehouses that hold real tables.

Types must survive the trip exactly: decimals keep precision and scale, timestamps are UTC
instants (Spark's session time zone is UTC), booleans stay booleans.
"""

from __future__ import annotations

import re

_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")

_POSTGRES = {
    "string": "text", "boolean": "boolean", "tinyint": "smallint", "smallint": "smallint",
    "int": "integer", "bigint": "bigint", "float": "real", "double": "double precision",
    "date": "date", "timestamp": "timestamp", "timestamp_ntz": "timestamp", "binary": "bytea",
}
_REDSHIFT = {
    "string": "VARCHAR(65535)", "boolean": "BOOLEAN", "tinyint": "SMALLINT", "smallint": "SMALLINT",
    "int": "INTEGER", "bigint": "BIGINT", "float": "REAL", "double": "DOUBLE PRECISION",
    "date": "DATE", "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP", "binary": "VARBYTE",
}


def sql_type(spark_type: str, dialect: str) -> str:
    """The column type for ``dialect`` (postgres | redshift) of a Spark simpleString type."""
    table = {"postgres": _POSTGRES, "redshift": _REDSHIFT}[dialect]
    decimal = _DECIMAL.match(spark_type)
    if decimal:
        return f"{'numeric' if dialect == 'postgres' else 'DECIMAL'}({decimal.group(1)},{decimal.group(2)})"
    if spark_type in table:
        return table[spark_type]
    return table["string"]  # arrays, maps, structs travel as JSON text


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def published_layers() -> tuple[str, ...]:
    """Layers a server warehouse receives (bronze stays in the lake)."""
    return ("silver", "gold", "quarantine")
