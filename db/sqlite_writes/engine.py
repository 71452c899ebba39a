"""How an SQLite engine starts transactions: reads plainly, writes with BEGIN IMMEDIATE in the write queue."""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from db.sqlite_writes.group_commit import GroupCommit, group_commit
from db.sqlite_writes.write_queue import WriteQueue

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that makes an SQLite transaction start with BEGIN IMMEDIATE (take the write lock up
# front): a deferred transaction that reads and then writes fails at once with "database is locked"
# when another writer committed in between, instead of waiting for the busy timeout.
WRITE_OPTION = "critic_write"
# Execution option: a place in the SQLite write queue whose turn has come (the group commit waits for its
# turn itself); the transaction takes it over and lets the next writer go when it ends.
WRITE_PLACE_OPTION = "critic_write_place"

# Threads at the head of an SQLite write queue (see configure_engine).
_lock_holders: dict[int, bool] = {}


def is_file_database(engine: Engine) -> bool:
    """Whether the SQLite engine's database is a file (not in memory): only files have a write queue."""
    return engine.url.database not in (None, "", ":memory:")


@functools.cache
def _write_queue(database_path: str) -> WriteQueue:
    return WriteQueue(database_path)


def _on_connect(dbapi_connection: Any, in_memory: bool) -> None:
    # Let SQLAlchemy's "begin" event decide how transactions start (see configure_engine).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    if not in_memory:
        cursor.execute("PRAGMA journal_mode=WAL")
        # Safe with WAL against process crashes (kill -9); only an OS crash can lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def configure_engine(engine: Engine) -> None:
    """Set an SQLite engine's pragmas and make its write transactions queue for the database's write lock."""
    in_memory = not is_file_database(engine)
    queue = None if in_memory else _write_queue(engine.url.database)
    event.listen(engine, "connect", lambda dbapi_connection, _record: _on_connect(dbapi_connection, in_memory))

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
            # Writers queue first come, first served (see write_queue); SQLite's busy handler alone
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


def sqlite_group_commit(session: Session) -> GroupCommit | None:
    """The group commit for the session's SQLite database file (see group_commit); None for other databases.

    PostgreSQL runs concurrent writers in parallel, and an in-memory SQLite database has one connection.
    """
    engine = session.get_bind()
    if not isinstance(engine, Engine) or engine.dialect.name != "sqlite" or not is_file_database(engine):
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


def _after_fork_in_child() -> None:
    # A forked child does not hold the parent's place in the queue.
    _lock_holders.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
