"""The actor in the app: solve a problem, refine the solution with the critic, and the rounds shown step by step."""

from __future__ import annotations

import pytest

from core.critic import Critic
from core.errors import BadInputError, PermissionDeniedError
from tests.core.scripted_backend import ScriptedBackend
from tests.webapp.conftest import assert_inert, scripted_critique
from webapp.handlers.actor import refine_solution, solve_problem
from webapp.permissions import Actor
from webapp.tabs.actor_section import rounds_html

PROBLEM = "Tom has 3 bags of 4 apples and eats 2. How many apples are left?"


def actor_and_critic(prompt: str, sample: int) -> str:
    # One model plays every part, as in the app with one model loaded.
    if "Rewrite the solution from Step" in prompt:
        return "Step 2: He eats 2, so 12 - 2 = 10. <script>alert('rev')</script>\nStep 3: The answer is \\boxed{10}."
    if "Solve the problem step by step" in prompt:
        return "Step 1: 3 * 4 = 12 apples.\nStep 2: He eats 2, so 12 - 3 = 9.\nStep 3: The answer is \\boxed{9}."
    if "12 - 2 = 10" in prompt:  # the revised solution: the critic accepts it
        return (
            "".join(
                f"**Critique of Step {i}**: fine.\n**Judgement**: The correctness of Step {i} is: \\boxed{{1}}\n"
                for i in (1, 2, 3)
            )
            + "**Answer**: \\boxed{-1}"
        )
    return scripted_critique(prompt.split("Step 3:")[0], sample)  # flags Step 2


@pytest.fixture
def app(web):
    web.ctx._critics[("scripted", "scripted", "single")] = Critic(ScriptedBackend(actor_and_critic))
    return web


def test_the_actor_solves_a_problem_into_steps(app) -> None:
    solved = solve_problem(app.ctx, app["viewer"], problem=PROBLEM)
    assert solved.final_answer == "9" and len(solved.steps) == 3
    assert solved.solution_text.startswith("Step 1: 3 * 4 = 12 apples.")
    with pytest.raises(BadInputError, match="write a problem first"):
        solve_problem(app.ctx, app["viewer"], problem="  ")
    with pytest.raises(PermissionDeniedError):
        solve_problem(app.ctx, Actor(id=None, username="x", role="nobody"), problem=PROBLEM)  # type: ignore[arg-type]


def test_refine_rounds_show_what_the_critic_flagged_and_what_the_actor_changed(app) -> None:
    solved = solve_problem(app.ctx, app["viewer"], problem=PROBLEM)
    refinement = refine_solution(app.ctx, app["viewer"], problem=PROBLEM, solution=solved.solution_text, rounds=3)
    assert [r.critique.first_error_step for r in refinement.rounds] == [2, -1]
    assert refinement.stop_reason == "accepted" and refinement.final_answer == "10"
    shown = rounds_html(refinement)
    assert "Round 1" in shown and "The critic flagged Step 2" in shown and "What the actor changed" in shown
    assert "Round 2" in shown and "accepted the solution" in shown and "final answer is 10" in shown
    assert_inert(shown)
    with pytest.raises(BadInputError, match="rounds must be between"):
        refine_solution(app.ctx, app["viewer"], problem=PROBLEM, solution=solved.solution_text, rounds=9)


def test_an_admin_starts_an_actor_job_from_the_training_view(web, tmp_path) -> None:
    from core.actor.problems import problem_record, word_problems
    from core.jsonl import append_jsonl
    from db.session import session_scope
    from training.queue import get_job
    from webapp.handlers.admin import start_training

    source = tmp_path / "problems.jsonl"
    append_jsonl(source, (problem_record(p) for p in word_problems(4)))
    job_id = start_training(
        web.ctx, web["admin"], kind="actor", values={"problems": str(source), "use_critique": False}
    )
    with session_scope(web.url) as session:
        job = get_job(session, job_id=job_id)
        assert job.kind == "actor" and job.status == "queued" and job.config["use_critique"] is False
    with pytest.raises(BadInputError, match="problems file"):
        start_training(web.ctx, web["admin"], kind="actor", values={"problems": str(tmp_path / "none.jsonl")})
