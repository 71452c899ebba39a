"""Annotations: create, save with a version check (no silent overwrite), review; every change is audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.errors import BadInputError, ConflictError, NotFoundError, PermissionDeniedError
from core.prm800k import FINISH_REASONS, first_error_from_ratings
from core.types import StepRating
from db.models import Annotation, AnnotationEvent, Item, User, utcnow
from db.session import begin_write

EDITABLE_STATUSES = ("draft", "submitted")
_UNSET: Any = object()


class AnnotationConflictError(ConflictError):
    """Someone saved the annotation since it was loaded: carries both versions and the stored state."""

    def __init__(self, *, annotation_id: int, expected_version: int, current: Annotation) -> None:
        self.annotation_id = annotation_id
        self.expected_version = expected_version
        self.current_version = current.version
        self.current = snapshot(current)
        super().__init__(
            f"annotation {annotation_id} was changed by someone else (you loaded version {expected_version}, "
            f"it is now version {current.version}); reload it to see their changes"
        )


def snapshot(annotation: Annotation) -> dict[str, Any]:
    """The user-visible state of an annotation, as stored in audit events."""
    return {
        "ratings": list(annotation.ratings),
        "first_error_step": annotation.first_error_step,
        "finish_reason": annotation.finish_reason,
        "flagged_steps": list(annotation.flagged_steps),
        "comment": annotation.comment,
        "critique_run_id": annotation.critique_run_id,
        "accepted_steps": list(annotation.accepted_steps),
        "status": annotation.status,
        "version": annotation.version,
        "time_spent_ms": annotation.time_spent_ms,
        "reviewer_id": annotation.reviewer_id,
        "review_comment": annotation.review_comment,
    }


def validate_ratings(ratings: Sequence[StepRating], n_steps: int) -> list[StepRating]:
    ratings = list(ratings)
    if len(ratings) != n_steps:
        raise BadInputError(f"ratings has {len(ratings)} entries but the item has {n_steps} steps")
    for index, rating in enumerate(ratings, start=1):
        if rating not in (-1, 0, 1, None) or isinstance(rating, bool):
            raise BadInputError(f"step {index}: rating {rating!r} is not -1, 0, 1 or None")
    return ratings


def _validate_steps(name: str, steps: Sequence[int], n_steps: int) -> list[int]:
    out = sorted(set(steps))
    for step in out:
        if not isinstance(step, int) or not 1 <= step <= n_steps:
            raise BadInputError(f"{name}: step {step!r} is not between 1 and {n_steps}")
    return out


def _validate_finish_reason(finish_reason: str | None) -> str | None:
    if finish_reason is not None and finish_reason not in FINISH_REASONS:
        raise BadInputError(f"finish_reason {finish_reason!r} is not one of {', '.join(FINISH_REASONS)}")
    return finish_reason


def _event(
    session: Session, annotation: Annotation, *, action: str, actor_id: int | None, before: dict[str, Any] | None
) -> None:
    after = snapshot(annotation)
    session.add(
        AnnotationEvent(
            annotation_id=annotation.id,
            actor_id=actor_id,
            action=action,
            version=annotation.version,
            before=before,
            after=after,
        )
    )


def create_annotation(
    session: Session,
    *,
    item_id: int,
    annotator_id: int,
    ratings: Sequence[StepRating],
    campaign_id: int | None = None,
    finish_reason: str | None = None,
    flagged_steps: Sequence[int] = (),
    comment: str = "",
    critique_run_id: int | None = None,
    accepted_steps: Sequence[int] = (),
    status: str = "draft",
    time_spent_ms: int = 0,
    actor_id: int | None = None,
) -> Annotation:
    """Store a new annotation and its `create` event in one transaction."""
    if status not in EDITABLE_STATUSES:
        raise BadInputError(f"a new annotation's status must be one of {', '.join(EDITABLE_STATUSES)}")
    begin_write(session)
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"no item with id {item_id}")
    n_steps = len(item.steps)
    annotation = Annotation(
        item_id=item_id,
        annotator_id=annotator_id,
        campaign_id=campaign_id,
        ratings=validate_ratings(ratings, n_steps),
        finish_reason=_validate_finish_reason(finish_reason),
        flagged_steps=_validate_steps("flagged_steps", flagged_steps, n_steps),
        comment=comment,
        critique_run_id=critique_run_id,
        accepted_steps=_validate_steps("accepted_steps", accepted_steps, n_steps),
        status=status,
        time_spent_ms=max(0, int(time_spent_ms)),
        submitted_at=utcnow() if status == "submitted" else None,
    )
    annotation.first_error_step = first_error_from_ratings(annotation.ratings, annotation.finish_reason)
    session.add(annotation)
    try:
        session.flush()
        _event(session, annotation, action="create", actor_id=actor_id or annotator_id, before=None)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(
            f"user {annotator_id} already has an annotation of item {item_id} in this campaign; load and edit it"
        ) from exc
    return annotation


def _locked(session: Session, annotation_id: int) -> Annotation:
    # PostgreSQL: row lock until commit; SQLite: the write transaction (BEGIN IMMEDIATE) already serialises.
    query = select(Annotation).where(Annotation.id == annotation_id).with_for_update()
    annotation = session.scalar(query.execution_options(populate_existing=True))
    if annotation is None:
        raise NotFoundError(f"no annotation with id {annotation_id}")
    return annotation


def _check_version(session: Session, annotation: Annotation, expected_version: int) -> None:
    if annotation.version != expected_version:
        error = AnnotationConflictError(
            annotation_id=annotation.id, expected_version=expected_version, current=annotation
        )
        session.rollback()
        raise error


def _commit_change(session: Session, annotation: Annotation, *, expected_version: int) -> None:
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        _check_version(session, _locked(session, annotation.id), expected_version)
        raise


def save_annotation(
    session: Session,
    *,
    annotation_id: int,
    expected_version: int,
    actor_id: int,
    ratings: Sequence[StepRating] = _UNSET,
    finish_reason: str | None = _UNSET,
    flagged_steps: Sequence[int] = _UNSET,
    comment: str = _UNSET,
    critique_run_id: int | None = _UNSET,
    accepted_steps: Sequence[int] = _UNSET,
    status: str | None = None,
    add_time_ms: int = 0,
) -> Annotation:
    """Change an annotation loaded at `expected_version`; raises AnnotationConflictError if it moved on since.

    Only the given fields change; the first-error step is re-derived from the ratings. One transaction
    writes the new state and its audit event.
    """
    if status is not None and status not in EDITABLE_STATUSES:
        raise BadInputError(f"status must be one of {', '.join(EDITABLE_STATUSES)} (reviews use review_annotation)")
    begin_write(session)
    annotation = _locked(session, annotation_id)
    _check_version(session, annotation, expected_version)
    actor = session.get(User, actor_id)
    if actor is None or (actor.id != annotation.annotator_id and actor.role not in ("admin", "reviewer")):
        session.rollback()
        raise PermissionDeniedError(f"user {actor_id} may not edit annotation {annotation_id} of another annotator")
    before = snapshot(annotation)
    n_steps = len(annotation.item.steps)
    if ratings is not _UNSET:
        annotation.ratings = validate_ratings(ratings, n_steps)
    if finish_reason is not _UNSET:
        annotation.finish_reason = _validate_finish_reason(finish_reason)
    if flagged_steps is not _UNSET:
        annotation.flagged_steps = _validate_steps("flagged_steps", flagged_steps, n_steps)
    if comment is not _UNSET:
        annotation.comment = comment
    if critique_run_id is not _UNSET:
        annotation.critique_run_id = critique_run_id
    if accepted_steps is not _UNSET:
        annotation.accepted_steps = _validate_steps("accepted_steps", accepted_steps, n_steps)
    action = "update"
    if status is not None and status != annotation.status:
        annotation.status = status
        if status == "submitted":
            annotation.submitted_at = utcnow()
            action = "submit"
    annotation.time_spent_ms += max(0, int(add_time_ms))
    annotation.first_error_step = first_error_from_ratings(annotation.ratings, annotation.finish_reason)
    session.flush()  # the ORM bumps `version` here (version_id_col) with "WHERE version = <loaded>"
    _event(session, annotation, action=action, actor_id=actor_id, before=before)
    _commit_change(session, annotation, expected_version=expected_version)
    return annotation


def review_annotation(
    session: Session,
    *,
    annotation_id: int,
    expected_version: int,
    reviewer_id: int,
    approve: bool,
    comment: str = "",
) -> Annotation:
    """Approve or reject a submitted annotation (reviewers and admins only), audited like any change."""
    begin_write(session)
    reviewer = session.get(User, reviewer_id)
    if reviewer is None or reviewer.role not in ("admin", "reviewer"):
        session.rollback()
        raise PermissionDeniedError("only reviewers and admins can approve or reject annotations")
    annotation = _locked(session, annotation_id)
    _check_version(session, annotation, expected_version)
    if annotation.status == "draft":
        session.rollback()
        raise BadInputError(f"annotation {annotation_id} is a draft; it can be reviewed once submitted")
    before = snapshot(annotation)
    annotation.status = "approved" if approve else "rejected"
    annotation.reviewer_id = reviewer_id
    annotation.review_comment = comment
    annotation.reviewed_at = utcnow()
    session.flush()
    _event(session, annotation, action="approve" if approve else "reject", actor_id=reviewer_id, before=before)
    _commit_change(session, annotation, expected_version=expected_version)
    return annotation


def get_annotation(session: Session, *, annotation_id: int) -> Annotation:
    annotation = session.get(Annotation, annotation_id, populate_existing=True)
    if annotation is None:
        raise NotFoundError(f"no annotation with id {annotation_id}")
    return annotation


def find_annotation(
    session: Session, *, item_id: int, annotator_id: int, campaign_id: int | None = None
) -> Annotation | None:
    """This annotator's annotation of this item in this campaign, if any."""
    query = select(Annotation).where(Annotation.item_id == item_id, Annotation.annotator_id == annotator_id)
    query = query.where(
        Annotation.campaign_id.is_(None) if campaign_id is None else Annotation.campaign_id == campaign_id
    )
    return session.scalars(query.order_by(Annotation.id)).first()


def list_annotations(
    session: Session,
    *,
    item_id: int | None = None,
    annotator_id: int | None = None,
    campaign_id: int | None = None,
    status: str | Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Annotation]:
    query = select(Annotation).order_by(Annotation.id)
    if item_id is not None:
        query = query.where(Annotation.item_id == item_id)
    if annotator_id is not None:
        query = query.where(Annotation.annotator_id == annotator_id)
    if campaign_id is not None:
        query = query.where(Annotation.campaign_id == campaign_id)
    if status is not None:
        query = query.where(Annotation.status.in_([status] if isinstance(status, str) else list(status)))
    return list(session.scalars(query.offset(offset).limit(limit)))


def annotation_events(session: Session, *, annotation_id: int) -> list[AnnotationEvent]:
    """The audit trail of one annotation, oldest first."""
    query = select(AnnotationEvent).where(AnnotationEvent.annotation_id == annotation_id)
    return list(session.scalars(query.order_by(AnnotationEvent.id)))
