"""The Critique tab's actor section: "Solve with the actor", and the refine loop's rounds shown step by step."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from core.refine import Refinement, step_diff
from core.types import NO_ERROR
from webapp.context import AppContext
from webapp.handlers import actor as handlers
from webapp.render import LATEX_DELIMITERS, message_html, revision_html, sanitize
from webapp.ui import current_actor, shows_errors

STOP_REASONS = {
    "accepted": "the critic found no wrong step",
    "max_rounds": "the last round was reached",
    "critique_unreadable": "the critique could not be read",
}


def _flagged(refinement_round: Any) -> str:
    critique = refinement_round.critique
    if critique is None:
        return "No critique this round."
    if critique.first_error_step == NO_ERROR:
        return "The critic accepted the solution: no wrong step."
    if critique.first_error_step is None:
        return "The critic's critique could not be read."
    k = critique.first_error_step
    step = next((s for s in critique.steps if s.index == k), None)
    why = "(no reason given)"
    if step is not None and step.critique.strip():
        why = step.critique.strip()
    elif step is not None and step.check is not None and step.check.detail:
        why = f"the symbolic checker: {step.check.detail}"
    return f"The critic flagged Step {k}: {why}"


def rounds_html(refinement: Refinement) -> str:
    """Each round: what the critic flagged, then what the actor changed (a step diff); the outcome last."""
    parts = []
    before = list(refinement.original_steps)
    for done in refinement.rounds:
        parts.append(
            sanitize(
                f'<div class="actor-round"><h4>Round {done.round}</h4>'
                f'<div class="critic-summary">{html.escape(_flagged(done))}</div></div>'
            )
        )
        if done.revision is not None:
            parts.append(sanitize("<div><b>What the actor changed:</b></div>"))
            parts.append(
                revision_html(
                    step_diff(before, done.revision.steps),
                    kept_steps=done.revision.kept_steps,
                    final_answer=done.revision.final_answer,
                )
            )
            before = list(done.revision.steps)
    outcome = (
        f"After {len(refinement.rounds)} round(s) the final answer is {refinement.final_answer or '(none stated)'}; "
        f"stopped because {STOP_REASONS.get(refinement.stop_reason, refinement.stop_reason)}."
    )
    parts.append(message_html(outcome, kind="ok" if refinement.stop_reason == "accepted" else "info"))
    return " ".join(parts)


def build(ctx: AppContext, problem: Any, solution: Any, critic_model: Any, backend: Any, mode: Any) -> None:
    """The section, wired to the tab's problem and solution boxes and its critic settings."""
    with gr.Accordion("Actor: solve and refine with the critic", open=True, elem_id="actor-section"):
        with gr.Row():
            actor_model = gr.Textbox(
                label="Actor model (empty: the serving actor)", placeholder=ctx.default_model, elem_id="actor-model"
            )
            rounds = gr.Slider(1, handlers.MAX_ROUNDS, value=2, step=1, label="Critique rounds", elem_id="actor-rounds")
        with gr.Row():
            solve_button = gr.Button("Solve with the actor", elem_id="actor-solve")
            refine_button = gr.Button("Refine with the critic", variant="primary", elem_id="actor-refine")
        status = gr.Markdown(elem_id="actor-status")
        rounds_view = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True, elem_id="actor-rounds-view")

    @shows_errors
    def on_solve(problem_text: str, model: str, chosen_backend: str, request: gr.Request) -> tuple[Any, str, str]:
        solved = handlers.solve_problem(
            ctx, current_actor(ctx, request), problem=problem_text, model=model or None, backend=chosen_backend
        )
        note = (
            f"The actor wrote {len(solved.steps)} step(s); final answer: {solved.final_answer or '(none stated)'}. "
            "It is in the solution box: critique it, or refine it with the critic."
        )
        return gr.update(value=solved.solution_text), message_html(note, kind="ok"), ""

    @shows_errors
    def on_refine(
        problem_text: str,
        solution_text: str,
        model: str,
        critic: str,
        chosen_backend: str,
        chosen_mode: str,
        how_many: float,
        request: gr.Request,
    ) -> tuple[str, str]:
        refinement = handlers.refine_solution(
            ctx,
            current_actor(ctx, request),
            problem=problem_text,
            solution=solution_text,
            rounds=int(how_many),
            model=model or None,
            critic_model=critic or None,
            backend=chosen_backend,
            mode=chosen_mode,
        )
        return message_html(f"Refined in {len(refinement.rounds)} round(s).", kind="ok"), rounds_html(refinement)

    solve_button.click(
        on_solve,
        [problem, actor_model, backend],
        [solution, status, rounds_view],
        api_visibility="private",
        concurrency_id="generation",
    )
    refine_button.click(
        on_refine,
        [problem, solution, actor_model, critic_model, backend, mode, rounds],
        [status, rounds_view],
        api_visibility="private",
        concurrency_id="generation",
    )
