"""Read-only aggregations for the dashboard: annotation counts, labels, times, agreement inputs, evals, losses."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.classes import CLASS_CAMPAIGN_IDS
from db.evals import EVAL_FINISHED, eval_run_f1
from db.models import (
    Annotation,
    CritiqueRun,
    EvalRun,
    Item,
    ModelVersion,
    TrainingJob,
    TrainingJobLog,
    TrainingMetricPoint,
    User,
)

DONE = ("submitted", "approved")
"""Annotations that count as finished work (drafts and rejected ones do not)."""

NOT_A_CORRECTION = or_(Annotation.campaign_id.is_(None), Annotation.campaign_id.not_in(CLASS_CAMPAIGN_IDS))
"""Labelling work: teachers' corrections are stored as annotations in their class, and are not counted as such."""


def _done_annotations(session: Session, campaign_id: int | None) -> list[tuple[Annotation, str]]:
    query = (
        select(Annotation, User.username)
        .join(User, User.id == Annotation.annotator_id)
        .where(Annotation.status.in_(DONE), NOT_A_CORRECTION)
        .order_by(Annotation.id)
    )
    if campaign_id is not None:
        query = query.where(Annotation.campaign_id == campaign_id)
    return [(a, name) for a, name in session.execute(query)]


def annotation_counts(session: Session, *, campaign_id: int | None = None) -> dict[str, Any]:
    """Finished annotations in total, per day, per annotator; label and first-error distributions; times."""
    per_day: Counter[date] = Counter()
    per_annotator: Counter[str] = Counter()
    ratings: Counter[str] = Counter()
    first_errors: Counter[str] = Counter()
    times: dict[str, list[float]] = defaultdict(list)
    rows = _done_annotations(session, campaign_id)
    for annotation, name in rows:
        when = annotation.submitted_at or annotation.updated_at or annotation.created_at
        per_day[when.date()] += 1
        per_annotator[name] += 1
        for rating in annotation.ratings:
            ratings["unrated" if rating is None else f"{rating:+d}" if rating else "0"] += 1
        fe = annotation.first_error_step
        first_errors["unknown" if fe is None else "no error" if fe == -1 else f"step {fe}"] += 1
        if annotation.time_spent_ms:
            times[name].append(annotation.time_spent_ms / 1000.0)
    return {
        "total": len(rows),
        "per_day": sorted(per_day.items()),
        "per_annotator": sorted(per_annotator.items()),
        "ratings": dict(ratings),
        "first_errors": dict(first_errors),
        "seconds_per_item": dict(times),
    }


def teacher_corrections(session: Session) -> int:
    """How many solutions teachers corrected in their classes (kept apart from the annotation counts)."""
    query = select(func.count(Annotation.id)).where(
        Annotation.status.in_(DONE), Annotation.campaign_id.in_(CLASS_CAMPAIGN_IDS)
    )
    return int(session.scalar(query) or 0)


def agreement_inputs(session: Session, *, campaign_id: int | None = None) -> dict[str, Any]:
    """First-error labels and step ratings keyed by annotator and (campaign, item), for agreement statistics."""
    first_error: dict[str, dict[tuple[int | None, int], int]] = defaultdict(dict)
    per_item: dict[tuple[int | None, int], list[int]] = defaultdict(list)
    step_ratings: dict[str, dict[tuple[tuple[int | None, int], int], int | None]] = defaultdict(dict)
    for annotation, name in _done_annotations(session, campaign_id):
        key = (annotation.campaign_id, annotation.item_id)
        if annotation.first_error_step is not None:
            first_error[name][key] = annotation.first_error_step
            per_item[key].append(annotation.first_error_step)
        for step, rating in enumerate(annotation.ratings, start=1):
            step_ratings[name][(key, step)] = rating
    return {"first_error": dict(first_error), "per_item": dict(per_item), "step_ratings": dict(step_ratings)}


