"""The SQLite write queue: arrival order, a killed writer frees it, a stuck one is waited for only until a deadline."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from db.sqlite_writes.write_queue import WriteQueue


def _tickets_drawn(path: Path) -> int:
    raw = Path(f"{path}.write-lock").read_bytes()
    return int.from_bytes(raw, "little") if len(raw) == 8 else 0


def _wait_until(condition, what: str) -> None:
    done = threading.Event()
    for _ in range(2000):
        if condition():
            return
        done.wait(0.005)
    raise AssertionError(f"timed out waiting until {what}")


def test_writers_get_through_in_the_order_they_arrived(tmp_path: Path) -> None:
    database = tmp_path / "queue.db"
    queue = WriteQueue(str(database))
    head = queue.acquire(timeout_s=10)
    order: list[int] = []

    def writer(index: int) -> None:
        place = queue.acquire(timeout_s=30)
        order.append(index)
        queue.release(place)

    threads = []
    for index in range(8):
        thread = threading.Thread(target=writer, args=(index,))
        thread.start()
        threads.append(thread)
        # The next writer arrives only once this one has drawn its ticket.
        _wait_until(lambda index=index: _tickets_drawn(database) == index + 2, f"writer {index} is queued")
    assert order == []  # all wait for the head of the queue
    queue.release(head)
    for thread in threads:
        thread.join(timeout=30)
    assert order == list(range(8))


def test_a_writer_killed_while_holding_its_place_does_not_block_the_queue(tmp_path: Path) -> None:
    database = tmp_path / "queue.db"
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child takes its place, says so and waits to be killed
        try:
            WriteQueue(str(database)).acquire(timeout_s=10)
            os.write(ready_write, b"x")
            threading.Event().wait(60)
        finally:
            os._exit(1)
    os.close(ready_write)
    assert os.read(ready_read, 1) == b"x"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    place = WriteQueue(str(database)).acquire(timeout_s=10)
    assert place.waited_out and place.slot_fd is not None


def test_a_writer_that_never_finishes_is_waited_for_only_until_the_deadline(tmp_path: Path) -> None:
    queue = WriteQueue(str(tmp_path / "queue.db"))
    stuck = queue.acquire(timeout_s=10)
    behind = queue.acquire(timeout_s=0.2)
    assert not behind.waited_out  # it goes on (SQLite's busy timeout decides) instead of hanging
    queue.release(behind)
    queue.release(stuck)
    after = queue.acquire(timeout_s=10)
    assert after.waited_out
    queue.release(after)


def test_a_place_is_ready_only_once_the_writer_ahead_has_finished(tmp_path: Path) -> None:
    queue = WriteQueue(str(tmp_path / "queue.db"))
    ahead = queue.acquire(timeout_s=10)
    place = queue.draw()
    assert not queue.ready_now(place)
    got_through = threading.Event()
    waiter = threading.Thread(target=lambda: queue.wait(place, None) and got_through.set())
    waiter.start()
    assert not got_through.wait(0.2)  # waits, without a deadline, in its own thread
    queue.release(ahead)
    waiter.join(timeout=10)
    assert got_through.is_set() and place.waited_out
    queue.release(place)
    assert queue.ready_now(queue.draw())
