"""The training job queue in the database: enqueue, atomic claim, heartbeat, cancel, stale-job recovery, logs."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError
from db.models import TrainingJob, TrainingJobLog, TrainingMetricPoint, utcnow
from db.session import begin_write
from db.webhooks import record_event
from training.config import AnyJobConfig, config_from_json

TRAINING_KINDS = ("sft", "grpo", "actor")
JOB_KINDS = (*TRAINING_KINDS, "critique_items")
"""Every kind a worker runs and the jobs table lists: training, and critiquing a campaign's items."""
FINISHED = ("succeeded", "failed", "cancelled")
DEFAULT_MAX_ATTEMPTS = 2
"""A job whose worker died is requeued once; the second death fails it."""


# Workers of this process waiting for work: a job queued here wakes them at once instead of at their next look.
_waiting_workers: set[threading.Event] = set()
_waiting_lock = threading.Lock()


def listen_for_jobs(event: threading.Event, *, listening: bool = True) -> None:
    """Have `event` set whenever this process queues a job (`listening=False`: no longer)."""
    with _waiting_lock:
        if listening:
            _waiting_workers.add(event)
        else:
            _waiting_workers.discard(event)


def wake_workers() -> None:
    """Tell this process's idle workers that a job was queued (workers in other processes find it by polling)."""
    with _waiting_lock:
        for event in _waiting_workers:
            event.set()


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; everything stored here is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def start_write(session: Session) -> None:
    # A read left open by an earlier call would make this a deferred transaction on SQLite (and hold an old
    # snapshot); end it first. Sessions keep loaded objects usable after commit (expire_on_commit=False).
    if session.in_transaction():
        session.commit()
    begin_write(session)


def end_read(session: Session) -> None:
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.commit()


