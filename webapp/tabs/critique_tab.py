"""The Critique tab: paste a problem and solution (or upload a file), pick model / backend / k, watch step cards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from core.settings import BACKEND_NAMES
from webapp.context import AppContext
from webapp.handlers import critique as handlers
from webapp.render import LATEX_DELIMITERS, critique_html, many_results_html, message_html, revision_html
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
                label="Model (empty: the serving model)", placeholder=ctx.default_model, elem_id="critique-model"
            )
            backend = gr.Dropdown(
                list(BACKEND_NAMES),
                value=ctx.default_backend,
                label="Backend",
                elem_id="critique-backend",
            )
            mode = gr.Radio(["single", "deliberate"], value="single", label="Mode")
            samples = gr.Slider(1, handlers.MAX_SAMPLES, value=1, step=1, label="Samples (k, majority vote)")
            run = gr.Button("Critique", variant="primary", elem_id="critique-run")
            upload = gr.File(label="…or upload JSON / JSONL / CSV of many", file_types=[".json", ".jsonl", ".csv"])
            run_file = gr.Button("Critique file", elem_id="critique-run-file")
    cards = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True, elem_id="critique-cards")
    result_json = gr.JSON(label="Result JSON", visible=False)
    with gr.Row():
        revise_button = gr.Button("Revise with this critique", elem_id="critique-revise")
        load_revision = gr.Button("Load revision into the critique input", elem_id="critique-load-revision")
    revision_cards = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True, elem_id="critique-revision")
    revised_text = gr.State("")

    @shows_errors
    def on_run(
        problem: str, solution: str, model: str, backend: str, mode: str, samples: float, request: gr.Request
    ) -> Iterator[tuple[str, Any]]:
        actor = current_actor(ctx, request)
        for result, done in handlers.critique_stream(
            ctx,
            actor,
            problem=problem,
            solution=solution,
            model=model,
            backend=backend,
            mode=mode,
            samples=int(samples),
        ):
            yield (
                critique_html(result, done=done),
                (gr.update(value=result.model_dump(mode="json"), visible=True) if done else gr.update()),
            )

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
        return notes + many_results_html(results), gr.update(
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
    run.click(
        on_run,
        [problem, solution, model, backend, mode, samples],
        [cards, result_json],
        api_visibility="private",
        concurrency_id="generation",
    )
    run_file.click(
        on_run_file,
        [upload, model, backend, mode, samples],
        [cards, result_json],
        api_visibility="private",
        concurrency_id="generation",
    )
    return []
