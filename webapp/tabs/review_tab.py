"""The Review tab: filtered annotations beside the critic and other annotators; approve or reject one or many."""

from __future__ import annotations

from typing import Any

import gradio as gr

from core.errors import BadInputError
from webapp.context import AppContext
from webapp.handlers import review as h
from webapp.handlers import review_bulk as bulk
from webapp.permissions import Action
from webapp.render import CRITIQUE_RATING_LABELS, LATEX_DELIMITERS, message_html
from webapp.render_labels import annotation_html, ratings_diff_html
from webapp.shortcuts import REVIEW_SHORTCUTS, shortcuts_markdown
from webapp.tabs.review_filters import build_filter_bar, controls_for, picker_updates, spec_from
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
    bar = build_filter_bar()
    with gr.Row():
        view_pick = gr.Dropdown([], label="Saved views", elem_id="rev-view", scale=2)
        view_name = gr.Textbox(label="Save this filter as", elem_id="rev-view-name", max_lines=1, scale=2)
        save_view = gr.Button("Save view", elem_id="rev-save-view", scale=0)
        refresh = gr.Button("↻ Apply filter (r)", scale=0, elem_id="rev-refresh")
    count = gr.Markdown(elem_id="rev-count")
    table = gr.Dataframe(
        headers=COLUMNS, interactive=False, label="Annotations (click a row to open it)", wrap=True, elem_id="rev-table"
    )
    listed = gr.State({})  # annotation id -> version when listed: a bulk decision skips rows changed since
    with gr.Accordion("Decide many: the selected rows at once", open=True):
        gr.Markdown(shortcuts_markdown(REVIEW_SHORTCUTS), elem_classes=["kbd-help"])
        selected = gr.CheckboxGroup([], label="Selected rows", elem_id="rev-selected")
        with gr.Row():
            select_all = gr.Button("Select all listed (*)", size="sm", elem_id="rev-select-all")
            select_none = gr.Button("Clear selection (c)", size="sm", elem_id="rev-select-none")
            bulk_reason = gr.Textbox(
                label="Reason (required to reject; kept on each row)", elem_id="rev-bulk-reason", scale=3
            )
            bulk_approve = gr.Button("Approve selected (Y)", variant="primary", elem_id="rev-bulk-approve")
            bulk_reject = gr.Button("Reject selected (R)", variant="stop", elem_id="rev-bulk-reject")
        bulk_status = gr.HTML(elem_id="rev-bulk-status")
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
    listing = [table, count, listed, selected]

    def _listing(actor: Any, values: tuple[Any, ...]) -> list[Any]:
        result = bulk.filtered_reviews(ctx, actor, spec_from(*values))
        ids = list(result.versions)
        return [
            [[r[c] for c in COLUMNS] for r in result.rows],
            result.caption(),
            result.versions,
            gr.update(choices=[(f"#{i}", i) for i in ids], value=[]),
        ]

    @shows_errors
    def on_list(
        c: Any, st: Any, an: Any, cd: Any, ad: Any, g: Any, si: Any, un: Any, tx: Any, request: gr.Request
    ) -> list[Any]:
        # One parameter per filter control (Gradio passes the request only to a named parameter).
        actor = current_actor(ctx, request)
        if not actor.can(Action.REVIEW):
            return [gr.update() for _ in listing]
        return _listing(actor, (c, st, an, cd, ad, g, si, un, tx))

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
            step_comments=a["step_comments"],
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

    def decide_many(approve_it: bool) -> Any:
        @shows_errors
        def handler(
            picked: list[int] | None,
            versions: dict[int, int],
            reason: str,
            c: Any,
            st: Any,
            an: Any,
            cd: Any,
            ad: Any,
            g: Any,
            si: Any,
            un: Any,
            tx: Any,
            request: gr.Request,
        ) -> list[Any]:
            values = (c, st, an, cd, ad, g, si, un, tx)
            actor = current_actor(ctx, request)
            chosen = {int(i): versions[int(i)] for i in picked or [] if int(i) in versions}
            summary = bulk.bulk_decide(ctx, actor, listed_versions=chosen, approve=approve_it, reason=reason or "")
            return [message_html(summary, kind="ok"), *_listing(actor, values)]

        return handler

    @shows_errors
    def on_pick_view(name: str | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if not name:
            return [gr.update() for _ in (*bar.controls, *listing)]
        spec = bulk.open_view(ctx, actor, name=name)
        values = controls_for(spec)
        return [*values, *_listing(actor, tuple(values))]

    @shows_errors
    def on_save_view(
        name: str, c: Any, st: Any, an: Any, cd: Any, ad: Any, g: Any, si: Any, un: Any, tx: Any, request: gr.Request
    ) -> list[Any]:
        actor = current_actor(ctx, request)
        stored = bulk.save_current_view(ctx, actor, name=name or "", spec=spec_from(c, st, an, cd, ad, g, si, un, tx))
        return [gr.update(choices=bulk.view_names(ctx, actor), value=stored), message_html(f"Saved view {stored!r}.")]

    private = {"api_visibility": "private"}
    refresh.click(on_list, bar.controls, listing, **private)
    for control in (bar.campaign, bar.status, bar.annotator, *bar.controls[3:6]):
        control.input(on_list, bar.controls, listing, **private)
    for box in (bar.since, bar.until, bar.text):
        box.submit(on_list, bar.controls, listing, **private)
    view_pick.input(on_pick_view, [view_pick], [*bar.controls, *listing], **private)
    save_view.click(on_save_view, [view_name, *bar.controls], [view_pick, bulk_status], **private)
    select_all.click(lambda versions: gr.update(value=list(versions)), [listed], selected, **private)
    select_none.click(lambda: gr.update(value=[]), None, selected, **private)
    bulk_inputs = [selected, listed, bulk_reason, *bar.controls]
    bulk_approve.click(decide_many(True), bulk_inputs, [bulk_status, *listing], **private)
    bulk_reject.click(decide_many(False), bulk_inputs, [bulk_status, *listing], **private)
    # Clicking a row opens it: no id to type.
    table.select(on_select, [table], annotation_id, **private).then(
        on_open, [annotation_id], [cards, others, version, status], **private
    )
    open_btn.click(on_open, [annotation_id], [cards, others, version, status], **private)
    approve.click(decide(True), [annotation_id, version, comment], [version, status], **private)
    reject.click(decide(False), [annotation_id, version, comment], [version, status], **private)

    @shows_errors
    def load(
        c: Any, st: Any, an: Any, cd: Any, ad: Any, g: Any, si: Any, un: Any, tx: Any, request: gr.Request
    ) -> list[Any]:
        """Fill the pickers and the list for the reviewer (at page load and whenever the tab opens)."""
        actor = current_actor(ctx, request)
        if not actor.can(Action.REVIEW):
            return [gr.update() for _ in range(3 + len(listing))]
        campaigns, annotators = bulk.filter_choices(ctx, actor)
        views = gr.update(choices=bulk.view_names(ctx, actor))
        return [*picker_updates(campaigns, annotators), views, *_listing(actor, (c, st, an, cd, ad, g, si, un, tx))]

    return [(load, [bar.campaign, bar.annotator, view_pick, *listing], bar.controls)]
