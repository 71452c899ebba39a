"""The one engine and session factory per database URL (SQLite with WAL, or PostgreSQL), and `init_db`."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.errors import ConfigError, ConflictError
from core.settings import get_settings
from db.sqlite_writes.engine import SQLITE_BUSY_TIMEOUT_MS, WRITE_OPTION, configure_engine, sqlite_group_commit
from db.sqlite_writes.group_commit import Result

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_initialized: set[str] = set()


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else CRITIC_DATABASE_URL, else an SQLite file under CRITIC_HOME."""
    return url or get_settings().resolved_database_url


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigError(f"CRITIC_DATABASE_URL {url!r} is not a valid SQLAlchemy URL ({exc})") from exc
    if parsed.get_backend_name() == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        if not in_memory:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {
            "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        }
        if in_memory:
            kwargs["poolclass"] = StaticPool
        else:
            kwargs.update(pool_size=10, max_overflow=40)
        engine = create_engine(parsed, **kwargs)
        configure_engine(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_size=10, max_overflow=40, pool_pre_ping=True)
    raise ConfigError(f"database URL {url!r}: only sqlite:// and postgresql:// URLs are supported")


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured database), created on first use."""
    key = database_url(url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create_engine(key)
        return engine


def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    """The session factory bound to `url`'s engine. Sessions keep objects usable after commit."""
    key = database_url(url)
    with _lock:
        factory = _factories.get(key)
    if factory is None:
        factory = sessionmaker(bind=get_engine(key), expire_on_commit=False)
        with _lock:
            factory = _factories.setdefault(key, factory)
    return factory


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that is closed (and anything uncommitted rolled back) on exit; repositories commit."""
    session = get_sessionmaker(url)()
    try:
        yield session
    finally:
        session.close()


def begin_write(session: Session) -> None:
    """Start the session's transaction as a write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: plain).

    Repositories call this first in every write; it does nothing if the session is already in a transaction.
    """
    if not session.in_transaction():
        session.connection(execution_options={WRITE_OPTION: True})


def commit_unique(session: Session, conflict: str) -> None:
    """Commit; if a unique constraint refuses the change, roll back and raise ConflictError(`conflict`)."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(conflict) from exc


def run_write(session: Session, work: Callable[[Connection], Result]) -> Result:
    """Run `work(connection)` in a write transaction, commit, and return its value.

    On an SQLite file the transaction may be shared with this process's other saves (group commit); elsewhere it
    is the session's own. The caller has everything ready beforehand: on SQLite every other writer waits for it.
    """
    group = sqlite_group_commit(session)
    if group is not None:
        return group.run(work)
    begin_write(session)
    value = work(session.connection())
    session.commit()
    return value


def init_db(url: str | None = None) -> Engine:
    """Create or upgrade the database to the newest schema (once per process and URL); return its engine."""
    key = database_url(url)
    if key not in _initialized:
        from db.migrate import upgrade

        upgrade(key)
        _initialized.add(key)
    return get_engine(key)


def dispose_engines(*, close: bool = True) -> None:
    """Forget every engine and close its pooled connections (tests).

    In a forked child call it with `close=False` first: the parent's connections are left to the parent.
    """
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
        _factories.clear()
        _initialized.clear()
    for engine in engines:
        engine.dispose(close=close)


def _after_fork_in_child() -> None:
    # A forked child must not use (or close) the parent's pooled connections, nor inherit its locks.
    global _lock
    _lock = threading.Lock()
    dispose_engines(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)
