"""The dashboards' read-only warehouse login, created and granted by the publish step.

Why: the dashboards face business users; if they connected as the ETL user, a bug or an
injected statement could rewrite gold or read silver's card tokens. So the warehouse has a
login of their own that can SELECT the gold schema and the health table
(``medallion.published``: what version each table shows and since when) and nothing else: no
silver, no quarantine, no bronze, no writes, no DDL (PostgreSQL 15+ and Redshift give PUBLIC no
CREATE on ``public``). Grants are re-applied on every refresh, because a publish replaces
tables (a new table has no grants) and a refresh after a failed grant must heal it.

The password is the secret the config names; with Secrets Manager the first publish generates
it when it does not exist yet, locally it comes from the environment like every other secret.
With ``create_login: false`` (the repository's aws profile) the login and its password belong to
the deploy stack: its rotation function creates the user and rotates the password in Secrets
Manager, the dashboards' task reads it there, and the publish step only grants (the ETL user may
not create or re-password other users).
"""

from __future__ import annotations

import secrets as random
from typing import Any

from engine.errors import SpecError, TerminalError
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


def reader_sql(user: str, password: str | None, exists: bool, dialect: str) -> list[str]:
    """Create (or re-password) the login, then grant exactly what the dashboards read.

    ``password`` None: the login is managed elsewhere (``create_login: false``), grants only.
    """
    kind = "ROLE" if dialect == "postgres" else "USER"
    login = " LOGIN" if dialect == "postgres" else ""
    verb = "ALTER" if exists else "CREATE"
    schema, table = HEALTH_TABLE
    out = [] if password is None else [f"{verb} {kind} {quote(user)}{login} PASSWORD {literal(password)}"]
    for name in READ_SCHEMAS:
        out += [f"CREATE SCHEMA IF NOT EXISTS {quote(name)}",
                f"GRANT USAGE ON SCHEMA {quote(name)} TO {quote(user)}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA {quote(name)} TO {quote(user)}"]
    return [*out, f"GRANT USAGE ON SCHEMA {quote(schema)} TO {quote(user)}",
            f"GRANT SELECT ON {quote(schema)}.{quote(table)} TO {quote(user)}"]


def reader_statements(reader: Any, exists: bool, published: bool, provider: SecretProvider,
                      dialect: str) -> list[str]:
    """What a refresh runs for the login: grants every time (a few cheap statements, and the refresh
    after a failed one heals them); the password when the login is made and after a publish (a
    changed secret takes effect), never for a login another party owns (``create_login: false``)."""
    if not reader.create_login:
        if not exists:
            raise TerminalError(f"the dashboards' login {reader.user} does not exist and "
                                "warehouse.reader.create_login is false: it is created by whoever manages it (on "
                                "AWS the first rotation of the stack's secret DashboardsPasswordSecret; run "
                                "`medallion deploy`), then publish again")
        password = None
    elif exists and not published:
        password = None
    else:
        password = reader_password(reader.password, provider)
    return reader_sql(reader.user, password, exists, dialect)


def exists_sql(dialect: str) -> str:
    """A query with one row when the login exists (bound parameter: the user name)."""
    return ("SELECT 1 FROM pg_roles WHERE rolname = %s" if dialect == "postgres"
            else "SELECT 1 FROM pg_user WHERE usename = %s")


def as_reader(config: Any) -> Any:
    """The warehouse config with the reader's login instead of the ETL user's."""
    reader = config.reader
    return config.model_copy(update={"user": reader.user, "password": reader.password, "reader": None})
