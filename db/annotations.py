"""Annotations: create, save with a version check (no silent overwrite), review; every change is audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args

from sqlalchemy import Connection, bindparam, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from core.errors import BadInputError, ConflictError, NotFoundError, PermissionDeniedError
from core.prm800k import checked_finish_reason, first_error_from_ratings
from core.step_comments import checked_step_comments
from core.types import CritiqueRating, StepRating
from db.classes import CLASS_CAMPAIGN_IDS
from db.filters import where_given
from db.models import Annotation, AnnotationEvent, Item, User, utcnow
from db.session import run_write, session_scope
from db.webhooks import record_event

EDITABLE_STATUSES = ("draft", "submitted")
CRITIQUE_RATINGS: tuple[str, ...] = get_args(CritiqueRating)
# Audit actions that write a label's content: whoever did one of them is an author of the label (four eyes: an
# author never approves or rejects it). Reviews (approve, reject) change only its status.
AUTHORING_ACTIONS = ("create", "import", "update", "submit")
# The audit actions other systems hear of by webhook (db.webhooks outbox, written in the same transaction).
WEBHOOK_EVENTS = {"submit": "annotation.submitted", "approve": "annotation.approved", "reject": "annotation.rejected"}
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
        "step_comments": dict(annotation.step_comments or {}),
        "critique_run_id": annotation.critique_run_id,
        "accepted_steps": list(annotation.accepted_steps),
        "critique_rating": annotation.critique_rating,
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
    return None if finish_reason is None else checked_finish_reason(finish_reason)


def validate_critique_rating(rating: str | None) -> str | None:
    """`rating` when it is None (not rated) or one of CRITIQUE_RATINGS; otherwise BadInputError naming the choices."""
    if rating is not None and rating not in CRITIQUE_RATINGS:
        raise BadInputError(f"critique rating {rating!r} is not one of {', '.join(CRITIQUE_RATINGS)} (or none)")
    return rating


# Built once: constructing a statement costs more than executing it (SQLAlchemy's compiled cache needs a key).
_ACTOR_ROLE = select(User.role).where(User.id == bindparam("actor_id"), User.active.is_(True)).scalar_subquery()
_LOAD_FOR_WRITE = (
    select(Annotation, Item.steps, _ACTOR_ROLE)
    .join(Item, Item.id == Annotation.item_id)
    .where(Annotation.id == bindparam("annotation_id"))
    .execution_options(populate_existing=True)
)
_ANNOTATIONS = Annotation.__table__
# The SET clause comes from the parameters' keys; the WHERE clause makes a stale save change nothing.
_UPDATE_IF_VERSION = update(_ANNOTATIONS).where(
    _ANNOTATIONS.c.id == bindparam("where_id"), _ANNOTATIONS.c.version == bindparam("where_version")
)
_INSERT_EVENT = insert(AnnotationEvent.__table__)
_INSERT_ANNOTATION = insert(_ANNOTATIONS).returning(_ANNOTATIONS.c.id)
_ITEM_STEPS = select(Item.steps).where(Item.id == bindparam("item_id"))
_IS_AUTHOR = select(
    exists().where(
        AnnotationEvent.annotation_id == bindparam("annotation_id"),
        AnnotationEvent.actor_id == bindparam("actor_id"),
        AnnotationEvent.action.in_(AUTHORING_ACTIONS),
    )
)
# Every change writes all of these (unchanged ones with their loaded values, which the version check makes
# current), so every save, submit and review is one statement shape: compiled once per process.
_CHANGEABLE = (
    "ratings",
    "first_error_step",
    "finish_reason",
    "flagged_steps",
    "comment",
    "step_comments",
    "critique_run_id",
    "accepted_steps",
    "critique_rating",
    "status",
    "time_spent_ms",
    "reviewer_id",
    "review_comment",
    "submitted_at",
    "reviewed_at",
)


def prepare_statements(url: str | None = None) -> None:
    """Compile the statements that load annotations and items for a save now, in this process.

    A process compiles each statement on first use, which makes its first save slower; a server calls
    this at start so that the first saves of its users do not pay for it.
    """
    with session_scope(url) as session:
        session.execute(_LOAD_FOR_WRITE, {"annotation_id": -1, "actor_id": -1}).first()
        session.scalar(_ITEM_STEPS, {"item_id": -1})
        session.get(Annotation, -1)


def _load_for_write(session: Session, annotation_id: int, actor_id: int) -> tuple[Annotation, int, str | None]:
    """The annotation, its item's step count and the actor's role, in one query before the write transaction.

    Versions are unique per state, so the row read at the expected version is exactly the state the
    conditional UPDATE in `_write_change` replaces: it is the audit event's `before`.
    """
    row = session.execute(_LOAD_FOR_WRITE, {"annotation_id": annotation_id, "actor_id": actor_id}).first()
    if row is None:
        session.rollback()
        raise NotFoundError(f"no annotation with id {annotation_id}")
    annotation, steps, role = row
    return annotation, len(steps), role


def _end_read(session: Session) -> None:
    # SQLite must start the write as a new BEGIN IMMEDIATE transaction; PostgreSQL (READ COMMITTED) keeps
    # the connection and saves the round trips: its UPDATE ... WHERE version = n sees the latest commit.
    if session.get_bind().dialect.name == "sqlite":
        session.commit()


def _check_version(session: Session, annotation: Annotation, expected_version: int) -> None:
    if annotation.version != expected_version:
        error = AnnotationConflictError(
            annotation_id=annotation.id, expected_version=expected_version, current=annotation
        )
        session.rollback()
        raise error


def _event_payload(annotation: Annotation, state: dict[str, Any]) -> dict[str, Any]:
    """What a webhook says about an annotation: which label, its item and campaign, and its new state."""
    return {
        "annotation_id": annotation.id,
        "item_id": annotation.item_id,
        "campaign_id": annotation.campaign_id,
        "annotator_id": annotation.annotator_id,
        "version": state["version"],
        "status": state["status"],
        "first_error_step": state["first_error_step"],
        "reviewer_id": state["reviewer_id"],
        "review_comment": state["review_comment"],
    }


def _write_change(
    session: Session,
    annotation: Annotation,
    *,
    expected_version: int,
    values: dict[str, Any],
    action: str,
    actor_id: int,
) -> Annotation:
    """One short write transaction: UPDATE ... WHERE version = expected, plus the audit event; or a conflict.

    Everything else (validation, the before/after snapshots, the parameters) is ready before the transaction
    starts: on SQLite it holds the database's only write lock, so every writer waits for its whole length.
    """
    before = snapshot(annotation)
    _end_read(session)
    values = {**values, "version": expected_version + 1, "updated_at": utcnow()}
    after = {key: values.get(key, value) for key, value in before.items()}
    unchanged = {key: getattr(annotation, key) for key in _CHANGEABLE if key not in values}
    change = {**unchanged, **values, "where_id": annotation.id, "where_version": expected_version}
    audit = {
        "annotation_id": annotation.id,
        "actor_id": actor_id,
        "action": action,
        "version": expected_version + 1,
        "before": before,
        "after": after,
        "created_at": values["updated_at"],
    }
    webhook = WEBHOOK_EVENTS.get(action)
    event = _event_payload(annotation, after) if webhook else {}

    def update_and_audit(connection: Connection) -> bool:
        if connection.execute(_UPDATE_IF_VERSION, change).rowcount != 1:  # someone saved in between
            return False
        connection.execute(_INSERT_EVENT, audit)
        if webhook:
            record_event(connection, webhook, event)
        return True

    # A stale save changed nothing: committing its transaction is the same as rolling it back.
    if not run_write(session, update_and_audit):
        current = get_annotation(session, annotation_id=annotation.id)
        _check_version(session, current, expected_version)
        raise AssertionError("the conditional update failed although the version matches")
    for key, value in values.items():
        set_committed_value(annotation, key, value)
    return annotation


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
    step_comments: Mapping[int | str, str] | None = None,
    critique_run_id: int | None = None,
    accepted_steps: Sequence[int] = (),
    critique_rating: str | None = None,
    status: str = "draft",
    time_spent_ms: int = 0,
    actor_id: int | None = None,
) -> Annotation:
    """Store a new annotation and its `create` event in one transaction."""
    if status not in EDITABLE_STATUSES:
        raise BadInputError(f"a new annotation's status must be one of {', '.join(EDITABLE_STATUSES)}")
    steps = session.scalar(_ITEM_STEPS, {"item_id": item_id})
    if steps is None:
        raise NotFoundError(f"no item with id {item_id}")
    n_steps = len(steps)
    ratings = validate_ratings(ratings, n_steps)
    finish_reason = _validate_finish_reason(finish_reason)
    now = utcnow()
    row = {
        "item_id": item_id,
        "annotator_id": annotator_id,
        "campaign_id": campaign_id,
        "ratings": ratings,
        "first_error_step": first_error_from_ratings(ratings, finish_reason),
        "finish_reason": finish_reason,
        "flagged_steps": _validate_steps("flagged_steps", flagged_steps, n_steps),
        "comment": comment,
        "step_comments": checked_step_comments(step_comments, n_steps),
        "critique_run_id": critique_run_id,
        "accepted_steps": _validate_steps("accepted_steps", accepted_steps, n_steps),
        "critique_rating": validate_critique_rating(critique_rating),
        "status": status,
        "version": 1,
        "time_spent_ms": max(0, int(time_spent_ms)),
        "reviewer_id": None,
        "review_comment": "",
        "import_key": None,
        "created_at": now,
        "updated_at": now,
        "submitted_at": now if status == "submitted" else None,
        "reviewed_at": None,
    }
    annotation = Annotation(**row)
    audit = {
        "actor_id": actor_id or annotator_id,
        "action": "create",
        "version": 1,
        "before": None,
        "after": snapshot(annotation),
        "created_at": now,
    }
    _end_read(session)

    def insert_and_audit(connection: Connection) -> int:
        annotation_id = connection.execute(_INSERT_ANNOTATION, row).scalar_one()
        connection.execute(_INSERT_EVENT, {**audit, "annotation_id": annotation_id})
        if status == "submitted":
            annotation.id = annotation_id
            record_event(connection, "annotation.submitted", _event_payload(annotation, audit["after"]))
        return annotation_id

    # Core statements in the write transaction (the ORM's flush would hold the lock several times as long).
    try:
        annotation.id = run_write(session, insert_and_audit)
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(
            f"user {annotator_id} already has an annotation of item {item_id} in this campaign; load and edit it"
        ) from exc
    # Every column is set, so the stored row needs no reload: attach the object as already persistent.
    make_transient_to_detached(annotation)
    session.add(annotation)
    return annotation


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
    step_comments: Mapping[int | str, str] | None = _UNSET,
    critique_run_id: int | None = _UNSET,
    accepted_steps: Sequence[int] = _UNSET,
    critique_rating: str | None = _UNSET,
    status: str | None = None,
    add_time_ms: int = 0,
) -> Annotation:
    """Change an annotation loaded at `expected_version`; raises AnnotationConflictError if it moved on since.

    Only the given fields change; the first-error step is re-derived from the ratings. One transaction
    writes the new state and its audit event. Reviewers and admins may edit another annotator's label; the edit
    makes them an author of it, so another reviewer approves it (see `review_annotation`), and an approved or
    rejected label whose content changes goes back to submitted.
    """
    if status is not None and status not in EDITABLE_STATUSES:
        raise BadInputError(f"status must be one of {', '.join(EDITABLE_STATUSES)} (reviews use review_annotation)")
    annotation, n_steps, role = _load_for_write(session, annotation_id, actor_id)
    if role is None or (actor_id != annotation.annotator_id and role not in ("admin", "reviewer")):
        session.rollback()
        raise PermissionDeniedError(f"user {actor_id} may not edit annotation {annotation_id} of another annotator")
    _check_version(session, annotation, expected_version)
    values: dict[str, Any] = {}
    if ratings is not _UNSET:
        values["ratings"] = validate_ratings(ratings, n_steps)
    if finish_reason is not _UNSET:
        values["finish_reason"] = _validate_finish_reason(finish_reason)
    if flagged_steps is not _UNSET:
        values["flagged_steps"] = _validate_steps("flagged_steps", flagged_steps, n_steps)
    if comment is not _UNSET:
        values["comment"] = comment
    if step_comments is not _UNSET:
        values["step_comments"] = checked_step_comments(step_comments, n_steps)
    if critique_run_id is not _UNSET:
        values["critique_run_id"] = critique_run_id
    if accepted_steps is not _UNSET:
        values["accepted_steps"] = _validate_steps("accepted_steps", accepted_steps, n_steps)
    if critique_rating is not _UNSET:
        values["critique_rating"] = validate_critique_rating(critique_rating)
    action = "update"
    if status is None and annotation.status not in EDITABLE_STATUSES and set(values) - {"critique_run_id"}:
        status = "submitted"  # a reviewed label whose content changed needs a fresh review
    if status is not None and status != annotation.status:
        values["status"] = status
        if status == "submitted":
            values["submitted_at"] = utcnow()
            action = "submit"
    values["time_spent_ms"] = annotation.time_spent_ms + max(0, int(add_time_ms))
    values["first_error_step"] = first_error_from_ratings(
        values.get("ratings", annotation.ratings), values.get("finish_reason", annotation.finish_reason)
    )
    return _write_change(
        session, annotation, expected_version=expected_version, values=values, action=action, actor_id=actor_id
    )


def review_annotation(
    session: Session,
    *,
    annotation_id: int,
    expected_version: int,
    reviewer_id: int,
    approve: bool,
    comment: str = "",
) -> Annotation:
    """Approve or reject a submitted annotation (reviewers and admins only), audited like any change.

    Four eyes: nobody reviews a label they wrote, neither as its annotator nor as someone who edited it."""
    annotation, _, role = _load_for_write(session, annotation_id, reviewer_id)
    if role not in ("admin", "reviewer"):
        session.rollback()
        raise PermissionDeniedError("only reviewers and admins can approve or reject annotations")
    if annotation.annotator_id == reviewer_id:
        session.rollback()
        raise PermissionDeniedError("nobody reviews their own annotation: another reviewer approves or rejects it")
    if session.scalar(_IS_AUTHOR, {"annotation_id": annotation_id, "actor_id": reviewer_id}):
        session.rollback()
        raise PermissionDeniedError(
            f"you edited annotation {annotation_id}, so it is your label too: another reviewer approves or rejects it"
        )
    if annotation.campaign_id is not None and annotation.campaign_id in set(session.scalars(CLASS_CAMPAIGN_IDS)):
        session.rollback()
        raise PermissionDeniedError("a teacher's correction in their class is not reviewed")
    _check_version(session, annotation, expected_version)
    if annotation.status == "draft":
        session.rollback()
        raise BadInputError(f"annotation {annotation_id} is a draft; it can be reviewed once submitted")
    values = {
        "status": "approved" if approve else "rejected",
        "reviewer_id": reviewer_id,
        "review_comment": comment,
        "reviewed_at": utcnow(),
    }
    action = "approve" if approve else "reject"
    return _write_change(
        session, annotation, expected_version=expected_version, values=values, action=action, actor_id=reviewer_id
    )


def annotation_authors(session: Session, *, annotation_id: int) -> list[int]:
    """The users who wrote this label's content (its annotator and everyone who edited it), first author first."""
    query = (
        select(AnnotationEvent.actor_id)
        .where(AnnotationEvent.annotation_id == annotation_id, AnnotationEvent.action.in_(AUTHORING_ACTIONS))
        .order_by(AnnotationEvent.id)
    )
    return list(dict.fromkeys(session.scalars(query)))


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
    without_classes: bool = False,
) -> list[Annotation]:
    """Annotations matching every given filter, oldest first; `without_classes` leaves out teachers' corrections."""
    query = select(Annotation).order_by(Annotation.id)
    if without_classes:
        query = query.where(or_(Annotation.campaign_id.is_(None), Annotation.campaign_id.not_in(CLASS_CAMPAIGN_IDS)))
    query = where_given(
        query,
        [(Annotation.item_id, item_id), (Annotation.annotator_id, annotator_id), (Annotation.campaign_id, campaign_id)],
    )
    if status is not None:
        query = query.where(Annotation.status.in_([status] if isinstance(status, str) else list(status)))
    return list(session.scalars(query.offset(offset).limit(limit)))


def annotation_events(session: Session, *, annotation_id: int) -> list[AnnotationEvent]:
    """The audit trail of one annotation, oldest first."""
    query = select(AnnotationEvent).where(AnnotationEvent.annotation_id == annotation_id)
    return list(session.scalars(query.order_by(AnnotationEvent.id)))


def annotation_target(session: Session, *, annotation_id: int) -> tuple[int, int | None]:
    """The (item id, campaign id) an annotation labels."""
    row = session.execute(
        select(Annotation.item_id, Annotation.campaign_id).where(Annotation.id == annotation_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no annotation with id {annotation_id}")
    return row.item_id, row.campaign_id
