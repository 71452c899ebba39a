"""The Gradio app: header, one tab per job (shown by role), named API endpoints, and `launch`."""

from __future__ import annotations

import logging
import os
from typing import Any

import gradio as gr

from webapp import api
from webapp.auth import make_auth
from webapp.context import AppContext
from webapp.permissions import Action
from webapp.quiet_queue import quiet_queue
from webapp.render import PAGE_CSS, md_escape
from webapp.security import SecurityMiddleware
from webapp.shortcuts import SHORTCUTS_JS
from webapp.tabs import admin_tab, annotate_tab, critique_tab, dashboard_tab, review_tab, teacher_tab
from webapp.ui import current_actor

log = logging.getLogger(__name__)
# Gradio's own setting (read when the queue is made): how many events between two recomputations of its analytics.
ANALYTICS_FREQUENCY_VARIABLE = "GRADIO_ANALYTICS_CACHE_FREQUENCY"
ANALYTICS_ENABLED_VARIABLE = "GRADIO_ANALYTICS_ENABLED"
# uvicorn's own setting (Gradio builds its server without one): whose X-Forwarded-For it believes. Its default
# trusts 127.0.0.1, so any local client could pick the address login throttling counts.
FORWARDED_ALLOW_IPS_VARIABLE = "FORWARDED_ALLOW_IPS"
LOGOUT_JS = """() => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = "logout";
  document.body.appendChild(form);
  form.submit();
}"""

# (tab label, module, action a user needs to see it); the handlers check the action again on every call.
TABS = [
    ("Critique", critique_tab, Action.CRITIQUE),
    ("Annotate", annotate_tab, Action.ANNOTATE),
    ("Review", review_tab, Action.REVIEW),
    ("Teacher", teacher_tab, Action.GRADE_CLASS),
    ("Dashboard", dashboard_tab, Action.VIEW_DASHBOARD),
    ("Admin", admin_tab, Action.MANAGE_USERS),
]


def build_app(ctx: AppContext) -> gr.Blocks:
    """The whole UI bound to `ctx`; no business logic here, only layout and wiring."""
    # Gradio's own switch, also read by its module-level reporting functions: off unless the settings say so.
    os.environ[ANALYTICS_ENABLED_VARIABLE] = str(ctx.settings.analytics)
    with gr.Blocks(title="Critic Studio", analytics_enabled=ctx.settings.analytics) as demo:
        with gr.Row():
            gr.Markdown("## Critic Studio")
            whoami = gr.Markdown(elem_id="whoami")
            logout = gr.Button("Log out", size="sm", scale=0, elem_id="logout")
        tabs: list[gr.Tab] = []
        loaders: list[tuple[Any, ...]] = []
        with gr.Tabs():
            for label, module, _action in TABS:
                # Hidden until the page load reveals what the user's role allows (showing works; hiding can lag).
                with gr.Tab(label, elem_id=f"tab-{label.lower()}", visible=label == "Critique") as tab:
                    tab_loaders = module.build(ctx) or []
                # Opening a tab fills its pickers and tables again: what other tabs or people added since shows
                # without a refresh button.
                for fn, outputs, *inputs in tab_loaders:
                    tab.select(fn, inputs[0] if inputs else None, outputs, api_visibility="private")
                loaders.extend(tab_loaders)
                tabs.append(tab)
        api.register(ctx)

        def on_load(request: gr.Request) -> list[Any]:
            try:
                actor = current_actor(ctx, request)
            except Exception:
                return ["Not logged in.", *[gr.Tab(visible=False) for _ in tabs]]
            visible = [gr.Tab(visible=actor.can(action)) for _label, _module, action in TABS]
            return [f"Logged in as **{md_escape(actor.username)}** ({actor.role})", *visible]

        # Logging out is a POST from this page (a link or an <img> on another site cannot end sessions).
        logout.click(None, js=LOGOUT_JS, api_visibility="private")
        demo.load(on_load, None, [whoami, *tabs], api_visibility="private")
        for fn, outputs, *inputs in loaders:  # fill dropdowns and tables for the user who just logged in
            demo.load(fn, inputs[0] if inputs else None, outputs, api_visibility="private")
    return demo


def launch(
    ctx: AppContext,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> gr.Blocks:
    """Start the server with database logins; generation runs one at a time, everything else concurrently."""
    demo = build_app(ctx)
    # Gradio's queue rebuilds a pandas table of up to 10,000 past events after every event, for its monitoring
    # page: a cost paid by every save that grows with the server's age. Recomputing it every 1000 events
    # removes it from the save path (bench/webapp.py measures saves per second).
    os.environ.setdefault(ANALYTICS_FREQUENCY_VARIABLE, "1000")
    demo.queue(default_concurrency_limit=16)
    quiet_queue(demo)  # an idle server barely wakes (bench/idle.py)
    os.environ[FORWARDED_ALLOW_IPS_VARIABLE] = ",".join(ctx.settings.trusted_proxy_list)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=make_auth(ctx.database_url),
        auth_message="Critic Studio: log in with your account.",
        prevent_thread_lock=True,
        quiet=quiet,
        show_error=True,
        css=PAGE_CSS,
        head=SHORTCUTS_JS,
        footer_links=["api"],
        ssr_mode=False,
        max_file_size=ctx.settings.max_upload_bytes,
    )
    guard(demo, ctx, host=host)
    if not prevent_thread_lock:
        demo.block_thread()
    return demo


def guard(demo: gr.Blocks, ctx: AppContext, *, host: str) -> None:
    """Put the security middleware in front of everything Gradio added (its CORS answers included).

    Gradio builds its app inside `launch`; the middleware stack is rebuilt here, right after the server starts
    and before anyone can have logged in (login tokens live in memory, so a fresh server has none to abuse).
    """
    from starlette.middleware import Middleware

    server = demo.server_app
    server.user_middleware.insert(
        0, Middleware(SecurityMiddleware, database_url=ctx.database_url, settings=ctx.settings, bind_host=host)
    )
    server.middleware_stack = server.build_middleware_stack()
