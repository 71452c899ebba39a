"""The Dashboard tab: annotation throughput, labels, agreement, critic vs human, eval F1, training loss (plotly)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webapp.context import AppContext
from webapp.handlers.dashboard import build_dashboard, summary_markdown
from webapp.permissions import Action
from webapp.ui import current_actor, shows_errors

FIGURES = ["per_day", "per_annotator", "labels", "time", "critic_vs_human", "eval_f1", "refine", "loss"]


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    with gr.Row():
        campaign = gr.Number(label="Campaign id (empty: all)", precision=0, elem_id="dash-campaign")
        refresh = gr.Button("↻ Refresh", elem_id="dash-refresh", scale=0)
    summary = gr.Markdown(elem_id="dash-summary")
    plots: list[gr.Plot] = []
    for row in range(0, len(FIGURES), 2):
        with gr.Row():
            for name in FIGURES[row : row + 2]:
                plots.append(gr.Plot(label=name.replace("_", " "), elem_id=f"dash-{name}"))

    @shows_errors
    def on_refresh(campaign_id: float | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if not actor.can(Action.VIEW_DASHBOARD):
            return [gr.update() for _ in range(len(FIGURES) + 1)]
        board = build_dashboard(ctx, actor, campaign_id=int(campaign_id) if campaign_id else None)
        return [summary_markdown(board), *[board.figures[name] for name in FIGURES]]

    refresh.click(on_refresh, [campaign], [summary, *plots], api_visibility="private")

    def load(request: gr.Request) -> list[Any]:
        return on_refresh(None, request)

    return [(load, [summary, *plots])]
