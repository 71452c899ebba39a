"""A first-come-first-served queue of SQLite writers (threads and processes) made of file locks: crash-safe, no polling.

SQLite admits one writer at a time. Its own busy handler retries with sleeps of up to 100 ms, and a plain
flock wakes every waiter at once to race for it, so under many writers a few wait far longer than the rest
(a long tail: bench/annotations.py reports p50 and p99). Here each writer draws a ticket and waits only for
the writer just ahead of it, in the kernel, woken the moment that one finishes:

- `<db>.write-lock` holds the ticket counter; it is flocked only while a ticket is drawn (a few syscalls).
- `<db>.write-queue/<n>`: the writer with ticket t holds slot t mod SLOTS from drawing its ticket until its
  transaction ends; the writer with ticket t + 1 waits for that slot.

flock belongs to an open file description, so threads of one process queue like separate processes, and
the kernel drops the locks of a process that dies (kill -9): the next writer goes on. The queue only orders
writers: SQLite's BEGIN IMMEDIATE and busy timeout still guarantee one writer at a time, so a writer that
gives up waiting at its deadline (behind one that holds a transaction open for long) or finds its slot
taken (more than SLOTS writers queued) falls back to SQLite's own waiting, never to an unsafe write.
"""

from __future__ import annotations

import fcntl
import os
import threading
from dataclasses import dataclass

SLOTS = 64
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC


@dataclass
class QueuePlace:
    """A writer's place in the queue: its own slot, and the slot of the writer just ahead until that one finished."""

    ticket: int  # counts write transactions across all processes since the queue's files were made
    slot_fd: int | None  # None if it could not take one (more writers queued than slots)
    ahead_fd: int | None  # the slot of the writer ahead, while this one has not yet got through
    waited_out: bool = False  # True once the writer ahead finished; False when the deadline passed first


class WriteQueue:
    """The queue of writers of one SQLite database file; `acquire` before BEGIN IMMEDIATE, `release` after."""

    def __init__(self, database_path: str) -> None:
        self.ticket_path = f"{database_path}.write-lock"
        self.slot_dir = f"{database_path}.write-queue"

    def acquire(self, timeout_s: float | None) -> QueuePlace:
        """Draw a ticket and wait (at most `timeout_s`; None: as long as it takes) until the writer ahead finished."""
        place = self.draw()
        self.wait(place, timeout_s)
        return place

    def draw(self) -> QueuePlace:
        """Join the end of the queue (a few syscalls); `wait` or `ready_now` tell when it is this writer's turn."""
        ticket, slot_fd = self._draw_ticket()
        place = QueuePlace(ticket, slot_fd, None)
        try:
            place.ahead_fd = self._open_slot(ticket - 1)
        except OSError:
            self.release(place)  # let the writer behind go: this one never got in
            raise
        return place

    def ready_now(self, place: QueuePlace) -> bool:
        """Whether the writer ahead has finished, without waiting."""
        return self.wait(place, 0.0)

    def wait(self, place: QueuePlace, timeout_s: float | None) -> bool:
        """Wait until the writer ahead has finished (True), at most `timeout_s` (None: as long as it takes).

        Without a deadline the calling thread itself blocks in the kernel; with one, a helper thread does,
        which costs a second wake-up on every hand-over. After a deadline has passed, the place no longer
        waits (it goes on without the queue's order).
        """
        ahead = place.ahead_fd
        if ahead is None:
            return place.waited_out
        if timeout_s is None:
            fcntl.flock(ahead, fcntl.LOCK_EX)
            got_through = True
        elif timeout_s <= 0:
            try:
                fcntl.flock(ahead, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got_through = True
            except BlockingIOError:
                return False  # still waiting: the place keeps its descriptor
        else:
            got_through = _lock_within(ahead, timeout_s)
        place.ahead_fd = None
        place.waited_out = got_through
        if got_through:
            _unlock(ahead)
        return got_through

    def release(self, place: QueuePlace) -> None:
        """Let the writer behind go (call once the transaction has committed or rolled back)."""
        if place.ahead_fd is not None:  # never got through (withdrawn): the writer behind now waits for ours
            os.close(place.ahead_fd)
            place.ahead_fd = None
        if place.slot_fd is not None:
            _unlock(place.slot_fd)
            place.slot_fd = None

    def _draw_ticket(self) -> tuple[int, int | None]:
        fd = os.open(self.ticket_path, _OPEN_FLAGS, 0o600)
        try:
            # Held for a few syscalls only, so a plain blocking flock (a killed holder releases it too).
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 8, 0)
            ticket = int.from_bytes(raw, "little") if len(raw) == 8 else 0
            os.pwrite(fd, (ticket + 1).to_bytes(8, "little"), 0)
            # Taken before the ticket lock is let go: the next writer must find this slot already held.
            slot_fd: int | None = self._open_slot(ticket)
            try:
                fcntl.flock(slot_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # still held by ticket - SLOTS: more writers queued than slots
                os.close(slot_fd)
                slot_fd = None
            return ticket, slot_fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _open_slot(self, ticket: int) -> int:
        path = f"{self.slot_dir}/{ticket % SLOTS}"
        try:
            return os.open(path, _OPEN_FLAGS, 0o600)
        except FileNotFoundError:
            os.makedirs(self.slot_dir, mode=0o700, exist_ok=True)
            return os.open(path, _OPEN_FLAGS, 0o600)


def _lock_within(fd: int, timeout_s: float) -> bool:
    """Take an exclusive flock of `fd` within `timeout_s`; on False the descriptor is no longer the caller's.

    The wait blocks in the kernel. The blocking call runs in a helper thread so that the caller can give up
    at its deadline; a helper whose caller gave up closes the descriptor as soon as it gets the lock.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    guard = threading.Lock()
    locked = threading.Event()
    abandoned = False

    def wait() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with guard:
            if abandoned:
                _unlock(fd)
            else:
                locked.set()

    threading.Thread(target=wait, name="critic-sqlite-write-queue", daemon=True).start()
    if locked.wait(timeout_s):
        return True
    with guard:
        if locked.is_set():
            return True
        abandoned = True
    return False


def _unlock(fd: int) -> None:
    # Unlock explicitly: a child forked meanwhile shares the descriptor, so closing alone would not release it.
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
