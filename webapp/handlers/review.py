"""Review handlers: submitted annotations side by side with the critic and other annotators; approve / reject."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import BadInputError, PermissionDeniedError
from core.types import CritiqueResult
from db.annotations import annotation_authors, get_annotation, list_annotations, review_annotation
from db.classes import is_class
from db.critique_runs import get_critique_run, latest_critique_run, to_critique_result
from db.session import session_scope
from db.users import usernames
from webapp.context import AppContext
from webapp.permissions import Action, Actor, require

REVIEWABLE = ("submitted",)


@dataclass
class ReviewView:
    """One annotation under review, with what the critic and the other annotators said about the same item."""

    annotation: dict[str, Any]
    problem: str
    steps: list[str]
    critique: CritiqueResult | None
    others: list[dict[str, Any]] = field(default_factory=list)


def annotation_row(annotation: Any, names: dict[int, str]) -> dict[str, Any]:
    """One annotation as a Review table row (names: user id -> username)."""
    return {
        "annotation_id": annotation.id,
        "item_id": annotation.item_id,
        "campaign_id": annotation.campaign_id,
        "annotator": names.get(annotation.annotator_id, str(annotation.annotator_id)),
        "ratings": list(annotation.ratings),
        "first_error_step": annotation.first_error_step,
        "finish_reason": annotation.finish_reason,
        "flagged_steps": list(annotation.flagged_steps),
        "comment": annotation.comment,
        "step_comments": dict(annotation.step_comments),
        "critique_rating": annotation.critique_rating,
        "status": annotation.status,
        "version": annotation.version,
        "review_comment": annotation.review_comment,
    }


def pending_reviews(
    ctx: AppContext, actor: Actor | None, *, campaign_id: int | None = None, status: str = "submitted"
) -> list[dict[str, Any]]:
    """Annotations waiting for review (or with another status), oldest first."""
    require(actor, Action.REVIEW)
    with session_scope(ctx.database_url) as session:
        names = usernames(session)
        rows = list_annotations(session, campaign_id=campaign_id, status=status, limit=500, without_classes=True)
        return [annotation_row(a, names) for a in rows]


def review_view(ctx: AppContext, actor: Actor | None, *, annotation_id: int) -> ReviewView:
    require(actor, Action.REVIEW)
    with session_scope(ctx.database_url) as session:
        names = usernames(session)
        annotation = get_annotation(session, annotation_id=annotation_id)
        if annotation.campaign is not None and is_class(annotation.campaign):
            raise PermissionDeniedError("a teacher's correction in their class is not reviewed")
        item = annotation.item
        run = (
            get_critique_run(session, run_id=annotation.critique_run_id)
            if annotation.critique_run_id
            else latest_critique_run(session, item_id=item.id)
        )
        others = [
            annotation_row(a, names)
            for a in list_annotations(session, item_id=item.id, without_classes=True)
            if a.id != annotation.id and a.status != "draft"
        ]
        editors = [u for u in annotation_authors(session, annotation_id=annotation.id) if u != annotation.annotator_id]
        return ReviewView(
            annotation={**annotation_row(annotation, names), "edited_by": [names.get(u, str(u)) for u in editors]},
            problem=item.problem,
            steps=list(item.steps),
            critique=to_critique_result(run) if run is not None else None,
            others=others,
        )


def decide(
    ctx: AppContext,
    actor: Actor | None,
    *,
    annotation_id: int,
    version: int,
    approve: bool,
    comment: str = "",
) -> dict[str, Any]:
    """Approve or reject; a reject needs a comment so the annotator learns why. Conflicts raise with both versions."""
    actor = require(actor, Action.REVIEW)
    if not approve and not comment.strip():
        raise BadInputError("say why in the comment when rejecting an annotation")
    with session_scope(ctx.database_url) as session:
        row = review_annotation(
            session,
            annotation_id=annotation_id,
            expected_version=int(version),
            reviewer_id=actor.id,
            approve=approve,
            comment=comment,
        )
        return annotation_row(row, usernames(session))
