"""Dashboard handler: the numbers (db aggregations + core agreement statistics) and their plotly figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go

from core.agreement import (
    CriticAgreement,
    cohen_kappa_pairwise,
    critic_agreement,
    fleiss_kappa_first_error,
    krippendorff_alpha_ratings,
)
from db import queries_dashboard as q
from db.campaigns import list_campaigns
from db.classes import is_class
from db.session import session_scope
from webapp.context import AppContext
from webapp.permissions import Action, Actor, require
from webapp.render import md_escape


@dataclass
class Dashboard:
    """Everything the dashboard tab shows."""

    summary: dict[str, Any]
    figures: dict[str, go.Figure] = field(default_factory=dict)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _bar(x: list[Any], y: list[Any], title: str, x_title: str, y_title: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=x, y=y))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=320, margin={"t": 50, "b": 40})
    return fig


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        height=320,
        annotations=[{"text": "no data yet", "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
    )
    return fig


REFINE_SERIES = (
    ("with_critique.w_to_c_rate", "w->c with critique"),
    ("without_critique.w_to_c_rate", "w->c without critique"),
    ("with_critique.c_to_w_rate", "c->w with critique"),
    ("without_critique.c_to_w_rate", "c->w without critique"),
)


def _refine_figure(runs: list[dict[str, Any]]) -> go.Figure:
    """Grouped bars per refine run: wrong->correct and correct->wrong rates, with and without the critique."""
    title = "Refinement: w->c and c->w rates per run"
    if not runs:
        return _empty(title)
    names = [r["run"] for r in runs]
    fig = go.Figure([go.Bar(x=names, y=[r[key] for r in runs], name=label) for key, label in REFINE_SERIES])
    fig.update_layout(title=title, barmode="group", yaxis_title="rate", yaxis_range=[0, 1], height=320)
    fig.update_xaxes(type="category")
    return fig


def _critic_vs_human_figure(critic: dict[str, CriticAgreement]) -> go.Figure:
    """One bar per critic model, labelled with how many of its outputs were unreadable (counted as disagreements)."""
    title = "Critic vs human first-error agreement (unreadable = disagreement)"
    rated = {m: a for m, a in critic.items() if a.rate is not None}
    if not rated:
        return _empty(title)
    fig = _bar(list(rated), [a.rate for a in rated.values()], title, "model", "agreement")
    fig.update_traces(text=[f"{a.unreadable} of {a.compared} unreadable" for a in rated.values()], textposition="auto")
    fig.update_yaxes(range=[0, 1])
    return fig


def _count_figures(counts: dict[str, Any]) -> dict[str, go.Figure]:
    """Annotations per day and per annotator, the step rating distribution and the time per item."""
    figs: dict[str, go.Figure] = {}
    if counts["per_day"]:
        days, n = zip(*counts["per_day"], strict=True)
        figs["per_day"] = _bar([str(d) for d in days], list(n), "Annotations per day", "day", "annotations")
        figs["per_day"].update_xaxes(type="category")
    else:
        figs["per_day"] = _empty("Annotations per day")
    if counts["per_annotator"]:
        names, n = zip(*counts["per_annotator"], strict=True)
        figs["per_annotator"] = _bar(list(names), list(n), "Annotations per annotator", "annotator", "annotations")
    else:
        figs["per_annotator"] = _empty("Annotations per annotator")
    labels = counts["ratings"]
    order = [k for k in ("+1", "0", "-1", "unrated") if k in labels]
    figs["labels"] = (
        _bar(order, [labels[k] for k in order], "Step rating distribution", "rating", "steps")
        if labels
        else _empty("Step rating distribution")
    )
    figs["time"] = _time_figure(counts["seconds_per_item"])
    return figs


def _traces_figure(traces: list[Any], title: str, **axes: str) -> go.Figure:
    """A figure of the traces, or an empty one saying there is no data yet."""
    if not traces:
        return _empty(title)
    fig = go.Figure(traces)
    fig.update_layout(title=title, height=320, **axes)
    return fig


def _time_figure(times: dict[str, list[float]]) -> go.Figure:
    boxes = [go.Box(y=v, name=name, boxpoints="all") for name, v in sorted(times.items())]
    return _traces_figure(boxes, "Time per item (s)", yaxis_title="seconds")


def _eval_f1_figure(evals: list[dict[str, Any]]) -> go.Figure:
    lines = []
    for model in dict.fromkeys(e["model"] for e in evals):
        points = [e for e in evals if e["model"] == model]
        lines.append(
            go.Scatter(x=[p["when"] for p in points], y=[p["f1"] for p in points], name=model, mode="lines+markers")
        )
    return _traces_figure(lines, "Evaluation F1 over time", yaxis_title="F1")


def _loss_figure(losses: dict[str, list[tuple[int, float]]]) -> go.Figure:
    lines = [
        go.Scatter(x=[s for s, _ in pts], y=[v for _, v in pts], name=job, mode="lines") for job, pts in losses.items()
    ]
    return _traces_figure(lines, "Training loss", xaxis_title="step", yaxis_title="loss")


ALL_CAMPAIGNS = 0
"""The picker's value for every campaign together (campaign ids start at 1)."""


