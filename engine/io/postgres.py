"""PostgreSQL as a warehouse and as the RDS-style source database (psycopg 3).

Publishing a table is one transaction: create a staging table, COPY the committed Parquet
version into it, check the row count, drop the old table and rename the staging one, record
the published version. A failure rolls all of it back, so readers keep the previous table.
PostgreSQL (RDS included) cannot read Parquet from S3 itself, so the rows are streamed from the
version's files, local or on S3 (read with boto3, partition columns put back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collections.abc import Sequence

from engine.errors import QueryFailed, TerminalError, TransientError, UsageError
from engine.io.lake import TableVersion
from engine.io.sqltypes import published_layers, quote, sql_type
from engine.io.versionfiles import data_files, iter_rows
from engine.spec.secrets import SecretProvider, resolve_secrets

META_SCHEMA = "medallion"
META_TABLE = f"{META_SCHEMA}.published"


def connect_kwargs(config: Any, secrets: SecretProvider | None) -> dict[str, Any]:
    """psycopg connection arguments; the password is resolved here, at connect time only."""
    kwargs: dict[str, Any] = {"host": config.host, "port": config.port, "dbname": config.database,
                              "user": config.user, "sslmode": config.sslmode, "connect_timeout": 10}
    if config.password:
        if secrets is None:
            raise UsageError("a password secret is configured but no secret provider is available")
        kwargs["password"] = str(resolve_secrets(config.password, secrets))
    return kwargs


def open_connection(config: Any, secrets: SecretProvider | None, connect: Callable[..., Any] | None = None) -> Any:
    """A connection, with connection failures classified as transient (retry-worthy)."""
    import psycopg

    try:
        return (connect or psycopg.connect)(**connect_kwargs(config, secrets))
    except psycopg.OperationalError as exc:
        raise TransientError(f"cannot connect to PostgreSQL at {config.host}:{config.port}/{config.database}: "
                             f"{str(exc).strip().splitlines()[0]}") from None


class PostgresWarehouse:
    """Silver, gold and quarantine tables as real PostgreSQL tables named <layer>.<name>."""

    dialect = "postgres"

    def __init__(self, config: Any, secrets: SecretProvider | None, connect: Callable[..., Any] | None = None,
                 s3: Any = None):
        self.config = config
        self.secrets = secrets
        self.connect = connect
        self.s3 = s3  # for versions on S3; boto3's default client when None

    @classmethod
    def from_config(cls, config: Any, setup: Any) -> "PostgresWarehouse":
        return cls(config, setup.secrets)

    def describe(self) -> str:
        return f"PostgreSQL {self.config.host}:{self.config.port}/{self.config.database}"

    def open(self) -> Any:
        """A connection as the configured user (the dashboards use it for bound parameters)."""
        return open_connection(self.config, self.secrets, self.connect)

    def published(self) -> dict[str, int]:
        """The version each published table shows now."""
        with self.open() as conn:
            return self._published(conn)

    def _published(self, conn: Any) -> dict[str, int]:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (table_name text PRIMARY KEY, version integer, "
                     "rows bigint, published_at timestamptz DEFAULT now())")
        conn.commit()
        return dict(conn.execute(f"SELECT table_name, version FROM {META_TABLE}").fetchall())

    def refresh(self, tables: list[TableVersion], hints: dict[str, Any] | None = None) -> list[str]:
        """Publish every table whose committed version is not the published one; returns them."""
        todo = [t for t in tables if t.table.split(".", 1)[0] in published_layers()]
        if not todo:
            return []
        done = []
        with open_connection(self.config, self.secrets, self.connect) as conn:
            published = self._published(conn)
            for table in todo:
                if published.get(table.table) != table.version:
                    data_files(table, self.s3)  # a version whose files are gone fails here, by name
                    self.publish(conn, table)
                    done.append(table.table)
            if self.config.reader is not None:
                self.grant_reader(conn, bool(done))
        return done

    def grant_reader(self, conn: Any, published: bool) -> None:
        """Create the dashboards' read-only login when missing; grant it gold and the health table."""
        from engine.io.readonly import exists_sql, reader_statements

        reader = self.config.reader
        exists = bool(conn.execute(exists_sql("postgres"), (reader.user,)).fetchall())
        with conn.transaction():
            for sql in reader_statements(reader, exists, published, self.secrets, "postgres"):
                conn.execute(sql)

    def reader(self) -> "PostgresWarehouse":
        """The same warehouse as the dashboards' read-only login (the ETL login without one)."""
        if self.config.reader is None:
            return self
        from engine.io.readonly import as_reader

        return PostgresWarehouse(as_reader(self.config), self.secrets, self.connect, self.s3)

    def publish(self, conn: Any, table: TableVersion) -> None:
        """Replace ``table`` in one transaction (staging + COPY + count check + swap)."""
        import psycopg

        layer, name = table.table.split(".", 1)
        staging = f"{name}__v{table.version}"
        columns = ", ".join(f"{quote(c['name'])} {sql_type(c['type'], 'postgres')}" for c in table.columns)
        names = ", ".join(quote(c["name"]) for c in table.columns)
        try:
            with conn.transaction():
                conn.execute("SET LOCAL TIME ZONE 'UTC'")
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(layer)}")
                conn.execute(f"DROP TABLE IF EXISTS {quote(layer)}.{quote(staging)}")
                conn.execute(f"CREATE TABLE {quote(layer)}.{quote(staging)} ({columns})")
                with conn.cursor().copy(f"COPY {quote(layer)}.{quote(staging)} ({names}) FROM STDIN") as copy:
                    for row in iter_rows(table, self.s3):
                        copy.write_row(row)
                (count,) = conn.execute(f"SELECT count(*) FROM {quote(layer)}.{quote(staging)}").fetchone()
                if count != table.rows:
                    raise TerminalError(f"publishing {table.table}: loaded {count} rows, the lake has {table.rows}")
                conn.execute(f"DROP TABLE IF EXISTS {quote(layer)}.{quote(name)}")
                conn.execute(f"ALTER TABLE {quote(layer)}.{quote(staging)} RENAME TO {quote(name)}")
                conn.execute(f"INSERT INTO {META_TABLE} (table_name, version, rows, published_at) "
                             "VALUES (%s, %s, %s, now()) ON CONFLICT (table_name) DO UPDATE SET "
                             "version = EXCLUDED.version, rows = EXCLUDED.rows, published_at = now()",
                             (table.table, table.version, table.rows))
        except psycopg.OperationalError as exc:
            raise TransientError(f"publishing {table.table}: {str(exc).strip().splitlines()[0]}") from None
        except psycopg.Error as exc:
            raise TerminalError(f"publishing {table.table}: {str(exc).strip().splitlines()[0]}") from None

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement (``%s`` placeholders bound to ``params``); never commits."""
        import psycopg

        with self.open() as conn:
            try:
                cursor = conn.execute(sql, tuple(params) if params is not None else None)
                columns = [d.name for d in cursor.description or []]
                return columns, cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError as exc:
                raise TransientError(f"PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
            except psycopg.Error as exc:
                raise QueryFailed(f"query failed: {str(exc).strip().splitlines()[0]}") from None
            finally:
                try:
                    conn.rollback()  # read-only use: nothing a statement did is kept
                except psycopg.Error:
                    pass
