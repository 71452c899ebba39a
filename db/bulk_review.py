"""Bulk review: approve or reject many listed annotations at once, each one audited, versioned and four-eyes checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BadInputError, CriticError, PermissionDeniedError
from db.annotations import AnnotationConflictError, annotation_authors, review_annotation
from db.models import Annotation, User


@dataclass
class BulkOutcome:
    """What one bulk decision did: the rows decided and, by reason, the rows it skipped."""

    decided: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    """Saved by someone since the reviewer listed them (a newer version): left as they are."""
    own: list[int] = field(default_factory=list)
    """Written or edited by the reviewer (four eyes): another reviewer decides them."""
    refused: dict[int, str] = field(default_factory=dict)
    """Any other reason (a draft, a teacher's class, a row that no longer exists), by row."""

    def summary(self, *, approve: bool) -> str:
        """One readable paragraph: what was decided, and each kind of skip with its rows."""
        verb = "Approved" if approve else "Rejected"
        parts = [f"{verb} {len(self.decided)} annotation{'s' * (len(self.decided) != 1)}."]
        if self.changed:
            parts.append(f"Skipped {_rows(self.changed)} changed since you listed them: {_ids(self.changed)}.")
        if self.own:
            four_eyes = "four eyes: another reviewer decides"
            parts.append(f"Skipped {_rows(self.own)} you wrote or edited ({four_eyes}): {_ids(self.own)}.")
        for annotation_id, reason in self.refused.items():
            parts.append(f"Skipped #{annotation_id}: {reason}.")
        return " ".join(parts)


def _rows(ids: list[int]) -> str:
    return f"{len(ids)} row{'s' * (len(ids) != 1)}"


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def review_many(
    session: Session,
    *,
    listed_versions: Mapping[int, int],
    reviewer_id: int,
    approve: bool,
    comment: str = "",
) -> BulkOutcome:
    """Approve or reject each listed annotation at the version it was listed with, one audited change each.

    A row saved since it was listed, or one the reviewer wrote or edited, is skipped and reported, never decided.
    """
    if not listed_versions:
        raise BadInputError("select at least one row to approve or reject")
    if not approve and not comment.strip():
        raise BadInputError("say why in the reason when rejecting annotations")
    role = session.scalar(select(User.role).where(User.id == reviewer_id, User.active.is_(True)))
    if role not in ("admin", "reviewer"):
        raise PermissionDeniedError("only reviewers and admins can approve or reject annotations")
    annotators = dict(
        session.execute(
            select(Annotation.id, Annotation.annotator_id).where(Annotation.id.in_(list(listed_versions)))
        ).all()
    )
    session.rollback()
    outcome = BulkOutcome()
    for annotation_id, version in sorted(listed_versions.items()):
        if annotators.get(annotation_id) == reviewer_id or reviewer_id in annotation_authors(
            session, annotation_id=annotation_id
        ):
            session.rollback()
            outcome.own.append(annotation_id)
            continue
        try:
            review_annotation(
                session,
                annotation_id=annotation_id,
                expected_version=int(version),
                reviewer_id=reviewer_id,
                approve=approve,
                comment=comment,
            )
        except AnnotationConflictError:
            outcome.changed.append(annotation_id)
        except CriticError as exc:
            outcome.refused[annotation_id] = str(exc)
        else:
            outcome.decided.append(annotation_id)
    return outcome
