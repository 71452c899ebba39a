"""The Admin tab's Webhooks section: register a URL for events, see subscriptions and deliveries, replay one."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from core.errors import BadInputError, CriticError
from webapp.context import AppContext
from webapp.handlers import webhooks as h
from webapp.render import message_html
from webapp.ui import current_actor, one_line, selected_id, shows_errors

log = logging.getLogger(__name__)

SUBSCRIPTION_COLUMNS = ["id", "url", "events", "active", "description", "created_at"]
DELIVERY_COLUMNS = ["id", "event", "url", "status", "attempts", "response", "last_error", "last_attempt", "message_id"]


def _rows(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[r.get(c) for c in columns] for r in rows]


def build(ctx: AppContext) -> tuple[Any, list[Any]]:
    """The section's components; returns its loader and the outputs it fills (the Admin tab loads it with the page)."""
    status = gr.HTML(elem_id="webhooks-status")
    gr.Markdown(
        "Deliveries are signed per the [Standard Webhooks](https://www.standardwebhooks.com/) spec, sent in the "
        "background and retried with growing waits; see docs/webapp.md."
    )
    with gr.Row():
        url = gr.Textbox(label="Receiver URL (http:// or https://)", elem_id="webhooks-url", scale=2)
        description = gr.Textbox(label="Description (optional)", elem_id="webhooks-description")
    events = gr.CheckboxGroup(h.event_choices(), label="Events", elem_id="webhooks-events")
    add = gr.Button("Register webhook", variant="primary", elem_id="webhooks-add")
    subscriptions = gr.Dataframe(
        headers=SUBSCRIPTION_COLUMNS, interactive=False, wrap=True, label="Webhooks", elem_id="webhooks-subscriptions"
    )
    deliveries = gr.Dataframe(
        headers=DELIVERY_COLUMNS,
        interactive=False,
        wrap=True,
        label="Recent deliveries (click a row to pick it)",
        elem_id="webhooks-deliveries",
    )
    with gr.Row():
        delivery = gr.Number(value=None, label="Delivery id", precision=0, elem_id="webhooks-delivery")
        replay = gr.Button("Replay delivery", elem_id="webhooks-replay")
        refresh = gr.Button("↻ Refresh", elem_id="webhooks-refresh")
    outs = [subscriptions, deliveries]

    def _tables(request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        return [
            _rows(h.subscriptions_table(ctx, actor), SUBSCRIPTION_COLUMNS),
            _rows(h.deliveries_table(ctx, actor), DELIVERY_COLUMNS),
        ]

    def _run(work: Any) -> list[Any]:
        try:
            message = work()
        except CriticError as exc:
            log.info("webhook action refused: %s", one_line(exc))
            return [message_html(str(exc), kind="error"), gr.update(), gr.update()]
        return [message_html(message, kind="ok")]

    @shows_errors
    def on_add(target: str, picked: list[str] | None, note: str, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        shown = _run(lambda: h.add_webhook(ctx, actor, url=target, events=picked or [], description=note))
        return shown if len(shown) > 1 else [*shown, *_tables(request)]

    @shows_errors
    def on_replay(delivery_id: float | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)

        def work() -> str:
            if delivery_id in (None, ""):
                raise BadInputError("pick a delivery first (click its row)")
            return h.replay(ctx, actor, delivery_id=int(delivery_id))

        shown = _run(work)
        return shown if len(shown) > 1 else [*shown, *_tables(request)]

    @shows_errors
    def on_refresh(request: gr.Request) -> list[Any]:
        return _tables(request)

    def on_load(request: gr.Request) -> list[Any]:
        try:
            return _tables(request)
        except CriticError:  # not an admin: the section stays empty
            return [gr.update(), gr.update()]

    add.click(on_add, [url, events, description], [status, *outs], api_visibility="private")
    replay.click(on_replay, [delivery], [status, *outs], api_visibility="private")
    refresh.click(on_refresh, [], outs, api_visibility="private")

    def on_delivery_row(evt: gr.SelectData, data: Any) -> Any:
        return selected_id(evt, data)

    deliveries.select(on_delivery_row, [deliveries], delivery, api_visibility="private")
    return on_load, outs
