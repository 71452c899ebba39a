"""The Critique tab: paste a solution (or upload a file), pick model / backend / k, watch step cards, label them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from core.errors import CriticError
from core.settings import BACKEND_NAMES
from core.types import CritiqueResult
from webapp.context import AppContext
from webapp.handlers import critique as handlers
from webapp.permissions import Action, Actor
from webapp.render import LATEX_DELIMITERS, critique_html, many_results_html, message_html, revision_html
from webapp.tabs import actor_section, code_section
from webapp.ui import current_actor, shows_errors

EXAMPLE_PROBLEM = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?"  # noqa: E501
EXAMPLE_SOLUTION = (
    "Step 1: In May she sold 48 / 2 = 24 clips.\nStep 2: Altogether she sold 48 + 24 = 72 clips.\nThe answer is 72."  # noqa: E501
)


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    with gr.Row():
        with gr.Column(scale=2):
            problem = gr.Textbox(label="Problem", lines=4, placeholder=EXAMPLE_PROBLEM, elem_id="critique-problem")
            solution = gr.Textbox(
                label="Solution (one step per paragraph, line, 'Step i:' or numbered list)",
                lines=8,
                placeholder=EXAMPLE_SOLUTION,
                elem_id="critique-solution",
            )
        with gr.Column(scale=1):
            model = gr.Textbox(
                label="Model (admins only; empty: the serving model)",
                placeholder=ctx.default_model,
                elem_id="critique-model",
            )
            backend = gr.Dropdown(
                list(BACKEND_NAMES),
                value=ctx.default_backend,
                label="Backend (admins only)",
                elem_id="critique-backend",
            )
            mode = gr.Radio(["single", "deliberate"], value="single", label="Mode")
            samples = gr.Slider(
                1, handlers.MAX_SAMPLES, value=1, step=1, label="Samples (k, majority vote; each role has its limit)"
            )
            run = gr.Button("Critique", variant="primary", elem_id="critique-run")
            upload = gr.File(label="…or upload JSON / JSONL / CSV of many", file_types=[".json", ".jsonl", ".csv"])
            run_file = gr.Button("Critique file", elem_id="critique-run-file")
    cards = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True, elem_id="critique-cards")
    run_id = gr.State(None)  # the stored critique run on screen: labels saved below are linked to it
    with gr.Column(visible=False, elem_id="critique-label") as label_panel:
        first_wrong = gr.Radio([], label="First wrong step", elem_id="critique-first-wrong")
        with gr.Row():
            accept = gr.Button("Accept critic's labels", elem_id="critique-accept")
            save_mine = gr.Button("Save my labels", variant="primary", elem_id="critique-save-labels")
    label_status = gr.Markdown(elem_id="critique-label-status")
    result_json = gr.JSON(label="Result JSON", visible=False)
    with gr.Row():
        revise_button = gr.Button("Revise with this critique", elem_id="critique-revise")
        load_revision = gr.Button("Load revision into the critique input", elem_id="critique-load-revision")
    revision_cards = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True, elem_id="critique-revision")
    revised_text = gr.State("")

    def on_start() -> tuple[Any, Any, str]:
        # A new critique replaces the one on screen: its labels and their confirmation go with it.
        return None, gr.update(visible=False), ""

    @shows_errors
    def on_run(
        problem: str, solution: str, model: str, backend: str, mode: str, samples: float, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        actor = current_actor(ctx, request)
        for result, done, stored in handlers.critique_stream(
            ctx,
            actor,
            problem=problem,
            solution=solution,
            model=model,
            backend=backend,
            mode=mode,
            samples=int(samples),
        ):
            note = handlers.by_embedded_model(result)
            if not done:
                cards = critique_html(result, done=False, model_note=note)
                yield cards, gr.update(), None, gr.update(), gr.update(), gr.update()
                continue
            yield (
                critique_html(result, done=True, model_note=note),
                gr.update(value=result.model_dump(mode="json"), visible=True),
                stored,
                *_label_controls(actor, result, stored),
            )

    def _label_controls(actor: Actor, result: CritiqueResult, stored: int | None) -> tuple[Any, Any, str]:
        """The label panel under a finished critique: the first-wrong pick prefilled from the critic."""
        if stored is None:
            return gr.update(visible=False), gr.update(), ""
        if not actor.can(Action.ANNOTATE):
            note = f"Your role ({actor.role}) may not save labels; annotators, reviewers and admins can."
            return gr.update(visible=False), gr.update(), message_html(note)
        choices = [("none (all correct)", -1), *[(f"Step {s.index}", s.index) for s in result.steps]]
        return gr.update(visible=True), gr.update(choices=choices, value=result.first_error_step), ""

    def label(first: int | None, stored: int | None, request: gr.Request, *, accept_critic: bool) -> str:
        actor = current_actor(ctx, request)
        if stored is None:
            return message_html("Critique a pasted solution first.", kind="warn")
        if not accept_critic and first in (None, ""):
            return message_html("Pick the first wrong step (or none) first.", kind="warn")
        try:
            saved = handlers.label_critique_run(
                ctx, actor, run_id=int(stored), first_wrong_step=None if accept_critic else int(first)
            )
        except CriticError as exc:  # replaces any earlier confirmation, so the page never says both
            return message_html(str(exc), kind="error")
        return message_html(saved.message, kind="ok")

    @shows_errors
    def on_accept(first: int | None, stored: int | None, request: gr.Request) -> str:
        return label(first, stored, request, accept_critic=True)

    @shows_errors
    def on_save_mine(first: int | None, stored: int | None, request: gr.Request) -> str:
        return label(first, stored, request, accept_critic=False)

    @shows_errors
    def on_run_file(
        path: str | None, model: str, backend: str, mode: str, samples: float, request: gr.Request
    ) -> tuple[str, Any]:
        actor = current_actor(ctx, request)
        if not path:
            return message_html("Choose a file first.", kind="warn"), gr.update()
        results, errors = handlers.critique_file(
            ctx, actor, path=path, model=model, backend=backend, mode=mode, samples=int(samples)
        )
        notes = "".join(message_html(e, kind="error") for e in errors)
        return notes + many_results_html(results, model_note=handlers.by_embedded_model(results)), gr.update(
            value=[r.model_dump(mode="json") for r in results], visible=True
        )

    @shows_errors
    def on_revise(critique: Any, model: str, backend: str, mode: str, request: gr.Request) -> tuple[str, str]:
        actor = current_actor(ctx, request)
        # A file upload shows a list of results; revising needs the one critique on screen.
        if not isinstance(critique, dict):
            return message_html("Critique one pasted solution first.", kind="warn"), ""
        revised = handlers.revise_with_critique(ctx, actor, critique=critique, model=model, backend=backend, mode=mode)
        html = revision_html(
            revised.diff, kept_steps=revised.revision.kept_steps, final_answer=revised.revision.final_answer
        )
        return html, revised.solution_text

    def on_load_revision(text: str) -> Any:
        return gr.update(value=text) if text else gr.update()

    revise_button.click(
        on_revise,
        [result_json, model, backend, mode],
        [revision_cards, revised_text],
        api_visibility="private",
        concurrency_id="generation",
    )
    load_revision.click(on_load_revision, [revised_text], [solution], api_visibility="private")
    accept.click(on_accept, [first_wrong, run_id], [label_status], api_visibility="private")
    save_mine.click(on_save_mine, [first_wrong, run_id], [label_status], api_visibility="private")
    run.click(on_start, None, [run_id, label_panel, label_status], api_visibility="private").then(
        on_run,
        [problem, solution, model, backend, mode, samples],
        [cards, result_json, run_id, label_panel, first_wrong, label_status],
        api_visibility="private",
        concurrency_id="generation",
    )
    run_file.click(on_start, None, [run_id, label_panel, label_status], api_visibility="private").then(
        on_run_file,
        [upload, model, backend, mode, samples],
        [cards, result_json],
        api_visibility="private",
        concurrency_id="generation",
    )
    code_section.build(ctx)  # Python solutions: their tests run in the sandbox, then the critic reads the outcome
    actor_section.build(ctx, problem, solution, model, backend, mode)
    return []
