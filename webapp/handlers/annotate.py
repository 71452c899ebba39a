"""Annotation handlers: next item of a campaign, save draft / submit with version checks, conflicts kept whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import BadInputError, NotFoundError
from core.prm800k import checked_finish_reason, first_error_from_ratings
from core.step_comments import checked_step_comments
from core.types import CritiqueResult, StepRating
from db.annotation_queue import check_may_label, check_may_label_own_critique
from db.annotations import (
    CRITIQUE_RATINGS,
    AnnotationConflictError,
    annotation_target,
    create_annotation,
    find_annotation,
    save_annotation,
    snapshot,
    validate_critique_rating,
)
from db.critique_runs import latest_critique_run, to_critique_result
from db.models import Annotation, Item
from db.session import session_scope
from webapp.context import AppContext
from webapp.permissions import Action, Actor, require


@dataclass
class Task:
    """One item in front of an annotator: the item, the critic's suggestion, and their saved work if any."""

    campaign_id: int | None
    item_id: int
    problem: str
    steps: list[str]
    critique: CritiqueResult | None = None
    critique_run_id: int | None = None
    annotation_id: int | None = None
    version: int | None = None
    ratings: list[StepRating] = field(default_factory=list)
    flagged_steps: list[int] = field(default_factory=list)
    accepted_steps: list[int] = field(default_factory=list)
    critique_rating: str | None = None
    finish_reason: str | None = None
    comment: str = ""
    step_comments: dict[str, str] = field(default_factory=dict)
    """Notes on single steps, {"3": "text"} (core.step_comments)."""
    status: str = "new"
    guidelines: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["critique"] = self.critique.model_dump(mode="json") if self.critique else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        data = dict(data)
        if data.get("critique"):
            data["critique"] = CritiqueResult.model_validate(data["critique"])
        return cls(**data)


@dataclass
class SaveOutcome:
    """What a save did: the stored state, or on a conflict both versions side by side (nothing is dropped)."""

    saved: dict[str, Any] | None = None
    conflict: bool = False
    mine: dict[str, Any] | None = None
    theirs: dict[str, Any] | None = None
    message: str = ""


def critic_verdict_ratings(critique: CritiqueResult | None, n_steps: int) -> list[StepRating]:
    """The step ratings the critic's verdicts imply: +1 correct, -1 incorrect, unrated otherwise."""
    if critique is None:
        return [None] * n_steps
    by_index = {s.index: s.verdict for s in critique.steps}
    mapping: dict[str, StepRating] = {"correct": 1, "incorrect": -1}
    return [mapping.get(by_index.get(i, "unchecked")) for i in range(1, n_steps + 1)]


def derived_first_error(ratings: list[StepRating], finish_reason: str | None) -> int | None:
    return first_error_from_ratings(ratings, finish_reason)


def default_finish_reason(ratings: list[StepRating]) -> str:
    return "found_error" if -1 in ratings else "solution"


def _latest_critique(session: Any, item_id: int) -> tuple[CritiqueResult | None, int | None]:
    run = latest_critique_run(session, item_id=item_id)
    if run is None:
        return None, None
    try:
        return to_critique_result(run), run.id
    except Exception:  # an old or foreign row: show the item without suggestions rather than fail
        return None, run.id


def load_task(ctx: AppContext, actor: Actor | None, *, item_id: int, campaign_id: int | None) -> Task:
    """The item with the critic's latest critique and this annotator's own annotation (draft or submitted)."""
    actor = require(actor, Action.ANNOTATE)
    with session_scope(ctx.database_url) as session:
        item = session.get(Item, item_id)
        if item is None:
            raise NotFoundError(f"no item with id {item_id}")
        campaign = check_may_label(session, campaign_id=campaign_id, item_id=item_id, user_id=actor.id, role=actor.role)
        guidelines = campaign.guidelines
        critique, run_id = _latest_critique(session, item_id)
        task = Task(
            campaign_id=campaign_id,
            item_id=item.id,
            problem=item.problem,
            steps=list(item.steps),
            critique=critique,
            critique_run_id=run_id,
            ratings=[None] * len(item.steps),
            guidelines=guidelines,
        )
        annotation = find_annotation(session, item_id=item_id, annotator_id=actor.id, campaign_id=campaign_id)
        if annotation is not None:
            _fill_from(task, annotation)
        return task


def _fill_from(task: Task, annotation: Annotation) -> None:
    task.annotation_id = annotation.id
    task.version = annotation.version
    task.ratings = list(annotation.ratings)
    task.flagged_steps = list(annotation.flagged_steps)
    task.accepted_steps = list(annotation.accepted_steps)
    task.critique_rating = annotation.critique_rating
    task.finish_reason = annotation.finish_reason
    task.comment = annotation.comment
    task.step_comments = dict(annotation.step_comments)
    task.status = annotation.status


