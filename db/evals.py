"""Evaluation runs: record a `critic eval` run (config, progress, metrics, predictions path) and read runs back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from db.filters import where_given
from db.models import EvalRun, utcnow
from db.session import begin_write

EVAL_FINISHED = "finished"
"""Status of an evaluation run that completed and stored its metrics."""


def start_eval_run(
    session: Session,
    *,
    model: str,
    dataset: str,
    config: dict[str, Any],
    predictions_path: str,
    n_items: int,
    model_version_id: int | None = None,
    eval_set_id: int | None = None,
    created_by_id: int | None = None,
) -> EvalRun:
    """Mark a run as running; a rerun into the same output directory (a resume) reuses its row."""
    begin_write(session)
    run = session.scalar(
        select(EvalRun)
        .where(EvalRun.predictions_path == predictions_path, EvalRun.dataset == dataset)
        .order_by(EvalRun.id.desc())
        .limit(1)
    )
    if run is None:
        run = EvalRun(predictions_path=predictions_path, dataset=dataset, created_by_id=created_by_id)
        session.add(run)
    run.model = model
    run.config = dict(config)
    run.n_items = n_items
    run.model_version_id = model_version_id if model_version_id is not None else run.model_version_id
    run.eval_set_id = eval_set_id if eval_set_id is not None else run.eval_set_id
    run.status = "running"
    run.error = None
    run.attempts = (run.attempts or 0) + 1
    run.started_at = utcnow()
    run.finished_at = None
    session.commit()
    return run


def update_eval_progress(session: Session, *, run_id: int, progress: float) -> None:
    begin_write(session)
    run = get_eval_run(session, run_id=run_id)
    run.progress = max(0.0, min(1.0, progress))
    run.heartbeat_at = utcnow()
    session.commit()


def finish_eval_run(
    session: Session, *, run_id: int, metrics: dict[str, Any], n_items: int, error: str | None = None
) -> EvalRun:
    """Store the final metrics (the summary.json content), or the error that stopped the run."""
    begin_write(session)
    run = get_eval_run(session, run_id=run_id)
    run.n_items = n_items
    run.finished_at = utcnow()
    if error is None:
        run.metrics = dict(metrics)
        run.status = EVAL_FINISHED
        run.progress = 1.0
    else:
        run.status = "failed"
        run.error = error
    session.commit()
    return run


def get_eval_run(session: Session, *, run_id: int) -> EvalRun:
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFoundError(f"no eval run with id {run_id}")
    return run


def list_eval_runs(
    session: Session,
    *,
    dataset: str | None = None,
    model: str | None = None,
    model_version_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[EvalRun]:
    """Newest first, optionally filtered (the dashboard's run list)."""
    query = select(EvalRun).order_by(EvalRun.created_at.desc(), EvalRun.id.desc()).limit(limit)
    query = where_given(
        query,
        [
            (EvalRun.dataset, dataset),
            (EvalRun.model, model),
            (EvalRun.model_version_id, model_version_id),
            (EvalRun.status, status),
        ],
    )
    return list(session.scalars(query))


def eval_run_f1(run: EvalRun) -> float | None:
    """The run's average F1 (mean over subsets), read from its stored metrics."""
    average = (run.metrics or {}).get("average") or {}
    value = average.get("f1")
    return float(value) if isinstance(value, int | float) else None


def newest_f1_per_version(session: Session) -> dict[int, tuple[float, str]]:
    """Per model version: (F1, dataset) of its newest finished evaluation with a readable F1."""
    runs = session.scalars(
        select(EvalRun)
        .where(EvalRun.model_version_id.is_not(None), EvalRun.status == EVAL_FINISHED)
        .order_by(EvalRun.id.desc())
    )
    newest: dict[int, tuple[float, str]] = {}
    for run in runs:
        f1 = eval_run_f1(run)
        if f1 is not None and run.model_version_id is not None:
            newest.setdefault(run.model_version_id, (f1, run.dataset))
    return newest
