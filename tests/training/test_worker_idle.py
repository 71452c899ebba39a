"""An idle worker looks at the empty queue less and less often, yet a job queued in its process starts at once."""

from __future__ import annotations

import threading
import time

from db.session import session_scope
from training import queue
from training.config import load_config
from training.worker import Worker, WorkerOptions


class _RecordingWorker(Worker):
    """Claims jobs like any worker but, instead of training, records which it got and how often it looked."""

    def __init__(self, options: WorkerOptions) -> None:
        super().__init__(options)
        self.ran: list[int] = []
        self.looks = 0
        claim = queue.claim_next_job

        def counting_claim(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.looks += 1
            return claim(*args, **kwargs)

        self._claim = counting_claim

    def run_job(self, job_id: int, attempt: int, accelerate_config: str | None = None) -> str:
        self.ran.append(job_id)
        return "succeeded"


def _start(options: WorkerOptions, monkeypatch) -> tuple[_RecordingWorker, threading.Thread]:  # type: ignore[no-untyped-def]
    worker = _RecordingWorker(options)
    monkeypatch.setattr(queue, "claim_next_job", worker._claim)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return worker, thread


def test_an_idle_worker_looks_less_and_less_often(sqlite_db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    worker, thread = _start(WorkerOptions(poll_interval_s=0.05, max_poll_interval_s=60.0), monkeypatch)
    time.sleep(1.5)  # waits 0.05, 0.1, 0.2, 0.4, 0.8 s: a handful of looks, not one every 50 ms
    worker.stop()
    thread.join(timeout=10)
    assert not thread.is_alive() and 3 <= worker.looks <= 7, worker.looks


def test_a_job_queued_in_the_process_wakes_the_idle_worker(sqlite_db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    worker, thread = _start(WorkerOptions(poll_interval_s=60.0, max_jobs=1), monkeypatch)
    time.sleep(0.5)  # it looked once and now waits a minute
    with session_scope(sqlite_db_url) as session:
        job = queue.enqueue_job(session, config=load_config("sft", None, {"max_steps": 2}))
    thread.join(timeout=15)
    assert not thread.is_alive() and worker.ran == [job.id] and worker.looks == 2
