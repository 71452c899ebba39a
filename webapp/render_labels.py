"""Step cards for labelling and the side-by-side view of two versions of one item's labels (Annotate, Review)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from core.types import CritiqueResult
from webapp.render import Fragment

RATING_LABELS = {1: "+1 good", 0: "0 neutral", -1: "−1 wrong"}


def annotation_html(
    problem: str,
    steps: Sequence[str],
    *,
    critique: CritiqueResult | None,
    ratings: Sequence[int | None],
    flagged: Sequence[int] = (),
    current: int | None = None,
    first_error: int | None = None,
    rater: str = "you",
    step_comments: Mapping[str, str] | None = None,
) -> str:
    """Step cards for labelling: the critic's verdict and critique, the person's rating, flags, the current step,
    and the person's comment on a step ({"3": "text"}) under it."""
    frag = Fragment()
    critic_steps = {s.index: s for s in critique.steps} if critique else {}
    cards = []
    for index, text in enumerate(steps, start=1):
        suggestion = critic_steps.get(index)
        rating = ratings[index - 1] if index - 1 < len(ratings) else None
        classes = ["step-card", f"verdict-{suggestion.verdict}" if suggestion else "verdict-unchecked"]
        if index == current:
            classes.append("current-step")
        if first_error is not None and index == first_error:
            classes.append("first-error")
        badges = []
        if suggestion is not None:
            badges.append(f'<span class="badge badge-{suggestion.verdict}">critic: {suggestion.verdict}</span>')
        if rating is not None:
            label = f"{html.escape(rater)}: {RATING_LABELS[rating]}"
            badges.append(f'<span class="badge badge-rating-{rating}">{label}</span>')
        if index in flagged:
            badges.append('<span class="badge badge-flag">⚑ flagged</span>')
        if first_error is not None and index == first_error:
            badges.append('<span class="badge badge-first-error">first wrong step</span>')
        parts = [
            f'<div class="{" ".join(classes)}" id="ann-step-{index}">',
            f'<div class="step-head"><span class="step-num">Step {index}</span> {" ".join(badges)}</div>',
            f'<div class="step-text">{frag.text(text)}</div>',
        ]
        if suggestion is not None and suggestion.critique:
            parts.append(f'<div class="step-critique"><b>Critic.</b> {frag.text(suggestion.critique)}</div>')
        if suggestion is not None and suggestion.meta_critique:
            parts.append(
                '<details class="step-meta"><summary>Meta-critique</summary>'
                f'<div class="step-meta-text">{frag.text(suggestion.meta_critique)}</div></details>'
            )
        note = (step_comments or {}).get(str(index))
        if note:
            parts.append(
                f'<div class="step-comment"><b>Step comment ({html.escape(rater)}):</b> {frag.text(note)}</div>'
            )
        parts.append("</div>")
        cards.append("".join(parts))
    markup = (
        f'<div class="critic-result"><div class="critic-problem"><b>Problem.</b> {frag.text(problem)}</div>'
        f"{''.join(cards)}</div>"
    )
    return frag.finish(markup)


def _rating_text(rating: int | None) -> str:
    return "unrated" if rating is None else RATING_LABELS.get(rating, str(rating))


def _first_error_text(step: int | None) -> str:
    return "not given" if step is None else "none (all correct)" if step == -1 else f"step {step}"


DIFF_FIELDS = (("finish_reason", "Finish reason"), ("comment", "Comment"), ("status", "Status"))


def ratings_diff_html(steps: Sequence[str], versions: Sequence[tuple[str, dict]]) -> str:
    """Versions of one item's labels (annotators, or yours and the stored one) side by side, step by step.

    Each version is (column label, annotation fields: ratings, first_error_step, finish_reason, comment, status);
    rows where the versions disagree are marked "differs" (highlighted, and said in words for screen readers).
    """
    frag = Fragment()
    head = "".join(f"<th>{frag.text(label)}</th>" for label, _ in versions)
    rows = [f"<tr><th>Step</th>{head}</tr>"]

    def row(label: str, cells: list[str], key: str) -> None:
        differs = len(set(cells)) > 1
        mark = ' <span class="badge badge-differs">differs</span>' if differs else ""
        body = "".join(f"<td>{frag.text(c)}</td>" for c in cells)
        rows.append(f'<tr class="{"differs" if differs else "same"}" id="diff-{key}"><td>{label}{mark}</td>{body}</tr>')

    for index, text in enumerate(steps, start=1):
        cells = []
        for _, fields in versions:
            ratings = list(fields.get("ratings") or [])
            cells.append(_rating_text(ratings[index - 1] if index - 1 < len(ratings) else None))
        row(f"Step {index}: {frag.text(text[:120])}", cells, f"step-{index}")
    row("First wrong step", [_first_error_text(f.get("first_error_step")) for _, f in versions], "first-error")
    for key, label in DIFF_FIELDS:
        row(label, [str(f.get(key) or "") for _, f in versions], key.replace("_", "-"))
    return frag.finish(f'<table class="conflict-diff">{"".join(rows)}</table>')


def conflict_html(steps: Sequence[str], mine: dict, theirs: dict) -> str:
    """Your unsaved labels and the stored ones of the same annotation, step by step."""
    return ratings_diff_html(steps, [("Yours (not saved)", mine), ("Stored", theirs)])
