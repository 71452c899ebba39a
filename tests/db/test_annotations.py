"""Annotations: derived first-error step, version checks that never overwrite silently, reviews, audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import BadInputError, ConflictError, PermissionDeniedError
from core.types import CritiqueResult, StepResult
from db.annotations import (
    AnnotationConflictError,
    annotation_events,
    create_annotation,
    get_annotation,
    review_annotation,
    save_annotation,
)
from db.critique_runs import record_critique, step_suggestions, to_critique_result
from db.items import to_solution_item
from db.models import AnnotationEvent


@pytest.fixture
def setup(db_session, make_user, make_item):
    annotator = make_user(db_session, "ann")
    item = make_item(db_session, "Q?", ["s1", "s2", "s3"])
    return annotator, item


def test_first_error_step_is_derived_from_the_ratings(db_session, setup) -> None:
    annotator, item = setup
    annotation = create_annotation(db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, -1, None])
    assert annotation.first_error_step == 2 and annotation.version == 1
    saved = save_annotation(
        db_session,
        annotation_id=annotation.id,
        expected_version=1,
        actor_id=annotator.id,
        ratings=[1, 0, 1],
        finish_reason="solution",
        status="submitted",
        add_time_ms=1500,
    )
    assert saved.first_error_step == -1 and saved.version == 2 and saved.status == "submitted"
    assert saved.time_spent_ms == 1500


def test_stale_save_is_a_conflict_carrying_both_versions_and_nothing_is_overwritten(db_session, setup) -> None:
    annotator, item = setup
    annotation = create_annotation(db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 1, 1])
    save_annotation(db_session, annotation_id=annotation.id, expected_version=1, actor_id=annotator.id, comment="first")
    with pytest.raises(AnnotationConflictError) as caught:
        save_annotation(
            db_session, annotation_id=annotation.id, expected_version=1, actor_id=annotator.id, comment="second"
        )
    assert isinstance(caught.value, ConflictError)
    assert (caught.value.expected_version, caught.value.current_version) == (1, 2)
    assert caught.value.current["comment"] == "first"
    assert get_annotation(db_session, annotation_id=annotation.id).comment == "first"
    assert [e.action for e in annotation_events(db_session, annotation_id=annotation.id)] == ["create", "update"]


def test_every_change_is_audited_with_before_and_after(db_session, setup, make_user) -> None:
    annotator, item = setup
    reviewer = make_user(db_session, "rev", role="reviewer")
    annotation = create_annotation(db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, None, None])
    save_annotation(
        db_session,
        annotation_id=annotation.id,
        expected_version=1,
        actor_id=annotator.id,
        ratings=[1, -1, None],
        status="submitted",
    )
    review_annotation(
        db_session, annotation_id=annotation.id, expected_version=2, reviewer_id=reviewer.id, approve=True
    )
    events = annotation_events(db_session, annotation_id=annotation.id)
    assert [(e.action, e.version, e.actor_id) for e in events] == [
        ("create", 1, annotator.id),
        ("submit", 2, annotator.id),
        ("approve", 3, reviewer.id),
    ]
    assert events[0].before is None
    assert events[1].before["ratings"] == [1, None, None] and events[1].after["ratings"] == [1, -1, None]
    assert events[1].after["first_error_step"] == 2
    assert events[2].before["status"] == "submitted" and events[2].after["status"] == "approved"
    with pytest.raises(PermissionDeniedError):
        events[0].action = "forged"
        db_session.commit()
    db_session.rollback()
    assert db_session.scalar(select(AnnotationEvent.action).where(AnnotationEvent.id == events[0].id)) == "create"


def test_only_reviewers_review_and_only_the_annotator_edits(db_session, setup, make_user) -> None:
    annotator, item = setup
    other = make_user(db_session, "other")
    annotation = create_annotation(
        db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 1, 1], status="submitted"
    )
    with pytest.raises(PermissionDeniedError):
        review_annotation(
            db_session, annotation_id=annotation.id, expected_version=1, reviewer_id=other.id, approve=True
        )
    with pytest.raises(PermissionDeniedError):
        save_annotation(db_session, annotation_id=annotation.id, expected_version=1, actor_id=other.id, comment="x")
    assert len(annotation_events(db_session, annotation_id=annotation.id)) == 1


def test_bad_ratings_are_rejected_naming_the_step(db_session, setup) -> None:
    annotator, item = setup
    with pytest.raises(BadInputError, match="2 entries but the item has 3 steps"):
        create_annotation(db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 1])
    with pytest.raises(BadInputError, match="step 2: rating 2"):
        create_annotation(db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 2, 1])
    with pytest.raises(BadInputError, match="flagged_steps: step 4"):
        create_annotation(db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 1, 1], flagged_steps=[4])


def test_one_annotation_per_annotator_item_and_campaign(db_session, setup) -> None:
    from db.campaigns import create_campaign

    annotator, item = setup
    campaign = create_campaign(db_session, name="c", overlap=2)
    kwargs = dict(item_id=item.id, annotator_id=annotator.id, ratings=[1, 1, 1], campaign_id=campaign.id)
    create_annotation(db_session, **kwargs)
    with pytest.raises(ConflictError, match="already has an annotation"):
        create_annotation(db_session, **kwargs)


def test_critique_runs_are_stored_as_suggestions_and_annotations_can_start_from_them(db_session, setup) -> None:
    annotator, item = setup
    result = CritiqueResult(
        problem=item.problem,
        steps=[
            StepResult(index=1, text="s1", verdict="correct", vote_share=1.0),
            StepResult(index=2, text="s2", verdict="incorrect", vote_share=0.75),
        ],
        first_error_step=2,
        votes=[2, 2, 2, -1],
        model="critic-v1",
        backend="transformers",
        samples=4,
        raw_outputs=["a", "b", "c", "d"],
    )
    run = record_critique(db_session, item=to_solution_item(item), result=result)
    assert run.item_id == item.id  # same content: the stored item is reused
    assert to_critique_result(run) == result
    assert [(s.step, s.value, s.score, s.model) for s in step_suggestions(run)] == [
        (1, "correct", 1.0, "critic-v1"),
        (2, "incorrect", 0.75, "critic-v1"),
    ]
    annotation = create_annotation(
        db_session,
        item_id=item.id,
        annotator_id=annotator.id,
        ratings=[1, -1, None],
        critique_run_id=run.id,
        accepted_steps=[1, 2],
    )
    assert annotation.critique_run_id == run.id and annotation.accepted_steps == [1, 2]


def test_only_items_with_a_reference_label_can_be_gold(db_session, make_item) -> None:
    from core.errors import NotFoundError
    from db.items import set_gold

    labelled = make_item(db_session, "L?", ["x"], first_error_step=-1)
    unlabelled = make_item(db_session, "U?", ["y"])
    assert set_gold(db_session, item_ids=[labelled.id]) == 1
    assert set_gold(db_session, item_ids=[labelled.id]) == 0
    with pytest.raises(NotFoundError, match="no reference label"):
        set_gold(db_session, item_ids=[unlabelled.id])
    db_session.refresh(labelled)
    assert labelled.is_gold


def test_the_critique_rating_is_validated_versioned_and_audited(db_session, setup) -> None:
    annotator, item = setup
    with pytest.raises(BadInputError, match="helpful, partly, misleading"):
        create_annotation(
            db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, 1, 1], critique_rating="great"
        )
    annotation = create_annotation(
        db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1, -1, None], critique_rating="partly"
    )
    with pytest.raises(BadInputError, match="critique rating 5"):
        save_annotation(
            db_session, annotation_id=annotation.id, expected_version=1, actor_id=annotator.id, critique_rating=5
        )
    saved = save_annotation(
        db_session, annotation_id=annotation.id, expected_version=1, actor_id=annotator.id, critique_rating="misleading"
    )
    assert (
        saved.version == 2 and get_annotation(db_session, annotation_id=annotation.id).critique_rating == "misleading"
    )
    events = annotation_events(db_session, annotation_id=annotation.id)
    assert events[0].after["critique_rating"] == "partly"
    assert (events[1].before["critique_rating"], events[1].after["critique_rating"]) == ("partly", "misleading")
    cleared = save_annotation(
        db_session, annotation_id=annotation.id, expected_version=2, actor_id=annotator.id, critique_rating=None
    )
    assert cleared.critique_rating is None and cleared.ratings == [1, -1, None]  # the rest of the label is kept
