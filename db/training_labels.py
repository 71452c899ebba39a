"""Which human labels train the critic: the job's statuses, review steps, class corrections kept apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.classes import is_class
from db.models import Annotation, Campaign, Item

LabelSource = Literal["campaign", "import", "critique_tab", "class"]
_STATUS_RANK = {"approved": 2, "submitted": 1}


@dataclass(frozen=True)
class TrainingLabel:
    """A label chosen to train on: the annotation, its item, and where it comes from."""

    annotation: Annotation
    item: Item
    source: LabelSource


@dataclass
class TrainingLabels:
    """The labels that train (one per solution) and how many of each source were chosen or left out."""

    labels: list[TrainingLabel]
    chosen: dict[str, int]
    awaiting_review: int  # submitted labels left out because a reviewer has not approved them yet
    class_left_out: int  # teachers' corrections left out (use_class_labels off, or a campaign label wins)


def label_source(annotation: Annotation, campaign: Campaign | None) -> LabelSource:
    """Where a label comes from: a teacher's class, an imported dataset, a campaign, or the Critique tab."""
    if campaign is not None and is_class(campaign):
        return "class"
    if annotation.import_key is not None:
        return "import"
    return "campaign" if campaign is not None else "critique_tab"


def _review_due(source: LabelSource, campaign: Campaign | None) -> bool:
    # Imports are an admin's deliberate act; classes have no reviewer (they train only with use_class_labels).
    return source == "critique_tab" or (source == "campaign" and campaign is not None and campaign.needs_review)


def training_labels(
    session: Session, *, statuses: Sequence[str] = ("approved", "submitted"), use_class_labels: bool = False
) -> TrainingLabels:
    """One label per annotated solution, by the job's rules; rejected labels and drafts never train.

    An approved label trains when `statuses` has "approved". A submitted one trains when `statuses` has "submitted"
    and no review is due for it: a label of a campaign without a review step, or an imported one (a submitted label
    of a campaign with a review step, and a Critique-tab label, wait for a reviewer). Teachers' class corrections
    train only with `use_class_labels`, and are kept apart from campaign labels: a class shares its item rows with
    campaigns (same content, same row), so a class correction is used only for a solution no other label covers,
    never over one. Among the rest, approved beats submitted, then the newest wins.
    """
    wanted = {status for status in statuses if status in _STATUS_RANK}
    rows = session.execute(
        select(Annotation, Item, Campaign)
        .join(Item, Item.id == Annotation.item_id)
        .outerjoin(Campaign, Campaign.id == Annotation.campaign_id)
        .where(Annotation.status.in_(list(_STATUS_RANK)), Annotation.first_error_step.is_not(None))
        # Code items are critiqued from their tests, not step by step: they train through GRPO's revision reward.
        .where(Item.language.is_(None))
        .order_by(Annotation.id)
    ).all()
    best: dict[int, tuple[tuple[int, int, Any, int], TrainingLabel]] = {}
    awaiting = class_labels = 0
    for annotation, item, campaign in rows:
        source = label_source(annotation, campaign)
        if annotation.status not in wanted:
            continue
        class_labels += source == "class"
        if annotation.status == "submitted" and _review_due(source, campaign):
            awaiting += 1
            continue
        if source == "class" and not use_class_labels:
            continue
        rank = (
            0 if source == "class" else 1,  # any other label of the same solution beats a class correction
            _STATUS_RANK[annotation.status],
            annotation.updated_at or annotation.created_at,
            annotation.id,
        )
        current = best.get(item.id)
        if current is None or rank > current[0]:
            best[item.id] = (rank, TrainingLabel(annotation, item, source))
    labels = [label for _, label in best.values()]
    chosen = {source: sum(1 for label in labels if label.source == source) for source in get_args(LabelSource)}
    return TrainingLabels(
        labels=labels, chosen=chosen, awaiting_review=awaiting, class_left_out=class_labels - chosen["class"]
    )