def campaign_choices(ctx: AppContext, actor: Actor | None) -> list[tuple[str, int]]:
    """The dashboard's campaign picker: "All campaigns" first, then each labelling campaign (no teachers' classes)."""
    require(actor, Action.VIEW_DASHBOARD)
    with session_scope(ctx.database_url) as session:
        campaigns = [(f"{c.name} (#{c.id})", c.id) for c in list_campaigns(session) if not is_class(c)]
    return [("All campaigns", ALL_CAMPAIGNS), *campaigns]


def build_dashboard(ctx: AppContext, actor: Actor | None, *, campaign_id: int | None = None) -> Dashboard:
    require(actor, Action.VIEW_DASHBOARD)
    with session_scope(ctx.database_url) as session:
        counts = q.annotation_counts(session, campaign_id=campaign_id)
        corrections = q.teacher_corrections(session) if campaign_id is None else None
        agree = q.agreement_inputs(session, campaign_id=campaign_id)
        versus = q.critic_vs_human(session, campaign_id=campaign_id)
        gold = q.gold_accuracy(session, campaign_id=campaign_id)
        evals = q.eval_history(session)
        losses = q.loss_curves(session)
        refines = q.refine_history(session)
    cohen = cohen_kappa_pairwise(agree["first_error"])
    fleiss = fleiss_kappa_first_error(agree["per_item"])
    alpha = krippendorff_alpha_ratings(agree["step_ratings"])
    critic = {model: critic_agreement(pairs) for model, pairs in versus.items()}
    summary = {
        "annotations": counts["total"],
        "teacher_corrections": corrections,
        "cohen_kappa_first_error": cohen,
        "fleiss_kappa_first_error": fleiss,
        "krippendorff_alpha_ratings": alpha,
        "critic_vs_human": {m: a.rate for m, a in critic.items()},
        # Unreadable critic outputs count as disagreements; how many there were is shown next to each rate.
        "critic_vs_human_unreadable": {
            m: {"unreadable": a.unreadable, "compared": a.compared} for m, a in critic.items()
        },
        "gold_accuracy": {n: (c / t if t else None) for n, (c, t) in gold.items()},
    }
    figs = {
        **_count_figures(counts),
        "critic_vs_human": _critic_vs_human_figure(critic),
        "eval_f1": _eval_f1_figure(evals),
        "refine": _refine_figure(refines),
        "loss": _loss_figure(losses),
    }
    return Dashboard(summary=summary, figures=figs)


def summary_markdown(board: Dashboard) -> str:
    s = board.summary
    lines = [
        f"**Finished annotations:** <span id='dash-total'>{s['annotations']}</span>"
        + (
            ""
            if s["teacher_corrections"] is None
            else f" · **Teachers' corrections** (not counted as annotations): {s['teacher_corrections']}"
        ),
        f"**Cohen's kappa** (first-error step, mean over annotator pairs): {_fmt(s['cohen_kappa_first_error'])} · "
        f"**Fleiss' kappa** (first-error step): {_fmt(s['fleiss_kappa_first_error'])} · "
        f"**Krippendorff's alpha** (step ratings, ordinal): {_fmt(s['krippendorff_alpha_ratings'])}",
    ]
    if s["critic_vs_human"]:
        lines.append(
            "**Critic vs human** (first-error step; an unreadable critic output counts as a disagreement): "
            + ", ".join(
                f"{md_escape(name)}: {_fmt(rate)} ({s['critic_vs_human_unreadable'][name]['unreadable']} of "
                f"{s['critic_vs_human_unreadable'][name]['compared']} unreadable)"
                for name, rate in sorted(s["critic_vs_human"].items())
            )
        )
    if s["gold_accuracy"]:
        lines.append(
            "**Gold accuracy:** "
            + ", ".join(f"{md_escape(name)}: {_fmt(acc)}" for name, acc in sorted(s["gold_accuracy"].items()))
        )
    return "\n\n".join(lines)
