"""The job queue: atomic claims on SQLite and PostgreSQL, cancel, and recovery of jobs whose worker died."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from core.errors import ConfigError, ConflictError
from db.models import utcnow
from db.session import session_scope
from training import queue
from training.config import load_config


def _config():
    return load_config("sft", None, {"max_steps": 2})


def test_concurrent_workers_never_claim_the_same_job(db_url: str) -> None:
    with session_scope(db_url) as session:
        ids = [queue.enqueue_job(session, config=_config()).id for _ in range(6)]
    claims: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        with session_scope(db_url) as session:
            got = claims.setdefault(name, [])
            while (job := queue.claim_next_job(session, worker_id=name)) is not None:
                got.append(job.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [job_id for got in claims.values() for job_id in got]
    assert sorted(claimed) == ids  # each job exactly once
    with session_scope(db_url) as session:
        jobs = [queue.get_job(session, job_id=i) for i in ids]
        assert all(j.status == "running" and j.attempts == 1 and j.worker_id for j in jobs)


def test_dead_worker_job_is_requeued_once_then_failed_with_reason(db_url: str) -> None:
    with session_scope(db_url) as session:
        job = queue.enqueue_job(session, config=_config())
        claimed = queue.claim_next_job(session, worker_id="w1")
        assert claimed is not None and claimed.id == job.id
        # Heartbeat fresh: nothing to do.
        assert queue.reap_stale_jobs(session, timeout_s=30) == []
        later = utcnow() + timedelta(seconds=31)
        assert queue.reap_stale_jobs(session, timeout_s=30, now=later) == [(job.id, "queued")]
        # The dead worker's late heartbeat does not take the job back.
        assert not queue.heartbeat(session, job_id=job.id, worker_id="w1", attempt=1).owned
        again = queue.claim_next_job(session, worker_id="w2")
        assert again is not None and again.attempts == 2
        much_later = utcnow() + timedelta(seconds=31)
        assert queue.reap_stale_jobs(session, timeout_s=30, now=much_later) == [(job.id, "failed")]
        failed = queue.get_job(session, job_id=job.id)
        assert failed.status == "failed"
        assert "w2" in failed.error and "no heartbeat" in failed.error
        messages = [line.message for line in queue.job_logs(session, job_id=job.id)]
        assert any(m.startswith("requeued") for m in messages)


def test_cancel_queued_job_at_once_and_running_job_by_flag(sqlite_session: Session) -> None:
    queued = queue.enqueue_job(sqlite_session, config=_config())
    assert queue.request_cancel(sqlite_session, job_id=queued.id).status == "cancelled"
    with pytest.raises(ConflictError, match="already cancelled"):
        queue.request_cancel(sqlite_session, job_id=queued.id)
    running = queue.enqueue_job(sqlite_session, config=_config())
    claimed = queue.claim_next_job(sqlite_session, worker_id="w")
    assert claimed is not None and claimed.id == running.id
    queue.request_cancel(sqlite_session, job_id=running.id)
    assert queue.heartbeat(sqlite_session, job_id=running.id, worker_id="w", attempt=1).cancel_requested
    assert queue.finish_job(sqlite_session, job_id=running.id, worker_id="w", attempt=1, status="cancelled")
    assert queue.get_job(sqlite_session, job_id=running.id).status == "cancelled"


def test_metrics_and_logs_are_stored_per_job(sqlite_session: Session) -> None:
    job = queue.enqueue_job(sqlite_session, config=_config())
    queue.add_metrics(sqlite_session, job_id=job.id, points=[(1, "loss", 2.5), (2, "loss", 2.0), (1, "reward", 0.5)])
    queue.add_log(sqlite_session, job_id=job.id, message="step 1")
    curves = queue.job_metrics(sqlite_session, job_id=job.id)
    assert curves == {"loss": [(1, 2.5), (2, 2.0)], "reward": [(1, 0.5)]}
    lines = queue.job_logs(sqlite_session, job_id=job.id)
    assert [line.message for line in lines][-1] == "step 1"
    assert queue.job_logs(sqlite_session, job_id=job.id, after_id=lines[-1].id) == []


@pytest.mark.parametrize(
    ("raised", "traceback_shown"), [(ConfigError("max_steps must be > 0"), False), (RuntimeError("boom"), True)]
)
def test_a_failed_job_logs_a_refused_setting_as_one_line_and_a_crash_with_its_traceback(
    sqlite_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], raised, traceback_shown
) -> None:
    from training import job

    with session_scope(sqlite_db_url) as session:
        job_id = queue.enqueue_job(session, config=load_config("sft", None, {"max_steps": 1})).id

    def fail(*_args, **_kwargs) -> int:
        raise raised

    monkeypatch.setattr(job, "run_job", fail)
    assert job.main([str(job_id), "--worker-id", "w", "--attempt", "1"]) == 1
    err = capsys.readouterr().err
    assert f"JOB FAILED: {type(raised).__name__}: {raised}" in err
    assert ("Traceback" in err) is traceback_shown
    with session_scope(sqlite_db_url) as session:
        assert f"{type(raised).__name__}: {raised}" in [log.message for log in queue.job_logs(session, job_id=job_id)]
