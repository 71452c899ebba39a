"""The Teacher tab: upload a class, watch the critic grade it, correct verdicts, download the report."""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from core.errors import BadInputError, CriticError
from core.items_csv import SharedCode
from core.step_comments import step_comments_line
from webapp.context import AppContext
from webapp.handlers import teacher as h
from webapp.permissions import Action
from webapp.render import CONFIDENCE_STEPS, LATEX_DELIMITERS, critique_html, message_html, sanitize
from webapp.reports import write_reports
from webapp.tabs import grading_section
from webapp.tabs.code_section import TEST_COLUMNS, code_critique_html, result_rows
from webapp.ui import current_actor, selected_id, shows_errors

COLUMNS = [
    "student",
    "item_id",
    "first_wrong_step",
    "verdict",
    "tests_passed",
    "corrected",
    "comment",
    "step_comments",
    "points",
]
CODE_VERDICTS = [("correct: the code is right", -1), ("incorrect: the code is wrong", 1)]


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    gr.Markdown(
        "Upload a CSV (columns `student`, `problem`, `solution`) or JSONL (fields `student`, `problem`, "
        "`solution` or `steps`). Every solution is critiqued in the background. For Python submissions use a "
        "`code` column (or field): their tests run in a sandbox before the critic reads them."
    )
    with gr.Row():
        class_name = gr.Textbox(label="Class name", elem_id="teach-name")
        upload = gr.File(label="Class solutions", file_types=[".csv", ".jsonl", ".json"], elem_id="teach-file")
        start = gr.Button("Upload and critique", variant="primary", elem_id="teach-start")
    with gr.Accordion("Code submissions: the problem and tests they share", open=False, elem_id="teach-code"):
        shared_problem = gr.Textbox(label="Problem (for rows without one)", lines=2, elem_id="teach-code-problem")
        shared_tests = gr.Code(
            label="Tests (assert lines; or a check(candidate) function with its entry point) for rows without any",
            language="python",
            lines=6,
            elem_id="teach-code-tests",
        )
        shared_entry = gr.Textbox(label="Entry point (check(candidate) tests only)", elem_id="teach-code-entry")
    with gr.Row():
        klass = gr.Dropdown(label="Class", choices=[], elem_id="teach-class")
        refresh = gr.Button("↻ Refresh", scale=0, elem_id="teach-refresh")
    progress = gr.HTML(elem_id="teach-progress")
    table = gr.Dataframe(
        headers=COLUMNS,
        interactive=False,
        wrap=True,
        label="Solutions (click a row to review it)",
        elem_id="teach-table",
    )
    item_id = gr.Dropdown(label="Solution", choices=[], elem_id="teach-item")
    code_view = gr.Code(
        label="Submitted code", language="python", interactive=False, visible=False, elem_id="teach-code-view"
    )
    test_table = gr.Dataframe(
        headers=TEST_COLUMNS, interactive=False, wrap=True, label="Test results", visible=False, elem_id="teach-tests"
    )
    cards = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True, elem_id="teach-cards")
    with gr.Row():
        first_wrong = gr.Dropdown(label="First wrong step (code: verdict)", choices=[], elem_id="teach-first")
        comment = gr.Textbox(label="Comment for the student", elem_id="teach-comment")
        save = gr.Button("Save correction", elem_id="teach-save")
    with gr.Row():
        comment_step = gr.Dropdown(label="Comment on step", choices=[], elem_id="teach-comment-step", scale=1)
        step_comment = gr.Textbox(
            label="Step comment (saved with the correction; empty removes it)", elem_id="teach-step-comment", scale=4
        )
    with gr.Row():
        export = gr.Button("Export report", elem_id="teach-export")
        files = gr.File(
            label="Report (CSV) and one printable page per student (zip)", file_count="multiple", elem_id="teach-files"
        )
    status = gr.HTML(elem_id="teach-status")
    connect_grading = grading_section.build(
        ctx, klass=klass, item_id=item_id, table=table, table_rows=lambda a, c: _table(a, c)[0]
    )
    timer = gr.Timer(2.0, active=False)
    started: dict[int, tuple[float, int]] = {}  # class id -> (time first seen running, solutions done then)

    def _progress_html(class_id: int, done: int, total: int) -> str:
        """Counts, a bar and (while it runs) the time left at the pace so far."""
        now = time.time()
        t0, done0 = started.setdefault(class_id, (now, done))
        eta = ""
        if done < total and done > done0:
            left = (now - t0) / (done - done0) * (total - done)
            eta = f" · about {int(left) + 1} s left"
        share = done / total if total else 1.0
        width = round(share * CONFIDENCE_STEPS)
        text = f"{done} of {total} solutions critiqued" + (eta if done < total else " · done")
        return sanitize(
            f'<div class="class-progress"><span class="conf wide" role="progressbar" aria-label="{text}" '
            f'aria-valuenow="{done}" aria-valuemin="0" aria-valuemax="{total}">'
            f'<span class="conf-fill conf-w-{width}"></span></span> <span class="conf-text">{text}</span></div>'
        )

    def _table(actor: Any, class_id: int) -> tuple[list[list[Any]], str, bool, list[tuple[str, int]]]:
        rows = h.report_rows(ctx, actor, class_id=class_id)
        done, total = h.class_progress(ctx, actor, class_id=class_id)
        data = [
            [
                r.student,
                r.item_id,
                r.first_wrong_step,
                r.verdict,
                r.tests_passed,
                r.corrected,
                r.comment,
                step_comments_line(r.step_comments),
                "" if r.points is None else f"{r.points:g} of {r.max_points:g}",
            ]
            for r in rows
        ]
        picks = [(f"{r.student} (item {r.item_id})", r.item_id) for r in rows]
        return data, _progress_html(class_id, done, total), done < total, picks

    @shows_errors
    def on_start(
        name: str, path: str | None, problem: str, tests: str | None, entry: str, request: gr.Request
    ) -> list[Any]:
        actor = current_actor(ctx, request)
        if not path:
            raise BadInputError("choose the class file first")
        shared = SharedCode.parse(problem or "", tests or "", entry or "")
        class_id, errors = h.upload_class(ctx, actor, name=name, path=path, shared=shared)
        notes = "".join(message_html(e, kind="error") for e in errors)
        choices = h.classes(ctx, actor)
        data, bar, running, picks = _table(actor, class_id)
        return [
            gr.update(choices=choices, value=class_id),
            data,
            bar,
            gr.Timer(active=running),
            gr.update(choices=picks, value=None),
            notes + message_html(f"Class stored; critiquing {len(data)} solutions.", kind="ok"),
        ]

    @shows_errors
    def on_refresh(class_id: int | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if class_id is None:
            return [gr.update(), "", gr.Timer(active=False), gr.update()]
        data, bar, running, picks = _table(actor, int(class_id))
        return [data, bar, gr.Timer(active=running), gr.update(choices=picks)]

    @shows_errors
    def on_pick(class_id: int | None, item: int | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if class_id is None or item in (None, ""):
            return [gr.update(), gr.update(), gr.update(), "", gr.update(), gr.update(), gr.update(), ""]
        row = next((r for r in h.report_rows(ctx, actor, class_id=int(class_id)) if r.item_id == int(item)), None)
        if row is None:
            return [
                gr.update(),
                gr.update(),
                gr.update(),
                message_html("That solution is not in this class.", kind="error"),
                gr.update(),
                gr.update(),
                gr.update(),
                "",
            ]
        if row.is_code:
            # A code submission: the code as written, each test's result, and the critique with its verdict.
            html = code_critique_html(row.code) if row.code else message_html("Not critiqued yet.")
            tests = result_rows(row.code.execution, row.test_list) if row.code else []
            return [
                html,
                gr.update(choices=CODE_VERDICTS, value=row.first_wrong_step, label="Verdict"),
                row.comment,
                "",
                gr.update(value=row.steps[0] if row.steps else "", visible=True),
                gr.update(value=tests, visible=bool(tests)),
                gr.update(choices=[], value=None),
                "",
            ]
        html = critique_html(row.critique) if row.critique else message_html("Not critiqued yet.")
        steps = [("none: all steps are correct", -1), *[(f"step {i}", i) for i in range(1, len(row.steps) + 1)]]
        return [
            html,
            gr.update(choices=steps, value=row.first_wrong_step, label="First wrong step"),
            row.comment,
            "",
            gr.update(visible=False),
            gr.update(visible=False),
            gr.update(choices=steps[1:], value=None),
            "",
        ]

    @shows_errors
    def on_comment_step(class_id: int | None, item: int | None, step: int | None, request: gr.Request) -> Any:
        """The step's saved comment, to change or remove (none saved: the box keeps what is typed)."""
        if class_id in (None, "") or item in (None, "") or step in (None, ""):
            return gr.update()
        rows = h.report_rows(ctx, current_actor(ctx, request), class_id=int(class_id))
        row = next((r for r in rows if r.item_id == int(item)), None)
        saved = row.step_comments.get(str(int(step))) if row else None
        return saved if saved else gr.update()

    def on_select(evt: gr.SelectData, data: Any) -> Any:
        return selected_id(evt, data, column=1)

    @shows_errors
    def on_save(
        class_id: int | None,
        item: int | None,
        first: int | None,
        text: str,
        step: int | None,
        note: str,
        request: gr.Request,
    ) -> Any:
        actor = current_actor(ctx, request)
        if class_id is None or item in (None, "") or first in (None, ""):
            return [gr.update(), message_html("Pick a solution and its first wrong step first.", kind="error")]
        notes = None
        if step not in (None, ""):  # this step's comment changes; the solution's other step comments stay
            row = next((r for r in h.report_rows(ctx, actor, class_id=int(class_id)) if r.item_id == int(item)), None)
            notes = {**(row.step_comments if row else {}), str(int(step)): note or ""}
        try:
            h.correct(
                ctx,
                actor,
                class_id=int(class_id),
                item_id=int(item),
                first_wrong_step=int(first),
                comment=text,
                step_comments=notes,
            )
        except CriticError as exc:  # replaces any earlier "saved" line, so the page never says both
            return [gr.update(), message_html(str(exc), kind="error")]
        data, _bar, _running, _picks = _table(actor, int(class_id))
        return [data, message_html("Correction saved.", kind="ok")]

    @shows_errors
    def on_export(class_id: int | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if class_id is None:
            raise BadInputError("choose a class first")
        rows = h.report_rows(ctx, actor, class_id=int(class_id))
        label = next((name for name, cid in h.classes(ctx, actor) if cid == int(class_id)), str(class_id))
        out_dir = ctx.settings.home / "reports" / f"{actor.username}-{int(class_id)}"
        csv_path, zip_path = write_reports(rows, out_dir, class_name=label.removeprefix("class: "))
        return [[str(csv_path), str(zip_path)], message_html("Report ready.", kind="ok")]

    @shows_errors
    def on_load(request: gr.Request) -> Any:
        actor = current_actor(ctx, request)
        if not actor.can(Action.GRADE_CLASS):
            return gr.update()
        choices, shown = h.class_to_show(ctx, actor)
        return gr.update(choices=choices, value=shown)

    @shows_errors
    def on_choose(class_id: int | None, request: gr.Request) -> None:
        if class_id not in (None, ""):
            h.pick_class(ctx, current_actor(ctx, request), class_id=int(class_id))

    refresh_outputs = [table, progress, timer, item_id]
    start.click(
        on_start,
        [class_name, upload, shared_problem, shared_tests, shared_entry],
        [klass, table, progress, timer, item_id, status],
        api_visibility="private",
    )
    refresh.click(on_refresh, [klass], refresh_outputs, api_visibility="private")
    klass.change(on_refresh, [klass], refresh_outputs, api_visibility="private")
    # Only the teacher's own picks are remembered, not the value the page load sets.
    klass.input(on_choose, [klass], None, api_visibility="private", show_progress="hidden")
    timer.tick(on_refresh, [klass], refresh_outputs, api_visibility="private", show_progress="hidden")
    table.select(on_select, [table], item_id, api_visibility="private")
    item_id.change(
        on_pick,
        [klass, item_id],
        [cards, first_wrong, comment, status, code_view, test_table, comment_step, step_comment],
        api_visibility="private",
    )
    comment_step.input(on_comment_step, [klass, item_id, comment_step], step_comment, api_visibility="private")
    save.click(
        on_save,
        [klass, item_id, first_wrong, comment, comment_step, step_comment],
        [table, status],
        api_visibility="private",
    )
    export.click(on_export, [klass], [files, status], api_visibility="private")
    connect_grading()
    return [(on_load, [klass])]
