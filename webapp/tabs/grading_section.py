"""The Teacher tab's grading: points and credit rule per problem, rubric ticks, and *Export gradebook*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from core.errors import BadInputError
from core.gradebook import ID_COLUMNS
from core.grading import CREDIT_RULE_HELP, rubric_text
from webapp.context import AppContext
from webapp.handlers import grading as g
from webapp.handlers import teacher as h
from webapp.render import message_html
from webapp.ui import current_actor, shows_errors

RULES = [
    ("all or nothing", "all_or_nothing"),
    ("step credit: the correct steps before the first wrong one", "step"),
    ("rubric: the criteria I tick", "rubric"),
]
LMS_CHOICES = [("Canvas", "canvas"), ("Moodle", "moodle")]


def _problem_label(number: int, text: str) -> str:
    short = " ".join(text.split())
    return f"{number}. {short[:80]}{'…' if len(short) > 80 else ''}"


def build(
    ctx: AppContext, *, klass: Any, item_id: Any, table: Any, table_rows: Callable[[Any, int], list[Any]]
) -> Callable[[], None]:
    """The grading controls under the class table; `table_rows(actor, class_id)` refills the table. Returns what
    listens to the class and solution pickers: the tab calls it after its own listeners, which answer first."""
    with gr.Accordion("Grading and gradebook", open=True, elem_id="teach-grading"):
        gr.Markdown(
            "A correct solution earns the problem's points. A solution with a wrong step earns: "
            + "; ".join(f"*{name.replace('_', ' ')}*: {text}" for name, text in CREDIT_RULE_HELP.items())
            + ". Step credit is points × (first wrong step − 1) / steps, rounded half up to 2 decimals. "
            "Your corrections count before the critic's verdicts."
        )
        with gr.Row():
            problem = gr.Dropdown(label="Problem", choices=[], elem_id="teach-grade-problem", scale=3)
            points = gr.Number(label="Points", minimum=0, elem_id="teach-points", scale=1)
        rule = gr.Radio(RULES, value="all_or_nothing", label="Credit when a step is wrong", elem_id="teach-rule")
        rubric = gr.Textbox(
            label="Rubric (rubric credit): one criterion per line, 'name: points'", lines=3, elem_id="teach-rubric"
        )
        save_grading = gr.Button("Save grading", elem_id="teach-save-grading")
        with gr.Row():
            ticks = gr.CheckboxGroup(
                label="Rubric criteria the picked solution meets", choices=[], elem_id="teach-ticks", scale=3
            )
            save_ticks = gr.Button("Save rubric ticks", elem_id="teach-save-ticks", scale=1)
        with gr.Row():
            lms = gr.Radio(LMS_CHOICES, value="canvas", label="Gradebook for", elem_id="teach-lms")
            id_column = gr.Dropdown(
                label="Column the class file's student names go in",
                choices=list(ID_COLUMNS["canvas"]),
                value=ID_COLUMNS["canvas"][0],
                elem_id="teach-id-column",
            )
            assignment = gr.Textbox(label="Assignment column (empty: the class name)", elem_id="teach-assignment")
        export = gr.Button("Export gradebook", elem_id="teach-export-gradebook")
        gradebook = gr.File(label="Gradebook (CSV)", elem_id="teach-gradebook")
        status = gr.HTML(elem_id="teach-grade-status")

    def _scheme_fields(actor: Any, class_id: int, text: str) -> list[Any]:
        scheme = g.grading_of(ctx, actor, class_id=class_id, problem=text)
        if scheme is None:
            return [None, "all_or_nothing", ""]
        return [scheme.points, scheme.rule, rubric_text(scheme.rubric)]

    @shows_errors
    def on_class(class_id: int | None, request: gr.Request) -> Any:
        if class_id in (None, ""):
            return gr.update(choices=[], value=None)
        texts = g.problems(ctx, current_actor(ctx, request), class_id=int(class_id))
        choices = [(_problem_label(n, t), t) for n, t in enumerate(texts, start=1)]
        return gr.update(choices=choices, value=texts[0] if texts else None)

    @shows_errors
    def on_problem(class_id: int | None, text: str | None, request: gr.Request) -> list[Any]:
        if class_id in (None, "") or not text:
            return [gr.update(), gr.update(), gr.update()]
        return _scheme_fields(current_actor(ctx, request), int(class_id), text)

    def _ticks(actor: Any, class_id: int, item: int) -> Any:
        row = next((r for r in h.report_rows(ctx, actor, class_id=class_id) if r.item_id == item), None)
        scheme = g.grading_of(ctx, actor, class_id=class_id, problem=row.problem) if row else None
        if scheme is None or scheme.rule != "rubric":
            return gr.update(choices=[], value=[])
        return gr.update(choices=[c.name for c in scheme.rubric], value=row.rubric_ticks)

    @shows_errors
    def on_save_grading(
        class_id: int | None,
        text: str | None,
        value: float | None,
        how: str,
        lines: str,
        item: Any,
        request: gr.Request,
    ) -> list[Any]:
        actor = current_actor(ctx, request)
        if class_id in (None, "") or not text:
            raise BadInputError("choose a class and one of its problems first")
        scheme = g.save_grading(ctx, actor, class_id=int(class_id), problem=text, points=value, rule=how, rubric=lines)
        said = dict((v, k) for k, v in RULES)[scheme.rule].split(":")[0]
        ticked = _ticks(actor, int(class_id), int(item)) if item not in (None, "") else gr.update()
        note = message_html(f"Grading saved: {scheme.points:g} points, {said}.", kind="ok")
        return [table_rows(actor, int(class_id)), note, ticked]

    @shows_errors
    def on_item(class_id: int | None, item: Any, request: gr.Request) -> Any:
        if class_id in (None, "") or item in (None, ""):
            return gr.update(choices=[], value=[])
        return _ticks(current_actor(ctx, request), int(class_id), int(item))

    @shows_errors
    def on_save_ticks(class_id: int | None, item: Any, ticked: list[str], request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if class_id in (None, "") or item in (None, ""):
            raise BadInputError("pick a solution first")
        g.tick_rubric(ctx, actor, class_id=int(class_id), item_id=int(item), ticked=ticked or [])
        return [table_rows(actor, int(class_id)), message_html("Rubric ticks saved.", kind="ok")]

    def on_lms(which: str) -> Any:
        columns = list(ID_COLUMNS.get(which, ID_COLUMNS["canvas"]))
        return gr.update(choices=columns, value=columns[0])

    @shows_errors
    def on_export(class_id: int | None, which: str, column: str, name: str, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if class_id in (None, ""):
            raise BadInputError("choose a class first")
        book = g.export_gradebook(ctx, actor, class_id=int(class_id), lms=which, id_column=column, assignment=name)
        text = f"Gradebook ready: {book.students} students."
        if book.ungraded:
            text += f" Left blank (a solution without a verdict yet): {', '.join(book.ungraded)}."
        return [str(book.path), message_html(text, kind="warn" if book.ungraded else "ok")]

    def connect() -> None:
        klass.change(on_class, [klass], problem, api_visibility="private")
        item_id.change(on_item, [klass, item_id], ticks, api_visibility="private")

    problem.change(on_problem, [klass, problem], [points, rule, rubric], api_visibility="private")
    save_grading.click(
        on_save_grading,
        [klass, problem, points, rule, rubric, item_id],
        [table, status, ticks],
        api_visibility="private",
    )
    save_ticks.click(on_save_ticks, [klass, item_id, ticks], [table, status], api_visibility="private")
    lms.change(on_lms, [lms], id_column, api_visibility="private")
    export.click(on_export, [klass, lms, id_column, assignment], [gradebook, status], api_visibility="private")
    return connect
