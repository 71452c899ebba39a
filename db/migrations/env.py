"""Alembic environment: runs migrations on the connection db.migrate passes in, or on the configured database."""

from __future__ import annotations

from alembic import context

from db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from db.session import database_url, get_engine
    from db.sqlite_writes.engine import WRITE_OPTION

    engine = get_engine(config.get_main_option("sqlalchemy.url") or database_url())
    with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