def enqueue_job(
    session: Session,
    *,
    config: AnyJobConfig,
    created_by_id: int | None = None,
    base_model_version_id: int | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> TrainingJob:
    """Queue a validated config as a new job (status `queued`)."""
    start_write(session)
    job = TrainingJob(
        kind=config.job,
        status="queued",
        config=config.model_dump(mode="json"),
        created_by_id=created_by_id,
        base_model_version_id=base_model_version_id,
        max_attempts=max_attempts,
        attempts=0,
        progress=0.0,
        metrics={},
    )
    session.add(job)
    session.flush()
    session.add(TrainingJobLog(job_id=job.id, level="info", message=f"queued {config.job} job"))
    session.commit()
    wake_workers()
    return job


def job_config(job: TrainingJob) -> AnyJobConfig:
    """The job's stored config, validated again."""
    return config_from_json(job.kind, dict(job.config))


def _load_job(session: Session, job_id: int) -> TrainingJob:
    job = session.get(TrainingJob, job_id, populate_existing=True)
    if job is None:
        raise NotFoundError(f"no training job with id {job_id}")
    return job


def get_job(session: Session, *, job_id: int) -> TrainingJob:
    """The job as stored now (a fresh read)."""
    job = _load_job(session, job_id)
    end_read(session)
    return job


def list_jobs(session: Session, *, status: str | Sequence[str] | None = None, limit: int = 50) -> list[TrainingJob]:
    """Newest first."""
    query = select(TrainingJob).where(TrainingJob.kind.in_(JOB_KINDS)).order_by(TrainingJob.id.desc())
    if status is not None:
        query = query.where(TrainingJob.status.in_([status] if isinstance(status, str) else list(status)))
    jobs = list(session.scalars(query.limit(limit)).all())
    end_read(session)
    return jobs


def claim_next_job(session: Session, *, worker_id: str, kinds: Sequence[str] = JOB_KINDS) -> TrainingJob | None:
    """Atomically take the oldest queued job for `worker_id`; None when the queue is empty.

    PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on or share a row.
    SQLite: the write transaction (BEGIN IMMEDIATE) serialises claimers, and the UPDATE is conditional on the
    row still being queued, so a row is claimed at most once even without row locks.
    """
    now = utcnow()
    start_write(session)
    candidates = (
        select(TrainingJob.id)
        .where(TrainingJob.status == "queued", TrainingJob.kind.in_(list(kinds)))
        .order_by(TrainingJob.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    job_id = session.execute(candidates).scalar_one_or_none()
    if job_id is None:
        session.commit()
        return None
    claimed = session.execute(
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status == "queued")
        .values(
            status="running",
            worker_id=worker_id,
            heartbeat_at=now,
            started_at=now,
            attempts=TrainingJob.attempts + 1,
            cancel_requested=False,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        session.rollback()
        return None
    session.add(TrainingJobLog(job_id=job_id, level="info", message=f"claimed by worker {worker_id}"))
    session.commit()
    return get_job(session, job_id=job_id)


@dataclass(frozen=True)
class HeartbeatReply:
    """What a worker learns when it beats: whether it still owns the job and whether cancel was asked."""

    owned: bool
    cancel_requested: bool


def _still_owned(job_id: int, worker_id: str, attempt: int) -> tuple[ColumnElement[bool], ...]:
    # A worker may only write to a job it is still running in this attempt; a requeued job has moved on.
    return (
        TrainingJob.id == job_id,
        TrainingJob.worker_id == worker_id,
        TrainingJob.attempts == attempt,
        TrainingJob.status == "running",
    )


def heartbeat(session: Session, *, job_id: int, worker_id: str, attempt: int) -> HeartbeatReply:
    """Refresh the job's heartbeat if this worker (and attempt) still owns it."""
    start_write(session)
    result = session.execute(
        update(TrainingJob)
        .where(*_still_owned(job_id, worker_id, attempt))
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    cancel = session.execute(select(TrainingJob.cancel_requested).where(TrainingJob.id == job_id)).scalar_one()
    session.commit()
    return HeartbeatReply(owned=result.rowcount == 1, cancel_requested=bool(cancel))


def is_cancel_requested(session: Session, *, job_id: int) -> bool:
    value = session.execute(select(TrainingJob.cancel_requested).where(TrainingJob.id == job_id)).scalar_one()
    end_read(session)  # so the next call sees fresh data
    return bool(value)


def request_cancel(session: Session, *, job_id: int) -> TrainingJob:
    """Cancel a job: a queued one at once, a running one by flagging it (its worker stops it within seconds)."""
    start_write(session)
    job = _load_job(session, job_id)
    if job.status in FINISHED:
        session.rollback()
        raise ConflictError(f"job {job_id} already {job.status}; nothing to cancel")
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
        session.add(TrainingJobLog(job_id=job_id, level="warning", message="cancelled before it started"))
    else:
        job.cancel_requested = True
        session.add(TrainingJobLog(job_id=job_id, level="warning", message="cancel requested"))
    session.commit()
    return job


def _job_finished_event(session: Session, job_id: int, status: str, error: str | None) -> None:
    # In the transaction that finishes the job (the webhook outbox): the event exists iff the job's end does.
    kind = session.scalar(select(TrainingJob.kind).where(TrainingJob.id == job_id))
    record_event(
        session.connection(),
        "job.finished",
        {"job_id": job_id, "kind": kind, "status": status, "error": (error or "")[:1000]},
    )


def finish_job(
    session: Session,
    *,
    job_id: int,
    worker_id: str,
    attempt: int,
    status: str,
    error: str | None = None,
    output_path: str | None = None,
) -> bool:
    """Record the end of a job this worker still owns; False (nothing written) if it lost the job meanwhile."""
    if status not in FINISHED:
        raise ValueError(f"finish status must be one of {FINISHED}")
    start_write(session)
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error}
    if output_path is not None:
        values["output_path"] = output_path
    if status == "succeeded":
        values["progress"] = 1.0
    result = session.execute(
        update(TrainingJob)
        .where(*_still_owned(job_id, worker_id, attempt))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    owned = result.rowcount == 1
    if owned:
        message = f"{status}" + (f": {error}" if error else "")
        session.add(TrainingJobLog(job_id=job_id, level="error" if status == "failed" else "info", message=message))
        _job_finished_event(session, job_id, status, error)
    session.commit()
    return owned


def release_job(session: Session, *, job_id: int, worker_id: str, attempt: int) -> bool:
    """Give a job back to the queue when its worker shuts down cleanly (the attempt is not counted)."""
    start_write(session)
    result = session.execute(
        update(TrainingJob)
        .where(*_still_owned(job_id, worker_id, attempt))
        .values(status="queued", worker_id=None, heartbeat_at=None, attempts=attempt - 1, progress=0.0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        session.add(TrainingJobLog(job_id=job_id, level="warning", message=f"worker {worker_id} stopped; requeued"))
    session.commit()
    return result.rowcount == 1


def reap_stale_jobs(session: Session, *, timeout_s: float, now: datetime | None = None) -> list[tuple[int, str]]:
    """Recover running jobs whose worker stopped beating for `timeout_s`: requeue if attempts remain, else fail.

    Returns (job id, new status) for each job touched. Safe to call from every worker concurrently: each change is
    conditional on the row still holding the stale worker and attempt.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=timeout_s)
    running = session.execute(
        select(TrainingJob.id, TrainingJob.worker_id, TrainingJob.attempts, TrainingJob.max_attempts,
               TrainingJob.heartbeat_at, TrainingJob.cancel_requested)
        .where(TrainingJob.status == "running", TrainingJob.kind.in_(JOB_KINDS))
    ).all()  # fmt: skip
    end_read(session)
    touched: list[tuple[int, str]] = []
    for job_id, worker_id, attempts, max_attempts, beat, cancel in running:
        beat = _aware(beat)
        if beat is not None and beat >= cutoff:
            continue
        silent = f"worker {worker_id} sent no heartbeat for over {timeout_s:g}s (killed or lost)"
        if cancel:
            new_status, values = "cancelled", {"status": "cancelled", "finished_at": now, "error": silent}
        elif attempts < max_attempts:
            new_status = "queued"
            values = {"status": "queued", "worker_id": None, "heartbeat_at": None, "progress": 0.0}
        else:
            reason = f"{silent}; attempt {attempts} of {max_attempts}, not retried again"
            new_status, values = "failed", {"status": "failed", "finished_at": now, "error": reason}
        start_write(session)
        result = session.execute(
            update(TrainingJob)
            .where(*_still_owned(job_id, worker_id, attempts))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            note = "requeued: " + silent if new_status == "queued" else values.get("error", silent)
            session.add(TrainingJobLog(job_id=job_id, level="warning", message=note))
            touched.append((job_id, new_status))
            if new_status in FINISHED:
                _job_finished_event(session, job_id, new_status, values.get("error"))
        session.commit()
    return touched


def set_progress(session: Session, *, job_id: int, step: int, total: int) -> None:
    start_write(session)
    session.execute(
        update(TrainingJob)
        .where(TrainingJob.id == job_id)
        .values(progress=min(step / total, 1.0) if total else 0.0)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def update_job_fields(session: Session, *, job_id: int, **values: Any) -> None:
    """Set result fields of a job (metrics, output_path, data_hash, result_model_version_id)."""
    start_write(session)
    session.execute(
        update(TrainingJob)
        .where(TrainingJob.id == job_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def add_log(session: Session, *, job_id: int, message: str, level: str = "info") -> None:
    start_write(session)
    session.add(TrainingJobLog(job_id=job_id, level=level, message=message[:10_000]))
    session.commit()


def add_metrics(session: Session, *, job_id: int, points: Iterable[tuple[int, str, float]]) -> None:
    """Append (step, name, value) points."""
    rows = [TrainingMetricPoint(job_id=job_id, step=step, name=name, value=value) for step, name, value in points]
    if not rows:
        return
    start_write(session)
    session.add_all(rows)
    session.commit()


def job_logs(session: Session, *, job_id: int, after_id: int = 0, limit: int = 1000) -> list[TrainingJobLog]:
    """Log lines oldest first; pass the last seen id as `after_id` to follow a running job."""
    query = (
        select(TrainingJobLog)
        .where(TrainingJobLog.job_id == job_id, TrainingJobLog.id > after_id)
        .order_by(TrainingJobLog.id)
        .limit(limit)
    )
    lines = list(session.scalars(query).all())
    end_read(session)
    return lines


def job_metrics(session: Session, *, job_id: int, name: str | None = None) -> dict[str, list[tuple[int, float]]]:
    """Metric curves of a job: name -> [(step, value), ...] in step order."""
    query = select(TrainingMetricPoint).where(TrainingMetricPoint.job_id == job_id)
    if name is not None:
        query = query.where(TrainingMetricPoint.name == name)
    curves: dict[str, list[tuple[int, float]]] = {}
    for point in session.scalars(query.order_by(TrainingMetricPoint.step, TrainingMetricPoint.id)):
        curves.setdefault(point.name, []).append((point.step, point.value))
    end_read(session)
    return curves