def next_task(
    ctx: AppContext, actor: Actor | None, *, campaign_id: int, skipped: list[int] | None = None
) -> Task | None:
    """The annotator's next item: their own unfinished draft first, else an item they have not seen that
    still needs annotators (the campaign's overlap); None when the campaign has nothing left for them."""
    from db.annotation_queue import next_item_id

    actor = require(actor, Action.ANNOTATE)
    with session_scope(ctx.database_url) as session:
        item_id = next_item_id(session, campaign_id=campaign_id, annotator_id=actor.id, exclude=skipped or [])
    if item_id is None:
        return None
    return load_task(ctx, actor, item_id=item_id, campaign_id=campaign_id)


def save(
    ctx: AppContext,
    actor: Actor | None,
    *,
    item_id: int,
    campaign_id: int | None,
    ratings: list[StepRating],
    finish_reason: str | None = None,
    flagged_steps: list[int] | None = None,
    accepted_steps: list[int] | None = None,
    critique_rating: str | None = None,
    comment: str = "",
    step_comments: dict[str, str] | None = None,
    annotation_id: int | None = None,
    version: int | None = None,
    submit: bool = False,
    critique_run_id: int | None = None,
    time_spent_ms: int = 0,
) -> SaveOutcome:
    """Save a draft or submit. A stale `version` returns both versions instead of overwriting anything.

    A label belongs to a campaign, except a label of a critique the user ran themselves (`campaign_id` None and
    that run's `critique_run_id`). `step_comments` ({"3": "text"}) replaces the stored ones; None keeps them."""
    actor = require(actor, Action.ANNOTATE)
    finish_reason = _checked_finish_reason(finish_reason, ratings, submit=submit)
    fields = {
        "ratings": list(ratings),
        "finish_reason": finish_reason,
        "flagged_steps": sorted(set(flagged_steps or [])),
        "accepted_steps": sorted(set(accepted_steps or [])),
        "critique_rating": validate_critique_rating(critique_rating or None),
        "comment": comment,
        "status": "submitted" if submit else "draft",
    }
    if step_comments is not None:  # None (the API's saves) keeps the stored step comments
        fields["step_comments"] = dict(step_comments)
    mine = {**fields, "first_error_step": derived_first_error(list(ratings), finish_reason), "version": version}
    with session_scope(ctx.database_url) as session:
        if annotation_id is not None:  # the stored label's campaign and item count, not what the request says
            item_id, campaign_id = annotation_target(session, annotation_id=annotation_id)
        _check_may_save(session, actor, item_id=item_id, campaign_id=campaign_id, critique_run_id=critique_run_id)
        stored = None if annotation_id is None or version is None else (annotation_id, int(version))
        if annotation_id is None:
            existing = find_annotation(session, item_id=item_id, annotator_id=actor.id, campaign_id=campaign_id)
            if existing is not None:
                # Saved from another tab or device since this page loaded: never overwrite it blindly.
                return SaveOutcome(
                    conflict=True,
                    mine=mine,
                    theirs={**snapshot(existing), "annotation_id": existing.id},
                    message="You already saved this item elsewhere; both versions are shown.",
                )
        elif version is None:
            raise BadInputError("version is required to change a saved annotation")
        try:
            row = write_label(
                session,
                actor_id=actor.id,
                item_id=item_id,
                campaign_id=campaign_id,
                stored=stored,
                critique_run_id=critique_run_id,
                time_spent_ms=time_spent_ms,
                **fields,
            )
        except AnnotationConflictError as exc:
            return SaveOutcome(
                conflict=True,
                mine=mine,
                theirs={**exc.current, "annotation_id": exc.annotation_id},
                message=str(exc),
            )
        saved = {**snapshot(row), "annotation_id": row.id, "item_id": row.item_id}
    verb = "Submitted" if submit else "Draft saved"
    return SaveOutcome(saved=saved, message=f"{verb} (version {saved['version']}).")


def _checked_finish_reason(finish_reason: str | None, ratings: list[StepRating], *, submit: bool) -> str | None:
    """The finish reason to store: none for a draft without one, the ratings' own on a submit without one."""
    if finish_reason in ("", None):
        finish_reason = None
    else:
        finish_reason = checked_finish_reason(finish_reason, "finish reason")
    if submit and finish_reason is None:
        finish_reason = default_finish_reason(list(ratings))
    return finish_reason


def _check_may_save(
    session: Any, actor: Actor, *, item_id: int, campaign_id: int | None, critique_run_id: int | None
) -> None:
    if campaign_id is None and critique_run_id is not None:  # a label of one's own critique (Critique tab)
        check_may_label_own_critique(session, critique_run_id=critique_run_id, item_id=item_id, user_id=actor.id)
    else:
        check_may_label(session, campaign_id=campaign_id, item_id=item_id, user_id=actor.id, role=actor.role)


