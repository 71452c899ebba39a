"""The Annotate tab: a campaign's queue, per-step ratings with keyboard shortcuts, drafts, submit, conflicts."""

from __future__ import annotations

import copy
import time
from typing import Any

import gradio as gr

from core.errors import BadInputError
from core.prm800k import FINISH_REASONS
from webapp.context import AppContext
from webapp.handlers import admin as admin_handlers
from webapp.handlers import annotate as h
from webapp.permissions import Action
from webapp.render import CRITIQUE_RATING_LABELS, LATEX_DELIMITERS, markdown_html, message_html
from webapp.render_labels import annotation_html, conflict_html
from webapp.shortcuts import shortcuts_markdown
from webapp.ui import current_actor, shows_errors

EMPTY = {"task": None, "step": 1, "skipped": [], "opened": 0.0, "dirty": False, "undo": [], "seen": []}
UNDO_DEPTH = 50


def campaign_choices(ctx: AppContext, actor: Any) -> list[tuple[str, int]]:
    rows = admin_handlers.campaigns_table(ctx, actor)
    return [
        (f"{r['name']} ({r['complete']}/{r['items']} done)", r["id"])
        for r in rows
        if not r["name"].startswith("class: ")
    ]


def _view(state: dict[str, Any]) -> tuple[str, str]:
    task_data = state.get("task")
    if not task_data:
        return "", "Choose a campaign and press **Next item**."
    task = h.Task.from_dict(task_data)
    first = h.derived_first_error(task.ratings, task.finish_reason or h.default_finish_reason(task.ratings))
    cards = annotation_html(
        task.problem,
        task.steps,
        critique=task.critique,
        ratings=task.ratings,
        flagged=task.flagged_steps,
        current=state["step"],
        first_error=first if first not in (None, -1) else None,
        step_comments=task.step_comments,
    )
    if all(r is None for r in task.ratings):
        first_text = "not rated yet"
    else:
        first_text = "none (all correct)" if first == -1 else "unknown yet" if first is None else f"step {first}"
    info = (
        f"Item {task.item_id} · status **{task.status}**"
        + (f" · version {task.version}" if task.version else "")
        + f" · current step **{state['step']}** of {len(task.steps)} · first wrong step: **{first_text}**"
        + f" · critique: **{_critique_rating_text(task)}**"
    )
    return cards, info


