"""The dashboards' read-only warehouse login, created and granted by the publish step.

Why: the dashboards face business users; if they connected as the ETL user, a bug or an
injected statement could rewrite gold or read silver's card tokens. So the warehouse has a
login of their own that can SELECT the gold schema and the health table
(``medallion.published``: what version each table shows and since when) and nothing else: no
silver, no quarantine, no bronze, no writes, no DDL (PostgreSQL 15+ and Redshift give PUBLIC no
CREATE on ``public``). Grants are re-applied after every publish, because a publish replaces
tables (a new table has no grants).

The password is the secret the config names; on AWS the first publish generates it into
Secrets Manager when it does not exist yet (the dashboards' task reads it from there), locally it
comes from the environment like every other secret.
"""

from __future__ import annotations

import secrets as random
from typing import Any

from engine.errors import SpecError
from engine.io.sqltypes import quote
from engine.spec.interpolate import SECRET_REF
from engine.spec.secrets import SecretProvider

READ_SCHEMAS = ("gold",)
HEALTH_TABLE = ("medallion", "published")


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def reader_password(reference: str, provider: SecretProvider) -> str:
    """The reader's password; generated and stored when the provider can store and has none."""
    match = SECRET_REF.fullmatch(reference)
    if match is None:
        raise SpecError("warehouse.reader.password must be a ${secret:name} reference, never a literal")
    try:
        return str(provider.get(match["name"]))
    except SpecError:
        create = getattr(provider, "create", None)
        if create is None:
            raise
        value = random.token_urlsafe(24) + "Aa1"  # Redshift wants upper, lower and a digit
        create(match["name"], value)
        return value


def reader_sql(user: str, password: str, exists: bool, dialect: str) -> list[str]:
    """Create (or re-password) the login, then grant exactly what the dashboards read."""
    kind = "ROLE" if dialect == "postgres" else "USER"
    login = " LOGIN" if dialect == "postgres" else ""
    account = (f"ALTER {kind} {quote(user)}{login} PASSWORD {literal(password)}" if exists
               else f"CREATE {kind} {quote(user)}{login} PASSWORD {literal(password)}")
    schema, table = HEALTH_TABLE
    out = [account]
    for name in READ_SCHEMAS:
        out += [f"CREATE SCHEMA IF NOT EXISTS {quote(name)}",
                f"GRANT USAGE ON SCHEMA {quote(name)} TO {quote(user)}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA {quote(name)} TO {quote(user)}"]
    return [*out, f"GRANT USAGE ON SCHEMA {quote(schema)} TO {quote(user)}",
            f"GRANT SELECT ON {quote(schema)}.{quote(table)} TO {quote(user)}"]


def exists_sql(dialect: str) -> str:
    """A query with one row when the login exists (bound parameter: the user name)."""
    return ("SELECT 1 FROM pg_roles WHERE rolname = %s" if dialect == "postgres"
            else "SELECT 1 FROM pg_user WHERE usename = %s")


def as_reader(config: Any) -> Any:
    """The warehouse config with the reader's login instead of the ETL user's."""
    reader = config.reader
    return config.model_copy(update={"user": reader.user, "password": reader.password, "reader": None})
