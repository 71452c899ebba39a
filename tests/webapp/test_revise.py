"""Revise with this critique: the correct prefix kept, a safe step diff, one-click reload, roles; refine-run plots."""

from __future__ import annotations

import pytest

from core.critic import Critic
from core.errors import BadInputError, PermissionDeniedError
from core.items_io import make_item
from tests.core.scripted_backend import ScriptedBackend
from tests.webapp.conftest import assert_inert, scripted_critique
from webapp.handlers.critique import critique_stream, revise_with_critique
from webapp.permissions import Actor
from webapp.render import revision_html

PROBLEM = "Tom has 3 bags of 4 apples and eats 2. How many apples are left?"
SOLUTION = (
    "Step 1: 3 bags of 4 apples is 3 * 4 = 12 apples.\nStep 2: He eats 2, so 12 - 3 = 9.\nStep 3: The answer is 9."
)
REVISED = "Step 2: He eats 2, so 12 - 2 = 10. <script>alert('rev')</script>\nStep 3: The answer is \\boxed{10}."


def critic_then_reviser(prompt: str, sample: int) -> str:
    # One model plays both parts, as in the app: the revision prompt asks to rewrite from the wrong step.
    if "Rewrite the solution from Step" in prompt:
        return REVISED
    # Mark step 2 wrong (the scripted critic marks the last step it sees as wrong, so show it two steps).
    return scripted_critique(prompt.split("Step 3:")[0], sample)


@pytest.fixture
def reviser(web):
    backend = ScriptedBackend(critic_then_reviser)
    web.ctx._critics[("scripted", "scripted", "single")] = Critic(backend)
    return web, backend


def _critique(web, role: str = "viewer"):
    *_, (final, done, _run_id) = critique_stream(web.ctx, web[role], problem=PROBLEM, solution=SOLUTION)
    assert done and final.first_error_step == 2
    return final


def test_revision_keeps_the_steps_before_the_first_wrong_step_and_marks_changes(reviser) -> None:
    web, backend = reviser
    critique = _critique(web)
    # The tab passes the critique as the JSON it shows.
    revised = revise_with_critique(web.ctx, web["viewer"], critique=critique.model_dump(mode="json"))
    steps = revised.revision.steps
    assert steps[0] == "3 bags of 4 apples is 3 * 4 = 12 apples." and revised.revision.kept_steps == 1
    assert steps[1].startswith("He eats 2, so 12 - 2 = 10.") and revised.revision.final_answer == "10"
    assert [row.status for row in revised.diff] == ["kept", "changed", "changed"]
    assert revised.diff[1].before == "He eats 2, so 12 - 3 = 9."
    # The revision prompt carried the critique and went to the critique tab's own backend.
    assert "Step 2 is wrong" in backend.calls[-1][0][0][1]["content"]
    page = revision_html(revised.diff, kept_steps=1, final_answer=revised.revision.final_answer)
    assert "= kept" in page and "~ changed" in page and "rewrote from step 2" in page


def test_model_output_with_script_renders_as_text(reviser) -> None:
    web, _ = reviser
    revised = revise_with_critique(web.ctx, web["annotator"], critique=_critique(web, "annotator"))
    page = revision_html(revised.diff, kept_steps=revised.revision.kept_steps, final_answer="<b>x</b>")
    assert_inert(page)
    assert "&lt;script&gt;alert(&#x27;rev&#x27;)&lt;/script&gt;" in page and "<script" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


def test_revised_solution_loads_back_and_can_be_critiqued_again(reviser) -> None:
    web, _ = reviser
    revised = revise_with_critique(web.ctx, web["viewer"], critique=_critique(web))
    item = make_item(PROBLEM, solution=revised.solution_text, settings=web.ctx.settings, where="revision")
    assert item.steps == revised.revision.steps
    *_, (again, done, _) = critique_stream(web.ctx, web["viewer"], problem=PROBLEM, solution=revised.solution_text)
    assert done and [s.text for s in again.steps] == revised.revision.steps


def test_a_critique_without_an_error_leaves_the_solution_unchanged(reviser) -> None:
    web, _ = reviser
    critique = _critique(web).model_copy(update={"first_error_step": -1})
    revised = revise_with_critique(web.ctx, web["viewer"], critique=critique)
    assert not revised.revision.changed and all(row.status == "kept" for row in revised.diff)
    assert "unchanged" in revision_html(revised.diff, kept_steps=3, final_answer=None)


def test_whoever_cannot_critique_cannot_revise(reviser) -> None:
    web, backend = reviser
    critique = _critique(web)
    calls = len(backend.calls)
    with pytest.raises(PermissionDeniedError):
        revise_with_critique(web.ctx, None, critique=critique)
    with pytest.raises(PermissionDeniedError):
        revise_with_critique(web.ctx, Actor(id=99, username="ghost", role="nobody"), critique=critique)
    assert len(backend.calls) == calls  # nothing was generated for them
    with pytest.raises(BadInputError, match="critique a solution first"):
        revise_with_critique(web.ctx, web["viewer"], critique={})


def test_dashboard_plots_refine_runs_with_and_without_critique(web) -> None:
    from db.evals import finish_eval_run, start_eval_run
    from db.session import session_scope
    from webapp.handlers.dashboard import build_dashboard

    metrics = {
        "benchmark": "refine",
        "with_critique": {"items": 8, "w_to_c_rate": 0.5, "c_to_w_rate": 0.125},
        "without_critique": {"items": 8, "w_to_c_rate": 0.25, "c_to_w_rate": 0.375},
    }
    with session_scope(web.url) as session:
        run = start_eval_run(
            session, model="critic-a", dataset="refine:items.jsonl", config={}, predictions_path="/x", n_items=8
        )
        finish_eval_run(session, run_id=run.id, metrics=metrics, n_items=8)
    fig = build_dashboard(web.ctx, web["viewer"]).figures["refine"]
    values = {trace.name: list(trace.y) for trace in fig.data}
    assert values == {
        "w->c with critique": [0.5],
        "w->c without critique": [0.25],
        "c->w with critique": [0.125],
        "c->w without critique": [0.375],
    }
    assert "refine:items.jsonl" in fig.data[0].x[0]
