"""The one engine and session factory per database URL (SQLite with WAL, or PostgreSQL), and `init_db`."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable, compiler

from core.errors import ConfigError
from core.settings import get_settings
from db.group_commit import GroupCommit, Result, group_commit
from db.write_queue import WriteQueue

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that makes an SQLite transaction start with BEGIN IMMEDIATE (take the write lock up
# front): a deferred transaction that reads and then writes fails at once with "database is locked"
# when another writer committed in between, instead of waiting for the busy timeout.
WRITE_OPTION = "critic_write"
# Execution option: a place in the SQLite write queue whose turn has come (the group commit waits for its
# turn itself); the transaction takes it over and lets the next writer go when it ends.
WRITE_PLACE_OPTION = "critic_write_place"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_initialized: set[str] = set()
# Threads at the head of an SQLite write queue (see _configure_sqlite).
_lock_holders: dict[int, bool] = {}


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else CRITIC_DATABASE_URL, else an SQLite file under CRITIC_HOME."""
    return url or get_settings().resolved_database_url


@functools.cache
def _write_queue(database_path: str) -> WriteQueue:
    return WriteQueue(database_path)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # Safe with WAL against process crashes (kill -9); only an OS crash can lose the last commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    in_memory = engine.url.database in (None, "", ":memory:")
    queue = None if in_memory else _write_queue(engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if not options.get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN")
            return
        thread = threading.get_ident()
        # A second write transaction opened by a thread that holds one already would wait for itself
        # forever: it falls back to SQLite's own busy timeout (an error after 30 s).
        if queue is not None and not _lock_holders.get(thread):
            # Writers queue first come, first served (see db.write_queue); SQLite's busy handler alone
            # retries with sleeps of up to 100 ms, so under many writers a few would wait far longer than the rest.
            place = options.get(WRITE_PLACE_OPTION) or queue.acquire(SQLITE_BUSY_TIMEOUT_MS / 1000)
            conn.info["write_queue_place"] = (thread, place)
            _lock_holders[thread] = True
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _release(dbapi_connection: Any, record: Any, *_args: Any) -> None:
        entry = record.info.pop("write_queue_place", None)
        if entry is not None and queue is not None:
            thread, place = entry
            _lock_holders.pop(thread, None)
            queue.release(place)

    # The transaction has ended (commit or rollback) when its connection goes back to the pool.
    event.listen(engine, "checkin", _release)
    event.listen(engine, "close", _release)
    event.listen(engine, "invalidate", _release)


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
        _configure_sqlite(engine)
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


def sqlite_group_commit(session: Session) -> GroupCommit | None:
    """The group commit for the session's SQLite database file (see db.group_commit); None for other databases.

    PostgreSQL runs concurrent writers in parallel, and an in-memory SQLite database has one connection.
    """
    engine = session.get_bind()
    if not isinstance(engine, Engine) or engine.dialect.name != "sqlite":
        return None
    if engine.url.database in (None, "", ":memory:"):
        return None
    if _lock_holders.get(threading.get_ident()):
        return None  # this thread is in a write transaction already: the group's writer would wait for it
    return group_commit(
        engine,
        queue=_write_queue(engine.url.database),
        write_options={WRITE_OPTION: True},
        place_option=WRITE_PLACE_OPTION,
        timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000,
    )


def compile_ahead(session: Session, statement: Executable, parameters: Mapping[str, Any]) -> None:
    """Put `statement`'s compiled form (for these parameter names) into its engine's cache now.

    SQLAlchemy compiles a statement on its first execution in each process; a write statement would
    be compiled inside the write transaction, which on SQLite every other writer waits for. This uses the
    cache-aware compile SQLAlchemy itself calls (a private method): should it change, this does nothing and
    the first execution compiles, as before.
    """
    engine = session.get_bind()
    if not isinstance(engine, Engine):
        return
    try:
        statement._compile_w_cache(  # type: ignore[attr-defined]
            dialect=engine.dialect,
            compiled_cache=engine._compiled_cache,
            column_keys=sorted(parameters),
            for_executemany=False,
            schema_translate_map=None,
            linting=engine.dialect.compiler_linting | compiler.WARN_LINTING,
        )
    except Exception:  # noqa: BLE001 - an optimisation only; the execution compiles if this could not
        pass


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
    _lock_holders.clear()
    dispose_engines(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)
