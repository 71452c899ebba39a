"""Critique handlers: streamed step cards, uploads of many items, stored runs, and roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import BadInputError, PermissionDeniedError
from tests.webapp.conftest import assert_inert
from webapp.handlers.critique import critique_file, critique_stream
from webapp.render import critique_html

PROBLEM = "What is 2 + 3, then doubled? <script>alert('p')</script>"
SOLUTION = "Step 1: 2 + 3 = 5.\nStep 2: Doubled is 5 * 2 = 12."


@pytest.mark.parametrize("role", ["viewer", "annotator", "teacher", "reviewer", "admin"])
def test_every_role_can_critique_and_sees_cards_before_the_verdict(web, role: str) -> None:
    updates = list(critique_stream(web.ctx, web[role], problem=PROBLEM, solution=SOLUTION))
    first, done, _run_id = updates[0]
    assert not done and [s.text for s in first.steps] == ["2 + 3 = 5.", "Doubled is 5 * 2 = 12."]
    assert all(s.verdict == "unchecked" for s in first.steps)
    final, done, _run_id = updates[-1]
    assert done and final.first_error_step == 2
    assert [s.verdict for s in final.steps] == ["correct", "incorrect"]


def test_a_finished_critique_is_stored_for_reviewers(web) -> None:
    from sqlalchemy import select

    from db.models import CritiqueRun, Item
    from db.session import session_scope

    list(critique_stream(web.ctx, web["viewer"], problem=PROBLEM, solution=SOLUTION))
    with session_scope(web.url) as session:
        run = session.scalars(select(CritiqueRun)).one()
        assert run.first_error_step == 2 and run.created_by_id == web["viewer"].id
        assert session.get(Item, run.item_id).source == "web"


def test_not_logged_in_cannot_critique(web) -> None:
    with pytest.raises(PermissionDeniedError):
        list(critique_stream(web.ctx, None, problem=PROBLEM, solution=SOLUTION))


def test_bad_input_names_the_field(web) -> None:
    with pytest.raises(BadInputError, match="problem"):
        list(critique_stream(web.ctx, web["viewer"], problem="  ", solution=SOLUTION))
    with pytest.raises(BadInputError, match="samples"):
        list(critique_stream(web.ctx, web["viewer"], problem=PROBLEM, solution=SOLUTION, samples=99))


def test_uploaded_csv_is_critiqued_and_bad_rows_are_reported(web, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text('problem,solution\n"1+1?","1+1=2.\n\nSo 2."\n,"no problem here"\n"2+2?","2+2=5."\n')
    results, errors = critique_file(web.ctx, web["annotator"], path=path)
    assert [r.problem for r in results] == ["1+1?", "2+2?"]
    assert len(errors) == 1 and "item 2" in errors[0] and "problem" in errors[0]


def test_streamed_cards_never_carry_markup_from_the_user_or_the_model(web) -> None:
    *_, (final, _done, _run_id) = critique_stream(web.ctx, web["viewer"], problem=PROBLEM, solution=SOLUTION)
    assert "<script>" in final.steps[0].critique  # the model really wrote it...
    html = critique_html(final)
    assert_inert(html)
    assert "&lt;script&gt;" in html and "first wrong step" in html


def test_the_checkers_proof_is_in_the_final_card(web) -> None:
    *_, (final, done, _run_id) = critique_stream(web.ctx, web["viewer"], problem=PROBLEM, solution=SOLUTION)
    assert done and [s.check.status for s in final.steps] == ["verified", "wrong"]  # 5 * 2 is not 12
    assert final.steps[1].verdict == "incorrect"
    page = critique_html(final)
    assert "checker's proof" in page and "5 * 2 = 12 is false (5 * 2 = 10)" in page


def test_after_promotion_the_promoted_version_critiques_and_is_credited(web) -> None:
    from sqlalchemy import select

    from db.models import CritiqueRun, ModelVersion
    from db.session import session_scope
    from webapp.handlers import admin

    with session_scope(web.url) as session:
        version = ModelVersion(name="critic-v2", path="scripted-v2", status="candidate")
        session.add(version)
        session.commit()
        version_id = version.id
    # The promoted model is a path the context has not loaded: give it the scripted critic too.
    web.ctx._critics[("scripted-v2", "scripted", "single")] = web.ctx._critics[("scripted", "scripted", "single")]
    assert "now serves" in admin.promote_model(web.ctx, web["admin"], version_id=version_id)
    *_, (final, _, _run_id) = critique_stream(web.ctx, web["viewer"], problem=PROBLEM, solution=SOLUTION)
    with session_scope(web.url) as session:
        run = session.scalars(select(CritiqueRun)).one()
        assert run.model_version_id == version_id
    assert "Rolled back" in admin.rollback_model(web.ctx, web["admin"])