def write_label(
    session: Any,
    *,
    actor_id: int,
    item_id: int,
    campaign_id: int | None,
    stored: tuple[int, int] | None,
    critique_run_id: int | None = None,
    time_spent_ms: int = 0,
    **fields: Any,
) -> Annotation:
    """Create the user's label of an item, or save a new version of the `stored` one (its id and loaded version).

    `fields` are the label's values (ratings, finish_reason, comment, status, ...); a stale version raises
    AnnotationConflictError."""
    if stored is None:
        return create_annotation(
            session,
            item_id=item_id,
            annotator_id=actor_id,
            campaign_id=campaign_id,
            critique_run_id=critique_run_id,
            time_spent_ms=time_spent_ms,
            actor_id=actor_id,
            **fields,
        )
    annotation_id, version = stored
    return save_annotation(
        session,
        annotation_id=annotation_id,
        expected_version=version,
        actor_id=actor_id,
        add_time_ms=time_spent_ms,
        # The label now answers the critique on screen: link it (the audit trail keeps the old link).
        **({} if critique_run_id is None else {"critique_run_id": critique_run_id}),
        **fields,
    )


def save_task(
    ctx: AppContext,
    actor: Actor | None,
    task: Task,
    *,
    finish_reason: str | None,
    comment: str,
    submit: bool,
    time_spent_ms: int = 0,
) -> SaveOutcome:
    """Save the work an annotator holds in `task` (ratings, flags, accepted verdicts) with the form's fields."""
    return save(
        ctx,
        actor,
        item_id=task.item_id,
        campaign_id=task.campaign_id,
        ratings=task.ratings,
        finish_reason=finish_reason,
        flagged_steps=task.flagged_steps,
        accepted_steps=task.accepted_steps,
        critique_rating=task.critique_rating,
        comment=comment,
        step_comments=task.step_comments,
        annotation_id=task.annotation_id,
        version=task.version,
        submit=submit,
        critique_run_id=task.critique_run_id,
        time_spent_ms=time_spent_ms,
    )


# ---- editing the task in the page (pure: no database until save) ---------------------------------------------


def rate_step(task: Task, step: int, rating: StepRating) -> Task:
    """Set one step's rating; the step is no longer an accepted critic verdict."""
    _check_step(task, step)
    task.ratings[step - 1] = rating
    task.accepted_steps = [s for s in task.accepted_steps if s != step]
    return task


def accept_step(task: Task, step: int) -> Task:
    """Take the critic's verdict for one step as the rating (+1 correct, -1 incorrect)."""
    _check_step(task, step)
    if task.critique is None:
        raise BadInputError("this item has no critic suggestion to accept; rate the step yourself")
    suggested = critic_verdict_ratings(task.critique, len(task.steps))[step - 1]
    if suggested is None:
        raise BadInputError(f"the critic did not judge step {step}; rate it yourself")
    task.ratings[step - 1] = suggested
    task.accepted_steps = sorted(set(task.accepted_steps) | {step})
    return task


def accept_all(task: Task) -> Task:
    """Take every verdict the critic gave (steps it left unchecked stay as they are)."""
    if task.critique is None:
        raise BadInputError("this item has no critic suggestion to accept")
    for step, suggested in enumerate(critic_verdict_ratings(task.critique, len(task.steps)), start=1):
        if suggested is not None:
            task.ratings[step - 1] = suggested
            task.accepted_steps = sorted(set(task.accepted_steps) | {step})
    return task


def comment_step(task: Task, step: int, text: str) -> Task:
    """Set the comment on one step (empty text removes it); checked like a stored comment."""
    _check_step(task, step)
    task.step_comments = checked_step_comments({**task.step_comments, str(step): text}, len(task.steps))
    return task


def rate_critique(task: Task, rating: str) -> Task:
    """Rate the critique shown with the item (helpful, partly, misleading); the same rating again clears it."""
    if rating not in CRITIQUE_RATINGS:
        raise BadInputError(f"critique rating {rating!r} is not one of {', '.join(CRITIQUE_RATINGS)}")
    if task.critique is None:
        raise BadInputError("this item has no critique to rate; label the solution itself")
    task.critique_rating = None if task.critique_rating == rating else rating
    return task


def toggle_flag(task: Task, step: int) -> Task:
    _check_step(task, step)
    flagged = set(task.flagged_steps)
    task.flagged_steps = sorted(flagged ^ {step})
    return task


def _check_step(task: Task, step: int) -> None:
    if not 1 <= step <= len(task.steps):
        raise BadInputError(f"step {step} is not between 1 and {len(task.steps)}")