def _critique_rating_text(task: h.Task) -> str:
    if task.critique is None:
        return "none to rate"
    return CRITIQUE_RATING_LABELS[task.critique_rating] if task.critique_rating else "not rated yet"


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    state = gr.State(dict(EMPTY))
    with gr.Row():
        campaign = gr.Dropdown(label="Campaign", choices=[], interactive=True, elem_id="ann-campaign", scale=3)
        refresh = gr.Button("↻ Campaigns", size="sm", scale=0)
        prev_item = gr.Button("◀ Previous item (p)", elem_id="ann-prev-item", scale=1)
        next_item = gr.Button("Next item (n)", variant="primary", elem_id="ann-next-item", scale=1)
        skip = gr.Button("Skip (x)", elem_id="ann-skip", scale=1)
    with gr.Accordion("Guidelines", open=False):
        guidelines = gr.HTML()
    gr.Markdown(shortcuts_markdown(), elem_classes=["kbd-help"])
    info = gr.Markdown(elem_id="ann-info")
    with gr.Row():
        prev_step = gr.Button("◀ Step (k)", elem_id="ann-prev-step", size="sm")
        next_step = gr.Button("Step ▶ (j)", elem_id="ann-next-step", size="sm")
        accept = gr.Button("Accept critic (a)", elem_id="ann-accept", size="sm")
        accept_all = gr.Button("Accept all (A)", elem_id="ann-accept-all", size="sm")
        good = gr.Button("+1 good (+)", elem_id="ann-good", size="sm")
        neutral = gr.Button("0 neutral (0)", elem_id="ann-neutral", size="sm")
        bad = gr.Button("−1 wrong (-)", elem_id="ann-bad", size="sm")
        flag = gr.Button("⚑ Flag (f)", elem_id="ann-flag", size="sm")
        undo = gr.Button("↶ Undo (u)", elem_id="ann-undo", size="sm")
    with gr.Row():
        step_comment = gr.Textbox(
            label="Comment on the current step (why it is wrong, what was expected; empty removes it)",
            max_lines=3,
            elem_id="ann-step-comment",
            scale=5,
        )
        comment_step = gr.Button("Set step comment", elem_id="ann-comment-step", size="sm", scale=1)
    with gr.Row(elem_id="ann-critique-rating"):
        gr.Markdown("**Rate the critique** (not the solution):")
        rate_helpful = gr.Button("Helpful (1)", elem_id="ann-critique-helpful", size="sm")
        rate_partly = gr.Button("Partly helpful (2)", elem_id="ann-critique-partly", size="sm")
        rate_misleading = gr.Button("Misleading (3)", elem_id="ann-critique-misleading", size="sm")
    cards = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, sanitize_html=True, elem_id="ann-cards")
    with gr.Row():
        finish = gr.Radio(
            [("from the ratings", ""), *[(r.replace("_", " "), r) for r in FINISH_REASONS]],
            value="",
            label="Finish reason",
            elem_id="ann-finish",
        )
        comment = gr.Textbox(label="Comment", lines=2, elem_id="ann-comment")
    with gr.Row():
        save_draft = gr.Button("Save draft (d)", elem_id="ann-save-draft")
        submit = gr.Button("Submit (s)", variant="primary", elem_id="ann-submit")
    status = gr.HTML(elem_id="ann-status")
    with gr.Group(visible=False, elem_id="ann-conflict") as conflict_box:
        gr.Markdown("### Someone else saved this annotation first\nBoth versions are below; nothing was lost.")
        conflict_diff = gr.HTML(elem_id="ann-conflict-diff")
        with gr.Row():
            keep_mine = gr.Button("Save mine over theirs", elem_id="ann-keep-mine")
            take_theirs = gr.Button("Load theirs", elem_id="ann-take-theirs")
    conflict_state = gr.State(None)

    outputs = [state, cards, info]

    def render(st: dict[str, Any]) -> list[Any]:
        c, i = _view(st)
        return [st, c, i]

    @shows_errors
    def on_refresh(request: gr.Request) -> Any:
        actor = current_actor(ctx, request)
        if not actor.can(Action.ANNOTATE):
            return gr.update(choices=[])
        return gr.update(choices=campaign_choices(ctx, actor))

    def _load(st: dict[str, Any], task: h.Task | None) -> list[Any]:
        seen = list(st.get("seen", []))
        if task is not None and task.item_id not in seen[-1:]:
            seen.append(task.item_id)
        st = {
            **st,
            "task": task.to_dict() if task else None,
            "step": 1,
            "opened": time.time(),
            "dirty": False,
            "undo": [],
            "seen": seen,
        }
        if task is None:
            return [*render(st), "", message_html("Nothing left for you in this campaign.", kind="ok"), "", ""]
        # A reason that only restates the ratings stays "from the ratings", so changing a rating still counts.
        reason = "" if task.finish_reason == h.default_finish_reason(task.ratings) else task.finish_reason or ""
        note = f"Reopened your {task.status} annotation: change it and submit again." if task.status != "new" else ""
        return [*render(st), markdown_html(task.guidelines), message_html(note) if note else "", reason, task.comment]

    load_outputs = [*outputs, guidelines, status, finish, comment]

    def _keep_edits(actor: Any, st: dict[str, Any], reason: str, text: str) -> None:
        """Before leaving an item with unsaved edits, save them (as a draft unless already submitted)."""
        if not st.get("dirty") or not st.get("task"):
            return
        task = h.Task.from_dict(st["task"])
        outcome = h.save_task(
            ctx, actor, task, finish_reason=reason or None, comment=text, submit=task.status == "submitted"
        )
        if outcome.conflict:
            raise BadInputError(f"{outcome.message} Save this item (and see both versions) before moving on.")

    def _move_on(
        campaign_id: int | None, st: dict[str, Any], reason: str, text: str, request: gr.Request, *, skip: bool
    ) -> list[Any]:
        """Keep unsaved edits, then load the next item (`skip`: pass over the current one even when submitted)."""
        actor = current_actor(ctx, request)
        if campaign_id is None:
            raise BadInputError("choose a campaign first")
        _keep_edits(actor, st, reason, text)
        skipped = list(st.get("skipped", []))
        # Unfinished work moved on from stays a draft, offered first again in a later session.
        if st.get("task") and (skip or st["task"]["status"] != "submitted"):
            skipped.append(st["task"]["item_id"])
        st = {**st, "skipped": skipped}
        task = h.next_task(ctx, actor, campaign_id=int(campaign_id), skipped=skipped)
        return _load(st, task)

    @shows_errors
    def on_next(campaign_id: int | None, st: dict[str, Any], reason: str, text: str, request: gr.Request) -> list[Any]:
        return _move_on(campaign_id, st, reason, text, request, skip=False)

    @shows_errors
    def on_previous(
        campaign_id: int | None, st: dict[str, Any], reason: str, text: str, request: gr.Request
    ) -> list[Any]:
        """Go back to the item seen before this one (reopening it when it was submitted)."""
        actor = current_actor(ctx, request)
        seen = list(st.get("seen", []))
        current = st["task"]["item_id"] if st.get("task") else None
        if current in seen:  # walk the trail back: each press goes one item further
            seen = seen[: len(seen) - 1 - seen[::-1].index(current)]
        if not seen:
            raise BadInputError("there is no earlier item in this session")
        _keep_edits(actor, st, reason, text)
        item_id = seen[-1]
        st = {**st, "seen": seen}
        task = h.load_task(ctx, actor, item_id=item_id, campaign_id=int(campaign_id) if campaign_id else None)
        return _load(st, task)

    @shows_errors
    def on_skip(campaign_id: int | None, st: dict[str, Any], reason: str, text: str, request: gr.Request) -> list[Any]:
        return _move_on(campaign_id, st, reason, text, request, skip=True)

    def _edit(fn: Any, changes: bool = True) -> Any:
        """A rating key or button: changes the page's copy of the task (undoable); a refusal shows in the status."""

        @shows_errors
        def handler(st: dict[str, Any], request: gr.Request) -> list[Any]:
            current_actor(ctx, request)  # the page only edits local state, but only for a logged-in user
            if not st.get("task"):
                return [*render(st), message_html("Load an item first (Next item).", kind="warn")]
            before = copy.deepcopy(st["task"])  # the edit changes the task's lists in place
            task = h.Task.from_dict(st["task"])
            try:
                step = fn(task, st["step"])
            except BadInputError as exc:
                return [*render(st), message_html(str(exc), kind="warn")]
            undo_stack = list(st.get("undo", []))
            if changes:
                undo_stack = [*undo_stack, {"task": before, "step": st["step"]}][-UNDO_DEPTH:]
            new = {**st, "task": task.to_dict(), "step": step, "dirty": st.get("dirty") or changes, "undo": undo_stack}
            return [*render(new), ""]

        return handler

    @shows_errors
    def on_undo(st: dict[str, Any], request: gr.Request) -> list[Any]:
        current_actor(ctx, request)
        undo_stack = list(st.get("undo", []))
        if not undo_stack:
            return [*render(st), message_html("Nothing to undo.", kind="warn")]
        last = undo_stack.pop()
        new = {**st, "task": last["task"], "step": last["step"], "undo": undo_stack, "dirty": True}
        return [*render(new), message_html("Undone.")]

    def advance(task: h.Task, step: int) -> int:
        return min(step + 1, len(task.steps))

    def rate(value: int | None) -> Any:
        # Rating keeps the current step: moving on is its own key (j), so nothing is rated by surprise.
        return _edit(lambda task, step: (h.rate_step(task, step, value), step)[1])

    def rate_critique(value: str) -> Any:
        return _edit(lambda task, step: (h.rate_critique(task, value), step)[1])

    # Edits change only the page's state: answered without the queue so quick key presses see fresh state.
    edits = [
        (prev_step, _edit(lambda task, step: max(step - 1, 1), changes=False)),
        (next_step, _edit(advance, changes=False)),
        (good, rate(1)),
        (neutral, rate(0)),
        (bad, rate(-1)),
        (accept, _edit(lambda task, step: (h.accept_step(task, step), step)[1])),
        (accept_all, _edit(lambda task, step: (h.accept_all(task), step)[1])),
        (flag, _edit(lambda task, step: (h.toggle_flag(task, step), step)[1])),
        (rate_helpful, rate_critique("helpful")),
        (rate_partly, rate_critique("partly")),
        (rate_misleading, rate_critique("misleading")),
    ]
    edit_outputs = [*outputs, status]
    for button, fn in edits:
        button.click(fn, [state], edit_outputs, api_visibility="private", queue=False, show_progress="hidden")
    undo.click(on_undo, [state], edit_outputs, api_visibility="private", queue=False, show_progress="hidden")

    @shows_errors
    def on_comment_step(st: dict[str, Any], text: str, request: gr.Request) -> list[Any]:
        """Set the current step's comment in the page's task (undoable); it is stored with the next save."""
        current_actor(ctx, request)
        if not st.get("task"):
            return [*render(st), message_html("Load an item first (Next item).", kind="warn"), gr.update()]
        before = copy.deepcopy(st["task"])
        task = h.Task.from_dict(st["task"])
        try:
            h.comment_step(task, st["step"], text or "")
        except BadInputError as exc:
            return [*render(st), message_html(str(exc), kind="warn"), gr.update()]
        undo_stack = [*st.get("undo", []), {"task": before, "step": st["step"]}][-UNDO_DEPTH:]
        new = {**st, "task": task.to_dict(), "dirty": True, "undo": undo_stack}
        said = "Comment set" if str(st["step"]) in task.step_comments else "Comment removed"
        return [*render(new), message_html(f"{said} on step {st['step']}; save or submit to keep it."), ""]

    comment_step.click(
        on_comment_step,
        [state, step_comment],
        [*edit_outputs, step_comment],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )

    def _save(submit_it: bool) -> Any:
        @shows_errors
        def handler(st: dict[str, Any], reason: str, text: str, request: gr.Request) -> list[Any]:
            actor = current_actor(ctx, request)
            if not st.get("task"):
                raise BadInputError("load an item first (Next item)")
            task = h.Task.from_dict(st["task"])
            spent = int((time.time() - st.get("opened", time.time())) * 1000)
            outcome = h.save_task(
                ctx, actor, task, finish_reason=reason or None, comment=text, submit=submit_it, time_spent_ms=spent
            )
            if outcome.conflict:
                return [
                    *render(st),
                    message_html(outcome.message, kind="error"),
                    gr.update(visible=True),
                    conflict_html(task.steps, outcome.mine or {}, outcome.theirs or {}),
                    {"submit": submit_it, "theirs": outcome.theirs},
                ]
            saved = outcome.saved or {}
            task.annotation_id = saved.get("annotation_id")
            task.version = saved.get("version")
            task.status = saved.get("status", task.status)
            task.finish_reason = saved.get("finish_reason")
            st = {**st, "task": task.to_dict(), "opened": time.time(), "dirty": False}
            return [*render(st), message_html(outcome.message, kind="ok"), gr.update(visible=False), "", None]

        return handler

    save_outputs = [*outputs, status, conflict_box, conflict_diff, conflict_state]
    save_draft.click(_save(False), [state, finish, comment], save_outputs, api_visibility="private")
    submit.click(_save(True), [state, finish, comment], save_outputs, api_visibility="private")

    def _onto_stored(st: dict[str, Any], conflict: dict[str, Any] | None) -> tuple[h.Task, dict[str, Any]]:
        """The page's task pointed at a conflict's stored version (to save over it or take it), and that version."""
        if not conflict or not st.get("task"):
            raise BadInputError("there is no conflict to resolve")
        theirs = conflict["theirs"]
        task = h.Task.from_dict(st["task"])
        task.annotation_id = theirs["annotation_id"]
        task.version = theirs["version"]
        return task, theirs

    @shows_errors
    def on_keep_mine(
        st: dict[str, Any], conflict: dict[str, Any] | None, reason: str, text: str, request: gr.Request
    ) -> Any:
        task, _theirs = _onto_stored(st, conflict)
        st = {**st, "task": task.to_dict()}
        return _save(bool(conflict and conflict["submit"]))(st, reason, text, request)

    @shows_errors
    def on_take_theirs(st: dict[str, Any], conflict: dict[str, Any] | None) -> Any:
        task, theirs = _onto_stored(st, conflict)
        task.ratings = list(theirs["ratings"])
        task.flagged_steps = list(theirs["flagged_steps"])
        task.accepted_steps = list(theirs.get("accepted_steps", []))
        task.critique_rating = theirs.get("critique_rating")
        task.finish_reason = theirs["finish_reason"]
        task.comment = theirs["comment"]
        task.step_comments = dict(theirs.get("step_comments") or {})
        task.status = theirs["status"]
        st = {**st, "task": task.to_dict(), "dirty": False}
        return [
            *render(st),
            message_html("Loaded the stored version.", kind="ok"),
            gr.update(visible=False),
            "",
            None,
            task.finish_reason or "",
            task.comment,
        ]

    keep_mine.click(on_keep_mine, [state, conflict_state, finish, comment], save_outputs, api_visibility="private")
    take_theirs.click(
        on_take_theirs, [state, conflict_state], [*save_outputs, finish, comment], api_visibility="private"
    )
    next_item.click(on_next, [campaign, state, finish, comment], load_outputs, api_visibility="private")
    prev_item.click(on_previous, [campaign, state, finish, comment], load_outputs, api_visibility="private")
    skip.click(on_skip, [campaign, state, finish, comment], load_outputs, api_visibility="private")
    refresh.click(on_refresh, None, campaign, api_visibility="private")
    return [(on_refresh, [campaign])]
