"""The Review tab's filter bar and saved-view picker: controls, and the filter they describe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from db.review_filters import ReviewFilter

ANY_STATUS = "any (not drafts)"
STATUSES = ["submitted", "approved", "rejected", ANY_STATUS]
ALL_CAMPAIGNS = 0
ANYONE = "(anyone)"


@dataclass
class FilterBar:
    """The filter controls, in the order `spec_from` and `controls_for` take and give their values."""

    campaign: gr.Dropdown
    status: gr.Dropdown
    annotator: gr.Dropdown
    critic_disagrees: gr.Checkbox
    annotators_disagree: gr.Checkbox
    gold_only: gr.Checkbox
    since: gr.Textbox
    until: gr.Textbox
    text: gr.Textbox

    @property
    def controls(self) -> list[Any]:
        return [
            self.campaign,
            self.status,
            self.annotator,
            self.critic_disagrees,
            self.annotators_disagree,
            self.gold_only,
            self.since,
            self.until,
            self.text,
        ]


def build_filter_bar() -> FilterBar:
    with gr.Row():
        campaign = gr.Dropdown(
            [("All campaigns", ALL_CAMPAIGNS)], value=ALL_CAMPAIGNS, label="Campaign", elem_id="rev-f-campaign"
        )
        status = gr.Dropdown(STATUSES, value="submitted", label="Status", elem_id="rev-f-status")
        annotator = gr.Dropdown([ANYONE], value=ANYONE, label="Annotator", elem_id="rev-f-annotator")
        text = gr.Textbox(label="Search the problem", placeholder="words in the problem", elem_id="rev-f-text")
    with gr.Row():
        critic = gr.Checkbox(label="Critic and human disagree", elem_id="rev-f-critic")
        annotators = gr.Checkbox(label="Annotators disagree", elem_id="rev-f-annotators")
        gold = gr.Checkbox(label="Gold items only", elem_id="rev-f-gold")
        since = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="rev-f-since", max_lines=1)
        until = gr.Textbox(label="To (YYYY-MM-DD)", elem_id="rev-f-until", max_lines=1)
    return FilterBar(campaign, status, annotator, critic, annotators, gold, since, until, text)


def spec_from(
    campaign: int | None,
    status: str | None,
    annotator: str | None,
    critic_disagrees: bool,
    annotators_disagree: bool,
    gold_only: bool,
    since: str | None,
    until: str | None,
    text: str | None,
) -> ReviewFilter:
    """The filter the controls show (raises BadInputError for a date that is not one)."""
    return ReviewFilter(
        campaign_id=int(campaign) if campaign else None,
        status=None if status in (None, "", ANY_STATUS) else status,
        annotator=None if annotator in (None, "", ANYONE) else annotator,
        critic_disagrees=bool(critic_disagrees),
        annotators_disagree=bool(annotators_disagree),
        gold_only=bool(gold_only),
        since=(since or "").strip() or None,
        until=(until or "").strip() or None,
        text=text or "",
    )


def controls_for(spec: ReviewFilter) -> list[Any]:
    """The control values that show `spec` (a saved view re-applied)."""
    return [
        spec.campaign_id or ALL_CAMPAIGNS,
        spec.status or ANY_STATUS,
        spec.annotator or ANYONE,
        spec.critic_disagrees,
        spec.annotators_disagree,
        spec.gold_only,
        spec.since or "",
        spec.until or "",
        spec.text,
    ]


def picker_updates(campaigns: list[tuple[str, int]], annotators: list[str]) -> list[Any]:
    """New choices for the campaign and annotator pickers, keeping what is picked."""
    return [
        gr.update(choices=[("All campaigns", ALL_CAMPAIGNS), *campaigns]),
        gr.update(choices=[ANYONE, *annotators]),
    ]
