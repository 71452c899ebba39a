"""The Admin tab: users, campaigns (guidelines, data, overlap, annotators, progress), training, models, eval sets."""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from core.errors import BadInputError
from db.importer import IMPORT_FORMATS
from db.models import ROLES
from webapp.context import AppContext
from webapp.handlers import admin as h
from webapp.permissions import Action
from webapp.render import message_html
from webapp.ui import current_actor, shows_errors

USER_COLUMNS = ["id", "username", "role", "active", "can_log_in"]
CAMPAIGN_COLUMNS = ["id", "name", "status", "overlap", "items", "complete", "submitted", "drafts"]
JOB_COLUMNS = ["id", "kind", "status", "progress", "error", "created_at"]
MODEL_COLUMNS = ["id", "name", "status", "f1", "promoted_at", "notes", "path"]
EVAL_SET_COLUMNS = ["id", "name", "items", "problems", "source"]


def _rows(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[r.get(c) for c in columns] for r in rows]


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    status = gr.HTML(elem_id="admin-status")
    with gr.Tab("Users"):
        users = gr.Dataframe(headers=USER_COLUMNS, interactive=False)
        with gr.Row():
            username = gr.Textbox(label="Username", elem_id="admin-username")
            password = gr.Textbox(label="Password (new users; optional when changing)", type="password")
            role = gr.Dropdown(list(ROLES), value="annotator", label="Role")
            active = gr.Checkbox(value=True, label="Active")
        with gr.Row():
            add_user = gr.Button("Add user", variant="primary", elem_id="admin-add-user")
            change_user = gr.Button("Change role / password / active")
    with gr.Tab("Campaigns"):
        campaigns = gr.Dataframe(headers=CAMPAIGN_COLUMNS, interactive=False)
        with gr.Row():
            c_name = gr.Textbox(label="New campaign name", elem_id="admin-campaign-name")
            c_overlap = gr.Number(value=1, precision=0, label="Overlap (annotators per item)", minimum=1)
            c_create = gr.Button("Create campaign", variant="primary", elem_id="admin-create-campaign")
        c_guidelines = gr.Textbox(label="Guidelines (markdown)", lines=5)
        with gr.Row():
            c_id = gr.Number(label="Campaign id", precision=0, elem_id="admin-campaign-id")
            c_status = gr.Dropdown(["active", "paused", "closed"], value="active", label="Status")
            c_save = gr.Button("Save guidelines / overlap / status")
        with gr.Row():
            c_file = gr.File(label="Data file", file_types=[".json", ".jsonl"])
            c_fmt = gr.Dropdown(list(IMPORT_FORMATS), value="processbench", label="Format")
            c_upload = gr.Button("Import into campaign")
        with gr.Row():
            c_annotators = gr.Textbox(label="Assigned annotators (comma-separated usernames; empty = everyone)")
            c_assign = gr.Button("Assign")
    with gr.Tab("Training"):
        t_kind = gr.Radio(["sft", "grpo"], value="sft", label="Job")
        t_config = gr.Code(
            value=json.dumps({"base_model": "active", "max_steps": 20, "use_annotations": True}, indent=1),
            language="json",
            label="Job settings (JSON; see `critic train --help` for every field)",
        )
        with gr.Row():
            t_start = gr.Button("Start training", variant="primary", elem_id="admin-start-training")
            t_job = gr.Number(label="Job id", precision=0)
            t_cancel = gr.Button("Cancel job")
        jobs = gr.Dataframe(headers=JOB_COLUMNS, interactive=False)
    with gr.Tab("Models"):
        models = gr.Dataframe(headers=MODEL_COLUMNS, interactive=False, wrap=True)
        with gr.Row():
            m_id = gr.Number(label="Model version id", precision=0)
            m_promote = gr.Button("Promote", variant="primary", elem_id="admin-promote")
            m_rollback = gr.Button("Roll back to the previous model", variant="stop")
        gr.Markdown("Versions x evaluation sets, in percent: F1, error accuracy, correct accuracy, step AUROC.")
        scores = gr.Dataframe(interactive=False, wrap=True, elem_id="admin-registry-scores")
    with gr.Tab("Evaluation sets"):
        eval_sets = gr.Dataframe(headers=EVAL_SET_COLUMNS, interactive=False)
        with gr.Row():
            e_name = gr.Textbox(label="New evaluation set name")
            e_file = gr.File(label="ProcessBench-format file", file_types=[".json", ".jsonl"])
            e_campaign = gr.Textbox(label="...or a campaign whose gold items form the set")
            e_limit = gr.Number(label="Items (per subset, spread evenly; empty = all)", precision=0)
            e_add = gr.Button("Register evaluation set", variant="primary")
    refresh = gr.Button("↻ Refresh tables")
    tables = [users, campaigns, jobs, models, scores, eval_sets]

    def _tables(actor: Any) -> list[Any]:
        return [
            _rows(h.users_table(ctx, actor), USER_COLUMNS),
            _rows(h.campaigns_table(ctx, actor), CAMPAIGN_COLUMNS),
            _rows(h.jobs_table(ctx, actor), JOB_COLUMNS),
            _rows(h.models_table(ctx, actor), MODEL_COLUMNS),
            dict(zip(("headers", "data"), h.registry_scores(ctx, actor), strict=True)),
            _rows(h.eval_sets_table(ctx, actor), EVAL_SET_COLUMNS),
        ]

    def action(fn: Any) -> Any:
        """An admin button: run the handler, then show its message and fresh tables."""

        @shows_errors
        def handler(*args: Any) -> list[Any]:
            *values, request = args
            actor = current_actor(ctx, request)
            message = fn(actor, *values)
            return [message_html(str(message), kind="ok"), *_tables(actor)]

        return handler

    def _id(value: float | None, what: str) -> int:
        if value is None:
            raise BadInputError(f"enter the {what} id")
        return int(value)

    def _add_user(actor: Any, name: str, pw: str, r: str, _active: bool) -> str:
        return h.add_user(ctx, actor, username=name, password=pw, role=r)

    def _change_user(actor: Any, name: str, pw: str, r: str, is_active: bool) -> str:
        return h.change_user(ctx, actor, username=name, role=r, active=is_active, password=pw)

    def _create(actor: Any, name: str, overlap: float | None, guidelines: str) -> str:
        cid = h.new_campaign(ctx, actor, name=name, guidelines=guidelines, overlap=int(overlap or 1))
        return f"Created campaign {cid}."

    def _save(actor: Any, cid: float | None, guidelines: str, overlap: float | None, st: str) -> str:
        return h.edit_campaign(
            ctx, actor, campaign_id=_id(cid, "campaign"), guidelines=guidelines, overlap=overlap, status=st
        )

    def _upload(actor: Any, cid: float | None, path: str | None, fmt: str) -> str:
        if not path:
            raise BadInputError("choose a data file")
        return h.upload_campaign_data(ctx, actor, campaign_id=_id(cid, "campaign"), path=path, fmt=fmt)

    def _assign(actor: Any, cid: float | None, names: str) -> str:
        return h.assign_annotators(ctx, actor, campaign_id=_id(cid, "campaign"), usernames=names.split(","))

    def _train(actor: Any, kind: str, config: str) -> str:
        try:
            values = json.loads(config or "{}")
        except json.JSONDecodeError as exc:
            raise BadInputError(f"job settings are not valid JSON: {exc.msg} (line {exc.lineno})") from exc
        if not isinstance(values, dict):
            raise BadInputError("job settings must be a JSON object")
        return f"Queued {kind} job {h.start_training(ctx, actor, kind=kind, values=values)}."

    def _cancel(actor: Any, job: float | None) -> str:
        return h.cancel_training(ctx, actor, job_id=_id(job, "job"))

    def _promote(actor: Any, version: float | None) -> str:
        return h.promote_model(ctx, actor, version_id=_id(version, "model version"))

    def _rollback(actor: Any) -> str:
        return h.rollback_model(ctx, actor)

    def _add_eval_set(actor: Any, name: str, path: str | None, campaign: str, limit: float | None) -> str:
        return h.add_eval_set(ctx, actor, name=name, path=path, campaign=campaign or "", limit=limit)

    def _refresh(actor: Any) -> str:
        return ""

    outs = [status, *tables]
    wire = [
        (add_user, _add_user, [username, password, role, active]),
        (change_user, _change_user, [username, password, role, active]),
        (c_create, _create, [c_name, c_overlap, c_guidelines]),
        (c_save, _save, [c_id, c_guidelines, c_overlap, c_status]),
        (c_upload, _upload, [c_id, c_file, c_fmt]),
        (c_assign, _assign, [c_id, c_annotators]),
        (t_start, _train, [t_kind, t_config]),
        (t_cancel, _cancel, [t_job]),
        (m_promote, _promote, [m_id]),
        (m_rollback, _rollback, []),
        (e_add, _add_eval_set, [e_name, e_file, e_campaign, e_limit]),
        (refresh, _refresh, []),
    ]
    for button, fn, inputs in wire:
        button.click(action(fn), inputs, outs, api_visibility="private")

    @shows_errors
    def on_load(request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if not actor.can(Action.MANAGE_USERS):
            return [gr.update() for _ in tables]
        return _tables(actor)

    return [(on_load, tables)]
