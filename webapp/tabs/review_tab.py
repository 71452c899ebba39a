"""The Review tab: submitted annotations, compared with the critic and other annotators; approve or reject."""

from __future__ import annotations

from typing import Any

import gradio as gr

from core.errors import BadInputError
from webapp.context import AppContext
from webapp.handlers import review as h
from webapp.permissions import Action
from webapp.render import CRITIQUE_RATING_LABELS, LATEX_DELIMITERS, annotation_html, message_html, ratings_diff_html
from webapp.ui import current_actor, selected_id, shows_errors

COLUMNS = [
    "annotation_id",
    "item_id",
    "campaign_id",
    "annotator",
    "first_error_step",
    "finish_reason",
    "status",
    "critique_rating",
    "comment",
]


def others_html(view: h.ReviewView) -> str:
    """This annotation next to every other annotator's labels of the same item, or a line saying there are none."""
    if not view.others:
        return message_html("No other annotator has labelled this item yet.")
    this = view.annotation
    versions = [(f"{this['annotator']} (this one)", this)]
    versions += [(f"{o['annotator']} ({o['status']})", o) for o in view.others]
    return ratings_diff_html(view.steps, versions)


def critique_rating_sentence(annotation: dict[str, Any], view: h.ReviewView) -> str:
    """How the annotator rated the critique they were shown, as a sentence (empty when there was none to rate)."""
    rating = annotation.get("critique_rating")
    if rating:
        return f"They rated the critique: {CRITIQUE_RATING_LABELS.get(rating, rating)}. "
    return "They did not rate the critique. " if view.critique else ""


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    with gr.Row():
        status_filter = gr.Dropdown(["submitted", "approved", "rejected"], value="submitted", label="Status", scale=1)
        refresh = gr.Button("↻ Refresh", scale=0, elem_id="rev-refresh")
    table = gr.Dataframe(
        headers=COLUMNS, interactive=False, label="Annotations (click a row to open it)", wrap=True, elem_id="rev-table"
    )
    with gr.Row():
        annotation_id = gr.Number(label="Annotation id", precision=0, elem_id="rev-annotation-id")
        open_btn = gr.Button("Open", elem_id="rev-open")
    version = gr.State(None)
    with gr.Row():
        with gr.Column():
            gr.Markdown("**This annotation** (ratings) with the critic's verdicts")
            cards = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True, elem_id="rev-cards")
        with gr.Column():
            gr.Markdown("**Other annotators of the same item**, step by step (rows that differ are highlighted)")
            others = gr.HTML(elem_id="rev-diff")
    comment = gr.Textbox(label="Review comment (required to reject)", elem_id="rev-comment")
    with gr.Row():
        approve = gr.Button("Approve", variant="primary", elem_id="rev-approve")
        reject = gr.Button("Reject", variant="stop", elem_id="rev-reject")
    status = gr.HTML(elem_id="rev-status")

    @shows_errors
    def on_refresh(status_value: str, request: gr.Request) -> Any:
        actor = current_actor(ctx, request)
        if not actor.can(Action.REVIEW):
            return gr.update()
        rows = h.pending_reviews(ctx, actor, status=status_value or "submitted")
        return [[r[c] for c in COLUMNS] for r in rows]

    @shows_errors
    def on_open(ann_id: float | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if not ann_id:
            raise BadInputError("enter an annotation id (or click a row)")
        view = h.review_view(ctx, actor, annotation_id=int(ann_id))
        a = view.annotation
        html = annotation_html(
            view.problem,
            view.steps,
            critique=view.critique,
            ratings=a["ratings"],
            flagged=a["flagged_steps"],
            first_error=a["first_error_step"] if a["first_error_step"] not in (None, -1) else None,
            rater=a["annotator"],
        )
        critic = (
            f"the critic ({view.critique.model}) says {view.critique.first_error_step}"
            if view.critique
            else "no critique of this item yet"
        )
        note = (
            f"Annotator {a['annotator']} says first wrong step = {a['first_error_step']}; {critic}. "
            f"{critique_rating_sentence(a, view)}Status: {a['status']} (version {a['version']})."
        )
        if a.get("edited_by"):  # four eyes: whoever edited it is an author and does not review it
            note += f" Edited by {', '.join(a['edited_by'])}, who may not approve or reject it."
        return [
            html,
            others_html(view),
            a["version"],
            message_html(note),
        ]

    def on_select(evt: gr.SelectData, data: Any) -> Any:
        return selected_id(evt, data)

    def decide(approve_it: bool) -> Any:
        @shows_errors
        def handler(ann_id: float | None, ver: int | None, text: str, request: gr.Request) -> list[Any]:
            actor = current_actor(ctx, request)
            if not ann_id or ver is None:
                raise BadInputError("open an annotation first")
            row = h.decide(ctx, actor, annotation_id=int(ann_id), version=int(ver), approve=approve_it, comment=text)
            verb = "Approved" if approve_it else "Rejected"
            return [row["version"], message_html(f"{verb} annotation {row['annotation_id']}.", kind="ok")]

        return handler

    refresh.click(on_refresh, [status_filter], table, api_visibility="private")
    status_filter.change(on_refresh, [status_filter], table, api_visibility="private")
    # Clicking a row opens it: no id to type.
    table.select(on_select, [table], annotation_id, api_visibility="private").then(
        on_open, [annotation_id], [cards, others, version, status], api_visibility="private"
    )
    open_btn.click(on_open, [annotation_id], [cards, others, version, status], api_visibility="private")
    approve.click(decide(True), [annotation_id, version, comment], [version, status], api_visibility="private")
    reject.click(decide(False), [annotation_id, version, comment], [version, status], api_visibility="private")

    def load(request: gr.Request) -> Any:
        return on_refresh("submitted", request)

    return [(load, [table])]
