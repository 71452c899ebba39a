"""The Teacher tab: upload a class, watch the critic grade it, correct verdicts, download the report."""

from __future__ import annotations

from typing import Any

import gradio as gr

from core.errors import BadInputError
from webapp.context import AppContext
from webapp.handlers import teacher as h
from webapp.permissions import Action
from webapp.render import LATEX_DELIMITERS, critique_html, message_html
from webapp.reports import write_reports
from webapp.ui import current_actor, shows_errors

COLUMNS = ["student", "item_id", "first_wrong_step", "corrected", "comment"]


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    gr.Markdown(
        "Upload a CSV (columns `student`, `problem`, `solution`) or JSONL (fields `student`, `problem`, "
        "`solution` or `steps`). Every solution is critiqued in the background."
    )
    with gr.Row():
        class_name = gr.Textbox(label="Class name", elem_id="teach-name")
        upload = gr.File(label="Class solutions", file_types=[".csv", ".jsonl", ".json"], elem_id="teach-file")
        start = gr.Button("Upload and critique", variant="primary", elem_id="teach-start")
    with gr.Row():
        klass = gr.Dropdown(label="Class", choices=[], elem_id="teach-class")
        refresh = gr.Button("↻ Refresh", scale=0, elem_id="teach-refresh")
    progress = gr.Slider(0, 1, value=0, label="Critiqued", interactive=False, elem_id="teach-progress")
    progress_text = gr.Markdown(elem_id="teach-progress-text")
    table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True, label="Solutions (click a row to review it)")
    item_id = gr.Number(label="Solution (item id)", precision=0, elem_id="teach-item")
    cards = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True)
    with gr.Row():
        first_wrong = gr.Number(label="First wrong step (-1 = all correct)", precision=0, elem_id="teach-first")
        comment = gr.Textbox(label="Comment for the student", elem_id="teach-comment")
        save = gr.Button("Save correction", elem_id="teach-save")
    with gr.Row():
        export = gr.Button("Export report", elem_id="teach-export")
        files = gr.File(label="Report (CSV) and one printable page per student (zip)", file_count="multiple")
    status = gr.HTML()
    timer = gr.Timer(2.0, active=False)

    def _table(actor: Any, class_id: int) -> tuple[list[list[Any]], float, str, bool]:
        rows = h.report_rows(ctx, actor, class_id=class_id)
        done, total = h.class_progress(ctx, actor, class_id=class_id)
        data = [[r.student, r.item_id, r.first_wrong_step, r.corrected, r.comment] for r in rows]
        share = done / total if total else 0.0
        return data, share, f"{done} of {total} solutions critiqued", done < total

    @shows_errors
    def on_start(name: str, path: str | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if not path:
            raise BadInputError("choose the class file first")
        class_id, errors = h.upload_class(ctx, actor, name=name, path=path)
        notes = "".join(message_html(e, kind="error") for e in errors)
        choices = h.classes(ctx, actor)
        data, share, text, running = _table(actor, class_id)
        return [
            gr.update(choices=choices, value=class_id),
            data,
            share,
            text,
            gr.Timer(active=running),
            notes + message_html(f"Class stored; critiquing {len(data)} solutions.", kind="ok"),
        ]

    @shows_errors
    def on_refresh(class_id: int | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if class_id is None:
            return [gr.update(), 0.0, "", gr.Timer(active=False)]
        data, share, text, running = _table(actor, int(class_id))
        return [data, share, text, gr.Timer(active=running)]

    @shows_errors
    def on_pick(class_id: int | None, item: float | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if class_id is None or not item:
            raise BadInputError("choose a class and a solution")
        row = next((r for r in h.report_rows(ctx, actor, class_id=int(class_id)) if r.item_id == int(item)), None)
        if row is None:
            raise BadInputError(f"solution {int(item)} is not in this class")
        html = critique_html(row.critique) if row.critique else message_html("Not critiqued yet.")
        return [html, row.first_wrong_step, row.comment]

    def on_select(evt: gr.SelectData, data: Any) -> Any:
        try:
            row = evt.index[0]
            return int(data.iloc[row, 1]) if hasattr(data, "iloc") else int(data[row][1])
        except (IndexError, TypeError, ValueError):
            return gr.update()

    @shows_errors
    def on_save(class_id: int | None, item: float | None, first: float | None, text: str, request: gr.Request) -> Any:
        actor = current_actor(ctx, request)
        if class_id is None or not item or first is None:
            raise BadInputError("choose a solution and give the first wrong step (-1 when all are correct)")
        h.correct(ctx, actor, class_id=int(class_id), item_id=int(item), first_wrong_step=int(first), comment=text)
        data, share, progress_line, _running = _table(actor, int(class_id))
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
        return gr.update(choices=h.classes(ctx, actor))

    refresh_outputs = [table, progress, progress_text, timer]
    start.click(
        on_start, [class_name, upload], [klass, table, progress, progress_text, timer, status], api_visibility="private"
    )
    refresh.click(on_refresh, [klass], refresh_outputs, api_visibility="private")
    klass.change(on_refresh, [klass], refresh_outputs, api_visibility="private")
    timer.tick(on_refresh, [klass], refresh_outputs, api_visibility="private")
    table.select(on_select, [table], item_id, api_visibility="private")
    item_id.change(on_pick, [klass, item_id], [cards, first_wrong, comment], api_visibility="private")
    save.click(on_save, [klass, item_id, first_wrong, comment], [table, status], api_visibility="private")
    export.click(on_export, [klass], [files, status], api_visibility="private")
    return [(on_load, [klass])]
