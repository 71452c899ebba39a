"""Group commit: the SQLite saves of one process's threads share write transactions instead of queuing one by one.

SQLite admits one writer at a time, and writers queue for it first come, first served (db.sqlite_writes.write_queue).
The hand-over from one writer to the next is on the critical path of every save: while the next writer
wakes up, nobody writes. So a process has at most one place in the queue at a time, and every save its
threads hand in while that place waits is written in its turn: one transaction, one commit.

- A save that finds the database free is written at once by its own thread (no hand-over between threads,
  which costs more CPU than the save's statements).
- Otherwise the process's writer thread waits for the turn, blocked in the kernel (one wake-up per
  hand-over), and writes every save that arrived meanwhile. The threads that asked wait for their own save,
  each up to a deadline: a save whose deadline passes before its turn came is withdrawn (never written
  later) and fails with DatabaseBusyError, while the writer thread waits as long as the writer ahead holds
  the database.

A save that fails (a unique constraint) changes nothing and the others still commit: when one fails, the
transaction is rolled back and the group written again with each save in its own SAVEPOINT (a stale version
is not a failure: its UPDATE changes nothing). A save is acknowledged only after the COMMIT:
a crash before it (kill -9) loses only unacknowledged saves, all or nothing. If the COMMIT fails, every save
in it fails.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from core.errors import CriticError, DatabaseBusyError
from db.sqlite_writes.write_queue import QueuePlace, WriteQueue

Result = TypeVar("Result")
log = logging.getLogger(__name__)

# A writer thread with no turn to wait for this long ends (the next wait starts a new one), so engines that
# are no longer used (tests make one per database) do not keep a thread each.
WRITER_IDLE_EXIT_S = 2.0


class _Save:
    def __init__(self, work: Callable[[Connection], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.state = "waiting"  # -> "writing" (taken into a transaction) or "withdrawn" (its deadline passed)
        self.value: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    """The saves of one engine (in this process) waiting for, or in, the process's next write transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        queue: WriteQueue,
        write_options: dict[str, Any],
        place_option: str,
        timeout_s: float,
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.write_options = write_options  # makes a connection's transaction a write transaction
        self.place_option = place_option  # hands the transaction the queue place whose turn has come
        self.timeout_s = timeout_s
        self.mutex = threading.Lock()
        self.pending: list[_Save] = []
        self.writing = False  # this process has a place in the queue (waiting or writing)
        self.turns: SimpleQueue[QueuePlace | None] = SimpleQueue()  # for the writer thread
        self.writer: threading.Thread | None = None

    def run(self, work: Callable[[Connection], Result]) -> Result:
        """Run `work(connection)` in a write transaction (maybe shared) and return its value once committed."""
        save = _Save(work)
        with self.mutex:
            self.pending.append(save)
            lead = not self.writing
            self.writing = True
        if lead:
            place, ready = self._turn(None, wait=False)
            if place is not None and ready:
                self._write_turn(place)
            elif place is not None:
                self._hand_to_writer(place)
        if not save.done.wait(self.timeout_s):
            with self.mutex:
                if save.state == "waiting":
                    save.state = "withdrawn"
                    self.pending.remove(save)
                    raise DatabaseBusyError(
                        f"the database was busy for {self.timeout_s:g} s (another process holds its write lock); "
                        "nothing was saved, try again"
                    )
            save.done.wait()  # being written: its transaction is short
        if save.error is not None:
            raise save.error
        return save.value

    def _hand_to_writer(self, place: QueuePlace | None) -> None:
        """Let the writer thread wait for `place`'s turn (None: for a new place) and write what is pending then."""
        with self.mutex:
            self.turns.put(place)
            if self.writer is None:
                self.writer = threading.Thread(target=self._writer_loop, name="critic-sqlite-writer", daemon=True)
                self.writer.start()

    def _writer_loop(self) -> None:
        while True:
            try:
                place = self.turns.get(timeout=WRITER_IDLE_EXIT_S)
            except Empty:
                with self.mutex:
                    if self.turns.empty():
                        self.writer = None
                        return
                continue
            place, _ = self._turn(place, wait=True)  # without a deadline the turn comes
            if place is not None:
                self._write_turn(place)

    def _turn(self, place: QueuePlace | None, *, wait: bool) -> tuple[QueuePlace | None, bool]:
        """Draw a place unless given; return it and whether its turn has come (`wait`: block until it has).

        If the queue's files cannot be used (permissions, disk), the place is given up, every waiting save fails
        (none was written) and the answer is (None, False).
        """
        try:
            if place is None:
                place = self.queue.draw()
            return place, self.queue.wait(place, None) if wait else self.queue.ready_now(place)
        except OSError as exc:
            if place is not None:
                self.queue.release(place)
            self._fail_waiting(exc)
            return None, False

    def _fail_waiting(self, cause: OSError) -> None:
        """Fail every save waiting for this process's turn (none of them was written) and give up the turn."""
        error = CriticError(
            f"cannot queue for the database's write lock ({cause}); check the files next to the database; "
            "nothing was saved"
        )
        error.__cause__ = cause
        with self.mutex:
            group, self.pending = self.pending, []
            self.writing = False
            for save in group:
                save.state = "writing"
                save.error = error
        for save in group:
            save.done.set()

    def _write_turn(self, place: QueuePlace) -> None:
        """Write every pending save in the turn `place` has got, then let the next writer go."""
        try:
            self._write_group(place)
        finally:
            self.queue.release(place)  # nothing to do if the transaction's end released it
            with self.mutex:
                more = bool(self.pending)
                self.writing = more
            if more:  # saves that arrived during this turn: the writer thread takes a new place for them
                self._hand_to_writer(None)

    def _write_group(self, place: QueuePlace) -> None:
        with self.mutex:
            group, self.pending = self.pending, []
            for save in group:
                save.state = "writing"
        if not group:  # all withdrawn while waiting
            return
        try:
            with self.engine.connect() as connection:
                connection.execution_options(**self.write_options, **{self.place_option: place})
                with connection.begin() as transaction:
                    failed = _run_saves(connection, group)
                    if failed:
                        transaction.rollback()
                if failed and len(group) > 1:
                    # Rare: write them again, each in a SAVEPOINT, so that only the failing save is lost.
                    with connection.begin():
                        _run_saves(connection, group, savepoints=True)
        except BaseException as exc:  # the transaction or its COMMIT failed: no save of the group is stored
            for save in group:
                save.error = save.error or exc
            if not isinstance(exc, Exception):
                raise
            log.debug("a group commit failed", exc_info=True)
        finally:
            for save in group:
                save.done.set()


def _run_saves(connection: Connection, group: list[_Save], *, savepoints: bool = False) -> bool:
    """Run the saves' statements in the open transaction; True if one failed (without SAVEPOINTs: stop there)."""
    failed = False
    for save in group:
        save.value, save.error = None, None
        try:
            if savepoints:
                with connection.begin_nested():
                    save.value = save.work(connection)
            else:
                save.value = save.work(connection)
        except Exception as exc:  # noqa: BLE001 - the save's own error, raised in its thread
            save.error = exc
            failed = True
            if not savepoints:
                break
    return failed


_groups: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # The parent's groups (whose writer thread does not exist here, and a lock a parent thread may have held at
    # the fork) are not the child's.
    global _groups_lock
    _groups_lock = threading.Lock()
    _groups.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def group_commit(
    engine: Engine, *, queue: WriteQueue, write_options: dict[str, Any], place_option: str, timeout_s: float
) -> GroupCommit:
    """The group commit of `engine` in this process (engines are per process: a forked child makes its own)."""
    with _groups_lock:
        group = _groups.get(engine)
        if group is None:
            group = _groups[engine] = GroupCommit(
                engine, queue=queue, write_options=write_options, place_option=place_option, timeout_s=timeout_s
            )
        return group
