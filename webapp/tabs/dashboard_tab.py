"""The Dashboard tab: annotation throughput, labels, agreement, critic vs human, eval F1, training loss (plotly)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webapp.context import AppContext
from webapp.handlers.dashboard import ALL_CAMPAIGNS, build_dashboard, campaign_choices, summary_markdown
from webapp.permissions import Action
from webapp.ui import current_actor, shows_errors

FIGURES = ["per_day", "per_annotator", "labels", "time", "critic_vs_human", "eval_f1", "refine", "loss"]


def build(ctx: AppContext) -> list[tuple[Any, list[Any]]]:
    with gr.Row():
        campaign = gr.Dropdown(
            [("All campaigns", ALL_CAMPAIGNS)], value=ALL_CAMPAIGNS, label="Campaign", elem_id="dash-campaign"
        )
        refresh = gr.Button("↻ Refresh", elem_id="dash-refresh", scale=0)
    summary = gr.Markdown(elem_id="dash-summary")
    plots: list[gr.Plot] = []
    for row in range(0, len(FIGURES), 2):
        with gr.Row():
            for name in FIGURES[row : row + 2]:
                plots.append(gr.Plot(label=name.replace("_", " "), elem_id=f"dash-{name}"))

    @shows_errors
    def on_refresh(campaign_id: int | None, request: gr.Request) -> list[Any]:
        actor = current_actor(ctx, request)
        if not actor.can(Action.VIEW_DASHBOARD):
            return [gr.update() for _ in range(len(FIGURES) + 2)]
        picked = None if campaign_id in (None, "", ALL_CAMPAIGNS) else int(campaign_id)
        board = build_dashboard(ctx, actor, campaign_id=picked)
        choices = gr.update(choices=campaign_choices(ctx, actor))
        return [choices, summary_markdown(board), *[board.figures[name] for name in FIGURES]]

    outputs = [campaign, summary, *plots]
    refresh.click(on_refresh, [campaign], outputs, api_visibility="private")
    campaign.input(on_refresh, [campaign], outputs, api_visibility="private")

    def load(request: gr.Request) -> list[Any]:
        return on_refresh(ALL_CAMPAIGNS, request)

    return [(load, outputs)]
