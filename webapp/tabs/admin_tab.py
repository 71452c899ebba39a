"""The Admin tab: users, campaigns (guidelines, data, overlap, annotators, progress), training, models, webhooks."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from core.errors import BadInputError, CriticError
from db.importer import IMPORT_FORMATS
from db.models import ROLES
from webapp.context import AppContext
from webapp.handlers import admin as h
from webapp.permissions import Action, Actor
from webapp.render import message_html
from webapp.tabs import webhooks_section
from webapp.ui import current_actor, one_line, selected_id, selected_row, shows_errors

log = logging.getLogger(__name__)

USER_COLUMNS = ["id", "username", "role", "active", "can_log_in"]
CAMPAIGN_COLUMNS = ["id", "name", "status", "overlap", "items", "complete", "submitted", "drafts"]
JOB_COLUMNS = ["id", "kind", "status", "progress", "latest", "error", "created_at"]
MODEL_COLUMNS = ["id", "name", "status", "f1", "promoted_at", "notes", "path", "kind"]
EVAL_SET_COLUMNS = ["id", "name", "items", "problems", "source"]
# Small enough to finish on a laptop CPU in minutes: template targets (no model writes them), few steps.
DEFAULT_JOB = {"base_model": "active", "max_steps": 20, "use_annotations": True, "teacher_backend": "template"}
# The actor's self-improvement job (docs/actor.md): `problems` is a file from `critic generate problems`.
ACTOR_JOB = {"problems": "problems.jsonl", "base_model": "active", "samples": 4, "rounds": 1, "use_critique": True}
REFRESH_EVERY_S = 3.0
# While nothing changes the refresh slows down, doubling up to this; any change (or opening the tab) resets it.
IDLE_REFRESH_MAX_S = 60.0


def _rows(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[r.get(c) for c in columns] for r in rows]


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    status = gr.HTML(elem_id="admin-status")
    with gr.Tab("Users"):
        users = gr.Dataframe(
            headers=USER_COLUMNS, interactive=False, label="Users (click a row to edit it)", elem_id="admin-users"
        )
        with gr.Row():
            username = gr.Textbox(label="Username", elem_id="admin-username")
            password = gr.Textbox(
                label="Password (new users; optional when changing)", type="password", elem_id="admin-password"
            )
            role = gr.Dropdown(list(ROLES), value="annotator", label="Role", elem_id="admin-role")
            active = gr.Checkbox(value=True, label="Active", elem_id="admin-active")
        with gr.Row():
            add_user = gr.Button("Add user", variant="primary", elem_id="admin-add-user")
            change_user = gr.Button("Change role / password / active", elem_id="admin-change-user")
    with gr.Tab("Campaigns"):
        campaigns = gr.Dataframe(
            headers=CAMPAIGN_COLUMNS,
            interactive=False,
            label="Campaigns (click a row to pick it)",
            elem_id="admin-campaigns",
        )
        with gr.Row():
            c_name = gr.Textbox(label="New campaign name", elem_id="admin-campaign-name")
            c_order = gr.Dropdown(
                [("Closest to done first", "progress"), ("Least confident critique first", "uncertainty")],
                value="progress",
                label="Item order",
                elem_id="admin-campaign-order",
            )
            c_review = gr.Checkbox(
                value=True, label="Labels train only once a reviewer approves them", elem_id="admin-campaign-review"
            )
            c_create = gr.Button("Create campaign", variant="primary", elem_id="admin-create-campaign")
        with gr.Row():
            c_pick = gr.Dropdown(label="Campaign", choices=[], elem_id="admin-campaign", scale=2)
            c_overlap = gr.Number(
                value=1, precision=0, label="Overlap (annotators per item)", minimum=1, elem_id="admin-overlap"
            )
            c_status = gr.Dropdown(
                ["active", "paused", "closed"], value="active", label="Status", elem_id="admin-campaign-status"
            )
        c_guidelines = gr.Textbox(label="Guidelines (markdown)", lines=5, elem_id="admin-guidelines")
        c_save = gr.Button("Save guidelines / overlap / status", elem_id="admin-save-campaign")
        with gr.Row():
            c_file = gr.File(label="Data file", file_types=[".json", ".jsonl"], elem_id="admin-data-file")
            c_fmt = gr.Dropdown(list(IMPORT_FORMATS), value="processbench", label="Format")
            c_upload = gr.Button("Import into campaign", elem_id="admin-import")
        with gr.Row():
            c_annotators = gr.Dropdown(
                label="Assigned annotators (none = everyone)", choices=[], multiselect=True, elem_id="admin-annotators"
            )
            c_assign = gr.Button("Assign", elem_id="admin-assign")
    with gr.Tab("Training"):
        t_kind = gr.Radio(["sft", "grpo", "actor"], value="sft", label="Job", elem_id="admin-job-kind")
        t_config = gr.Code(
            value=json.dumps(DEFAULT_JOB, indent=1),
            language="json",
            label="Job settings (JSON; see `critic train --help` for every field)",
            elem_id="admin-job-config",
        )
        with gr.Row():
            t_start = gr.Button("Start training", variant="primary", elem_id="admin-start-training")
            t_job = gr.Dropdown(label="Job", choices=[], elem_id="admin-job")
            t_cancel = gr.Button("Cancel job", elem_id="admin-cancel-job")
        jobs = gr.Dataframe(headers=JOB_COLUMNS, interactive=False, wrap=True, elem_id="admin-jobs")
    with gr.Tab("Models"):
        models = gr.Dataframe(headers=MODEL_COLUMNS, interactive=False, wrap=True, elem_id="admin-models")
        with gr.Row():
            m_pick = gr.Dropdown(label="Model version", choices=[], elem_id="admin-model")
            m_promote = gr.Button("Promote", variant="primary", elem_id="admin-promote")
            m_rollback = gr.Button("Roll back to the previous model", variant="stop", elem_id="admin-rollback")
        gr.Markdown("Versions x evaluation sets, in percent: F1, error accuracy, correct accuracy, step AUROC.")
        scores = gr.Dataframe(interactive=False, wrap=True, elem_id="admin-registry-scores")
    with gr.Tab("Evaluation sets"):
        eval_sets = gr.Dataframe(headers=EVAL_SET_COLUMNS, interactive=False, elem_id="admin-eval-sets")
        with gr.Row():
            e_name = gr.Textbox(label="New evaluation set name", elem_id="admin-eval-set-name")
            e_file = gr.File(
                label="ProcessBench-format file", file_types=[".json", ".jsonl"], elem_id="admin-eval-set-file"
            )
            e_campaign = gr.Textbox(label="...or a campaign whose gold items form the set")
            e_limit = gr.Number(
                label="Items (per subset, spread evenly; empty = all)", precision=0, elem_id="admin-eval-set-limit"
            )
            e_add = gr.Button("Register evaluation set", variant="primary", elem_id="admin-add-eval-set")
    with gr.Tab("Webhooks"):
        webhooks_load = webhooks_section.build(ctx)
    # Started by the page load for admins only; ticks slow down while the tables stay the same.
    timer = gr.Timer(REFRESH_EVERY_S, active=False)
    tables = [users, campaigns, jobs, models, scores, eval_sets]
    pickers = [c_pick, t_job, m_pick, c_annotators]

    def _tables(actor: Actor) -> list[Any]:
        user_rows = h.users_table(ctx, actor)
        campaign_rows = h.campaigns_table(ctx, actor)
        job_rows = h.jobs_table(ctx, actor)
        model_rows = h.models_table(ctx, actor)
        return [
            _rows(user_rows, USER_COLUMNS),
            _rows(campaign_rows, CAMPAIGN_COLUMNS),
            _rows(job_rows, JOB_COLUMNS),
            _rows(model_rows, MODEL_COLUMNS),
            dict(zip(("headers", "data"), h.registry_scores(ctx, actor), strict=True)),
            _rows(h.eval_sets_table(ctx, actor), EVAL_SET_COLUMNS),
            gr.update(choices=[(f"{r['name']} (#{r['id']})", r["id"]) for r in campaign_rows]),
            gr.update(choices=[(f"#{r['id']} {r['kind']} ({r['created_at']})", r["id"]) for r in job_rows]),
            gr.update(choices=[(f"#{r['id']} {r['name']} ({r['status']})", r["id"]) for r in model_rows]),
            gr.update(choices=h.annotator_names(ctx, actor)),
        ]

    def action(fn: Callable[..., str | tuple[str, dict[int, Any]]]) -> Callable[..., list[Any]]:
        """An admin button: run `fn` (whose last parameter is the request), show its message and fresh tables.

        A refused or invalid action leaves the tables as they were and says why in the status line (one log line).
        The wrapper keeps `fn`'s signature, so Gradio passes the request to it.
        """

        @functools.wraps(fn)
        def handler(*args: Any) -> list[Any]:
            actor = current_actor(ctx, args[-1])
            try:
                outcome = fn(*args)
            except CriticError as exc:
                log.info("admin action refused: %s", one_line(exc))
                return [message_html(str(exc), kind="error"), *[gr.update() for _ in (*tables, *pickers)]]
            message, picks = outcome if isinstance(outcome, tuple) else (outcome, {})
            fresh = _tables(actor)
            for index, value in picks.items():  # e.g. the campaign just created becomes the picked one
                fresh[index] = gr.update(choices=fresh[index]["choices"], value=value)
            return [message_html(message, kind="ok"), *fresh]

        return shows_errors(handler)

    def _need(value: Any, what: str) -> int:
        if value in (None, ""):
            raise BadInputError(f"pick a {what} first")
        return int(value)

    def _actor(request: gr.Request) -> Actor:
        return current_actor(ctx, request)

    CAMPAIGN, JOB = len(tables), len(tables) + 1  # positions of those pickers in `_tables`

    def _add_user(name: str, pw: str, r: str, is_active: bool, request: gr.Request) -> str:
        message = h.add_user(ctx, _actor(request), username=name, password=pw, role=r)
        if not is_active:
            message = h.change_user(ctx, _actor(request), username=name, role=r, active=False)
        return message

    def _change_user(name: str, pw: str, r: str, is_active: bool, request: gr.Request) -> str:
        return h.change_user(ctx, _actor(request), username=name, role=r, active=is_active, password=pw)

    def _create(
        name: str, overlap: float | None, guidelines: str, order: str, review: bool, request: gr.Request
    ) -> tuple[str, dict[int, Any]]:
        cid = h.new_campaign(
            ctx,
            _actor(request),
            name=name,
            guidelines=guidelines,
            overlap=int(overlap or 1),
            item_order=order,
            needs_review=bool(review),
        )
        review_note = "labels train once approved" if review else "submitted labels train without review"
        return f"Created campaign {name} (overlap {int(overlap or 1)}); {review_note}.", {CAMPAIGN: cid}

    def _save(cid: int | None, guidelines: str, overlap: float | None, st: str, request: gr.Request) -> str:
        return h.edit_campaign(
            ctx, _actor(request), campaign_id=_need(cid, "campaign"), guidelines=guidelines, overlap=overlap, status=st
        )

    def _upload(cid: int | None, path: str | None, fmt: str, request: gr.Request) -> str:
        campaign_id = _need(cid, "campaign")
        if not path:
            raise BadInputError("choose a data file")
        return h.upload_campaign_data(ctx, _actor(request), campaign_id=campaign_id, path=path, fmt=fmt)

    def _assign(cid: int | None, names: list[str] | None, request: gr.Request) -> str:
        return h.assign_annotators(ctx, _actor(request), campaign_id=_need(cid, "campaign"), usernames=names or [])

    def _train(kind: str, config: str, request: gr.Request) -> tuple[str, dict[int, Any]]:
        try:
            values = json.loads(config or "{}")
        except json.JSONDecodeError as exc:
            raise BadInputError(f"job settings are not valid JSON: {exc.msg} (line {exc.lineno})") from exc
        if not isinstance(values, dict):
            raise BadInputError("job settings must be a JSON object")
        job_id = h.start_training(ctx, _actor(request), kind=kind, values=values)
        return f"Queued {kind} job {job_id}; its progress shows below.", {JOB: job_id}

    def _cancel(job: int | None, request: gr.Request) -> str:
        return h.cancel_training(ctx, _actor(request), job_id=_need(job, "job"))

    def _promote(version: int | None, request: gr.Request) -> str:
        return h.promote_model(ctx, _actor(request), version_id=_need(version, "model version"))

    def _rollback(request: gr.Request) -> str:
        return h.rollback_model(ctx, _actor(request))

    def _add_eval_set(name: str, path: str | None, campaign: str, limit: float | None, request: gr.Request) -> str:
        return h.add_eval_set(ctx, _actor(request), name=name, path=path, campaign=campaign or "", limit=limit)

    outs = [status, *tables, *pickers]
    wire = [
        (add_user, _add_user, [username, password, role, active]),
        (change_user, _change_user, [username, password, role, active]),
        (c_create, _create, [c_name, c_overlap, c_guidelines, c_order, c_review]),
        (c_save, _save, [c_pick, c_guidelines, c_overlap, c_status]),
        (c_upload, _upload, [c_pick, c_file, c_fmt]),
        (c_assign, _assign, [c_pick, c_annotators]),
        (t_start, _train, [t_kind, t_config]),
        (t_cancel, _cancel, [t_job]),
        (m_promote, _promote, [m_pick]),
        (m_rollback, _rollback, []),
        (e_add, _add_eval_set, [e_name, e_file, e_campaign, e_limit]),
    ]
    seen = gr.State({})  # what the page shows: tables' digest, pickers' choices, the refresh interval

    def _refresh_soon() -> list[Any]:
        # An action may start something that moves (a job): refresh at full pace again, sending everything.
        return [{}, gr.Timer(value=REFRESH_EVERY_S, active=True)]

    for button, fn, inputs in wire:
        button.click(action(fn), inputs, outs, api_visibility="private").then(
            _refresh_soon, None, [seen, timer], api_visibility="private", show_progress="hidden"
        )
    t_kind.change(
        lambda kind: json.dumps(ACTOR_JOB if kind == "actor" else DEFAULT_JOB, indent=1),
        [t_kind],
        [t_config],
        api_visibility="private",
    )

    @shows_errors
    def on_pick_campaign(cid: int | None, request: gr.Request) -> list[Any]:
        if cid in (None, ""):
            return [gr.update() for _ in range(4)]
        details = h.campaign_details(ctx, current_actor(ctx, request), campaign_id=int(cid))
        return [details["guidelines"], details["overlap"], details["status"], details["annotators"]]

    c_pick.input(
        on_pick_campaign, [c_pick], [c_guidelines, c_overlap, c_status, c_annotators], api_visibility="private"
    )

    def on_user_row(evt: gr.SelectData, data: Any) -> list[Any]:
        row = selected_row(evt, data)
        if row is None:
            return [gr.update() for _ in range(3)]
        return [row[1], row[2], bool(row[3])]

    def on_campaign_row(evt: gr.SelectData, data: Any) -> Any:
        return selected_id(evt, data)

    users.select(on_user_row, [users], [username, role, active], api_visibility="private")
    campaigns.select(on_campaign_row, [campaigns], c_pick, api_visibility="private").then(
        on_pick_campaign, [c_pick], [c_guidelines, c_overlap, c_status, c_annotators], api_visibility="private"
    )

    def on_tick(seen: dict[str, Any] | None, request: gr.Request) -> list[Any]:
        # For anyone but an admin the timer stops (and says nothing). A picker is only sent when its choices
        # changed, so an open dropdown is not redrawn under the admin's pointer; unchanged tables are not sent.
        unchanged = [gr.update() for _ in (*tables, *pickers)]
        try:
            actor = current_actor(ctx, request)
        except CriticError:
            return [*unchanged, seen, gr.Timer(active=False)]
        if not actor.can(Action.MANAGE_USERS):
            return [*unchanged, seen, gr.Timer(active=False)]
        fresh = _tables(actor)
        seen = dict(seen or {})
        digest = hashlib.sha256(json.dumps(fresh[: len(tables)], default=str).encode()).hexdigest()
        if digest == seen.get("digest"):
            interval = min(seen.get("interval", REFRESH_EVERY_S) * 2, IDLE_REFRESH_MAX_S)
            table_updates = [gr.update() for _ in tables]
        else:
            interval = REFRESH_EVERY_S
            table_updates = fresh[: len(tables)]
        seen.update(digest=digest, interval=interval)
        updates = []
        for index, picker_update in enumerate(fresh[len(tables) :]):
            key = str(index)
            choices = [list(c) if isinstance(c, tuple) else c for c in picker_update["choices"]]
            updates.append(gr.update() if seen.get(key) == choices else gr.update(choices=picker_update["choices"]))
            seen[key] = choices
        timer_update = gr.Timer(value=interval, active=True) if interval != seen.get("sent") else gr.update()
        seen["sent"] = interval
        return [*table_updates, *updates, seen, timer_update]

    timer.tick(
        on_tick,
        [seen],
        [*tables, *pickers, seen, timer],
        api_visibility="private",
        show_progress="hidden",
        queue=False,
    )

    def on_load(request: gr.Request) -> list[Any]:
        return on_tick({}, request)

    return [(on_load, [*tables, *pickers, seen, timer]), webhooks_load]
