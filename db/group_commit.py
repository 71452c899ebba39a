"""Group commit: the SQLite saves of one process's threads share a write transaction instead of queuing one by one.

SQLite admits one writer at a time, and each turn in the write queue costs a wake-up of the next writer
(about a millisecond on a busy machine, more than the save itself). A web server runs every annotator's
save in a thread of one process, so saves that arrive while one of its threads waits for its turn are
collected and written in that turn: one transaction, one commit, one wake-up.

Each save runs in its own SAVEPOINT, so a save that fails (a unique constraint, a stale version) changes
nothing and the others still commit. A save is acknowledged only after the shared COMMIT: a crash before it
(kill -9) loses only unacknowledged saves, all or nothing. If the COMMIT fails, every save in it fails.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

Result = TypeVar("Result")


class _Save:
    def __init__(self, work: Callable[[Connection], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.lead = False  # set (with `done`) when this save's thread must write the next group
        self.value: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    """The saves of one engine (in this process) waiting for, or in, a shared write transaction."""

    def __init__(self, engine: Engine, write_options: dict[str, Any]) -> None:
        self.engine = engine
        self.write_options = write_options
        self.mutex = threading.Lock()
        self.pending: list[_Save] = []
        self.writing = False  # a thread is writing a group (or about to)

    def run(self, work: Callable[[Connection], Result]) -> Result:
        """Run `work(connection)` in a write transaction (maybe shared) and return its value once committed."""
        save = _Save(work)
        with self.mutex:
            self.pending.append(save)
            lead = not self.writing
            self.writing = True
        if not lead:
            save.done.wait()
            lead = save.lead
        if lead:
            self._write_group()
        if save.error is not None:
            raise save.error
        return save.value

    def _write_group(self) -> None:
        group: list[_Save] = []
        try:
            with self.engine.connect() as connection:
                connection.execution_options(**self.write_options)
                with connection.begin() as transaction:  # waits for this process's turn in the write queue
                    # Collected once the turn has come: every save that arrived while waiting joins in.
                    with self.mutex:
                        group, self.pending = self.pending, []
                    if len(group) == 1:  # alone: the transaction is the save's own (no SAVEPOINT round trips)
                        try:
                            group[0].value = group[0].work(connection)
                        except Exception as exc:  # noqa: BLE001 - the save's own error, raised in its thread
                            group[0].error = exc
                            transaction.rollback()
                    for save in group if len(group) > 1 else ():
                        try:
                            with connection.begin_nested():
                                save.value = save.work(connection)
                        except Exception as exc:  # noqa: BLE001 - the save's own error, raised in its thread
                            save.error = exc
        except BaseException as exc:  # the transaction or its COMMIT failed: no save of the group is stored
            if not group:  # failed before the group was collected (e.g. BEGIN): the waiting saves fail alike
                with self.mutex:
                    group, self.pending = self.pending, []
            for save in group:
                save.error = save.error or exc
            raise
        finally:
            self._finish(group)

    def _finish(self, group: list[_Save]) -> None:
        with self.mutex:
            if self.pending:  # saves that arrived during this group: the first one's thread writes the next
                self.pending[0].lead = True
                self.pending[0].done.set()
            else:
                self.writing = False
        for save in group:
            save.done.set()


_groups: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # The parent's groups (and a lock a parent thread may have held at the fork) are not the child's.
    global _groups_lock
    _groups_lock = threading.Lock()
    _groups.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def group_commit(engine: Engine, write_options: dict[str, Any]) -> GroupCommit:
    """The group commit of `engine` in this process (engines are per process: a forked child makes its own)."""
    with _groups_lock:
        group = _groups.get(engine)
        if group is None:
            group = _groups[engine] = GroupCommit(engine, write_options)
        return group
