"""Alembic glue: upgrade a database to head (safely from several processes), report revisions and drift."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from core.errors import ConflictError
from db.session import database_url, get_engine
from db.sqlite_writes.engine import WRITE_OPTION

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
# Any constant: PostgreSQL advisory lock that serialises concurrent upgrades (several app processes starting).
_PG_MIGRATION_LOCK = 724_001


def alembic_config(url: str | None = None) -> Config:
    """An alembic Config for the packaged migrations, pointed at `url` (default: the configured database)."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at; None for an empty database."""
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database to `revision` in one transaction; concurrent callers wait and then do nothing."""
    if revision == "head" and current_revision(url) == head_revision():
        return
    config = alembic_config(url)
    with _migration_transaction(url) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    config = alembic_config(url)
    with _migration_transaction(url) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


@contextmanager
def _migration_transaction(url: str | None) -> Iterator[Connection]:
    """One write transaction for migrations; on SQLite with foreign keys off, and checked before it commits.

    SQLite's batch mode copies a table and drops the original: with foreign keys enforced, that drop would
    delete the rows of every table that refers to it with ON DELETE CASCADE. The pragma only takes effect
    outside a transaction, so it is set on the driver's connection before the transaction begins.
    """
    with get_engine(url).execution_options(**{WRITE_OPTION: True}).connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all() if sqlite else []
                if broken:
                    raise ConflictError(f"the migration left {len(broken)} rows that refer to missing rows")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def schema_drift(url: str | None = None) -> list[Any]:
    """Differences between the models and the database schema (empty when the migrations match the models)."""
    from db.models import Base

    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))