def critic_vs_human(session: Session, *, campaign_id: int | None = None) -> dict[str, list[tuple[int | None, int]]]:
    """Per critic model (version name or model string): (critic first error, human first error) pairs per item."""
    humans = [(a.item_id, a.first_error_step) for a, _ in _done_annotations(session, campaign_id)]
    if not humans:
        return {}
    item_ids = sorted({item_id for item_id, _ in humans})
    runs = session.execute(
        select(CritiqueRun.item_id, CritiqueRun.model, CritiqueRun.first_error_step, ModelVersion.name)
        .outerjoin(ModelVersion, ModelVersion.id == CritiqueRun.model_version_id)
        .where(CritiqueRun.item_id.in_(item_ids))
        .order_by(CritiqueRun.id)
    )
    latest: dict[tuple[str, int], int | None] = {}
    for item_id, model, first_error, version_name in runs:
        latest[(version_name or model, item_id)] = first_error  # later runs overwrite earlier ones
    pairs: dict[str, list[tuple[int | None, int]]] = defaultdict(list)
    for (model, item_id), critic_first in latest.items():
        for human_item, human_first in humans:
            if human_item == item_id and human_first is not None:
                pairs[model].append((critic_first, human_first))
    return dict(pairs)


def gold_accuracy(session: Session, *, campaign_id: int | None = None) -> dict[str, tuple[int, int]]:
    """Per annotator: (correct, total) first-error labels on gold items with a known label."""
    query = (
        select(User.username, Annotation.first_error_step, Item.first_error_step)
        .join(User, User.id == Annotation.annotator_id)
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Annotation.status.in_(DONE),
            NOT_A_CORRECTION,
            Item.is_gold.is_(True),
            Item.first_error_step.is_not(None),
        )
    )
    if campaign_id is not None:
        query = query.where(Annotation.campaign_id == campaign_id)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, given, truth in session.execute(query):
        out[name][1] += 1
        out[name][0] += int(given == truth)
    return {name: (v[0], v[1]) for name, v in out.items()}


def eval_history(session: Session) -> list[dict[str, Any]]:
    """Finished evaluations in time order: when, which model, dataset, F1."""
    rows = session.execute(
        select(EvalRun, ModelVersion.name)
        .outerjoin(ModelVersion, ModelVersion.id == EvalRun.model_version_id)
        .where(EvalRun.status == EVAL_FINISHED)
        .order_by(EvalRun.finished_at, EvalRun.id)
    )
    out = []
    for run, version_name in rows:
        f1 = eval_run_f1(run)
        if f1 is None:
            continue
        out.append(
            {
                "when": run.finished_at or run.created_at,
                "model": version_name or run.model,
                "dataset": run.dataset,
                "f1": float(f1),
            }
        )
    return out


def refine_history(session: Session) -> list[dict[str, Any]]:
    """Finished `critic eval refine` runs (datasets `refine:<file>`) in time order, with their w->c / c->w rates."""
    rows = session.scalars(
        select(EvalRun)
        .where(EvalRun.dataset.startswith("refine:"), EvalRun.status == EVAL_FINISHED)
        .order_by(EvalRun.finished_at, EvalRun.id)
    )
    out = []
    for run in rows:
        metrics = run.metrics or {}
        rates = {}
        for setting in ("with_critique", "without_critique"):
            part = metrics.get(setting) or {}
            for key in ("w_to_c_rate", "c_to_w_rate"):
                value = part.get(key)
                rates[f"{setting}.{key}"] = float(value) if isinstance(value, int | float) else None
        out.append({"run": f"#{run.id} {run.dataset} ({run.model or 'critic ?'})", **rates})
    return out


def loss_curves(
    session: Session, *, names: tuple[str, ...] = ("loss", "train_loss")
) -> dict[str, list[tuple[int, float]]]:
    """Per training job ('#id kind'): (step, loss) points in step order."""
    rows = session.execute(
        select(TrainingMetricPoint.job_id, TrainingJob.kind, TrainingMetricPoint.step, TrainingMetricPoint.value)
        .join(TrainingJob, TrainingJob.id == TrainingMetricPoint.job_id)
        .where(TrainingMetricPoint.name.in_(names))
        .order_by(TrainingMetricPoint.job_id, TrainingMetricPoint.step)
    )
    curves: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for job_id, kind, step, value in rows:
        curves[f"#{job_id} {kind}"].append((int(step), float(value)))
    return dict(curves)


def latest_job_log(session: Session, *, job_id: int) -> str:
    """The newest log line of a training job ("" if it has none)."""
    query = select(TrainingJobLog.message).where(TrainingJobLog.job_id == job_id).order_by(TrainingJobLog.id.desc())
    return session.scalar(query.limit(1)) or ""
