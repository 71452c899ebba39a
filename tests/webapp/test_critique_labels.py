"""Labelling one's own critique on the Critique tab: accept the critic or mark the first wrong step, audited."""

from __future__ import annotations

import pytest

from core.errors import PermissionDeniedError
from db.annotations import annotation_events, get_annotation, list_annotations
from db.session import session_scope
from webapp.handlers.critique import critique_stream, label_critique_run
from webapp.handlers.review import pending_reviews

PROBLEM = "What is 2 + 3, then doubled, then plus one?"
SOLUTION = "Step 1: 2 + 3 = 5.\nStep 2: Doubled is 5 * 2 = 10.\nStep 3: Plus one is 11."


def _critique(web, role: str = "annotator") -> int:
    *_, (final, done, run_id) = critique_stream(web.ctx, web[role], problem=PROBLEM, solution=SOLUTION)
    assert done and final.first_error_step == 3 and run_id is not None  # the scripted critic blames the last step
    return run_id


def test_marking_the_first_wrong_step_stores_an_annotation_linked_to_the_run(web_any) -> None:
    web = web_any
    run_id = _critique(web)
    saved = label_critique_run(web.ctx, web["annotator"], run_id=run_id, first_wrong_step=2)
    assert saved.message == (
        f"Saved: step 2 is the first wrong step (annotation #{saved.annotation_id}, linked to critique run #{run_id})."
    )
    with session_scope(web.url) as session:
        row = get_annotation(session, annotation_id=saved.annotation_id)
        assert (row.ratings, row.first_error_step, row.critique_run_id) == ([1, -1, None], 2, run_id)
        assert row.status == "submitted" and row.campaign_id is None and row.annotator_id == web["annotator"].id
        assert [e.action for e in annotation_events(session, annotation_id=row.id)] == ["create"]
    # A reviewer finds it among the submissions to review.
    rows = pending_reviews(web.ctx, web["reviewer"])
    assert [(r["annotator"], r["first_error_step"]) for r in rows] == [("annotator", 2)]


def test_accepting_the_critic_then_changing_my_mind_updates_one_annotation(web) -> None:
    run_id = _critique(web)
    accepted = label_critique_run(web.ctx, web["annotator"], run_id=run_id, first_wrong_step=None)
    assert accepted.first_error_step == 3 and "step 3 is the first wrong step" in accepted.message
    again = label_critique_run(web.ctx, web["annotator"], run_id=run_id, first_wrong_step=-1)
    assert again.annotation_id == accepted.annotation_id
    assert again.message.startswith("Saved: every step is correct")
    with session_scope(web.url) as session:
        row = get_annotation(session, annotation_id=again.annotation_id)
        assert row.ratings == [1, 1, 1] and row.first_error_step == -1 and row.accepted_steps == []
        events = annotation_events(session, annotation_id=row.id)
        assert [e.action for e in events] == ["create", "update"]
        assert events[0].after["accepted_steps"] == [1, 2, 3] and events[1].after["first_error_step"] == -1


def test_critiquing_the_same_solution_again_relinks_the_label_to_the_new_run(web) -> None:
    first_run = _critique(web)
    saved = label_critique_run(web.ctx, web["annotator"], run_id=first_run, first_wrong_step=2)
    second_run = _critique(web)
    relabelled = label_critique_run(web.ctx, web["annotator"], run_id=second_run, first_wrong_step=2)
    assert relabelled.annotation_id == saved.annotation_id and second_run != first_run
    with session_scope(web.url) as session:
        assert get_annotation(session, annotation_id=saved.annotation_id).critique_run_id == second_run
        assert len(list_annotations(session)) == 1


@pytest.mark.parametrize("role", ["viewer", "teacher"])
def test_a_role_that_may_not_annotate_is_told_so(web, role: str) -> None:
    run_id = _critique(web, role)
    with pytest.raises(PermissionDeniedError, match=f"role {role}"):
        label_critique_run(web.ctx, web[role], run_id=run_id, first_wrong_step=2)


def test_nobody_labels_someone_elses_critique_outside_a_campaign(web) -> None:
    run_id = _critique(web, "viewer")
    with pytest.raises(PermissionDeniedError, match="critiques you ran yourself"):
        label_critique_run(web.ctx, web["annotator"], run_id=run_id, first_wrong_step=2)
    with session_scope(web.url) as session:
        assert list_annotations(session) == []
