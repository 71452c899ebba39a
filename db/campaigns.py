"""Campaigns: create and edit, and progress (annotations per status, items fully covered)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import BadInputError, ConflictError, NotFoundError
from db.models import CAMPAIGN_STATUSES, Annotation, Campaign, CampaignItem
from db.session import begin_write, commit_unique
from db.webhooks import record_event

ITEM_ORDERS = ("progress", "uncertainty")


def _check(overlap: int, status: str, item_order: str = "progress") -> None:
    if item_order not in ITEM_ORDERS:
        raise BadInputError(
            f"item order {item_order!r} is not one of {', '.join(ITEM_ORDERS)} (uncertainty: the items the critic is "
            "least sure of come first)"
        )
    if overlap < 1:
        raise BadInputError(f"overlap must be at least 1 annotator per item, got {overlap}")
    if status not in CAMPAIGN_STATUSES:
        raise BadInputError(f"campaign status {status!r} is not one of {', '.join(CAMPAIGN_STATUSES)}")


def create_campaign(
    session: Session,
    *,
    name: str,
    description: str = "",
    guidelines: str = "",
    overlap: int = 1,
    status: str = "active",
    created_by_id: int | None = None,
    item_order: str = "progress",
    needs_review: bool = True,
) -> Campaign:
    """A new campaign; `needs_review` False: its submitted labels train without a reviewer's approval."""
    name = name.strip()
    if not name:
        raise BadInputError("campaign name must not be empty")
    _check(overlap, status, item_order)
    begin_write(session)
    campaign = Campaign(
        name=name,
        description=description,
        guidelines=guidelines,
        overlap=overlap,
        status=status,
        created_by_id=created_by_id,
        item_order=item_order,
        needs_review=needs_review,
    )
    session.add(campaign)
    commit_unique(session, f"a campaign named {name!r} already exists")
    return campaign


def get_campaign(session: Session, *, name: str | None = None, campaign_id: int | None = None) -> Campaign:
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
    else:
        campaign = session.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is None:
        raise NotFoundError(f"no campaign {name if name is not None else campaign_id!r}")
    return campaign


def get_or_create_campaign(session: Session, *, name: str, created_by_id: int | None = None) -> Campaign:
    try:
        return get_campaign(session, name=name)
    except NotFoundError:
        pass
    try:
        return create_campaign(session, name=name, created_by_id=created_by_id)
    except ConflictError:  # created concurrently
        return get_campaign(session, name=name)


def list_campaigns(session: Session, *, status: str | None = None) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.id)
    if status is not None:
        query = query.where(Campaign.status == status)
    return list(session.scalars(query))


def update_campaign(
    session: Session,
    *,
    campaign_id: int,
    description: str | None = None,
    guidelines: str | None = None,
    overlap: int | None = None,
    status: str | None = None,
    item_order: str | None = None,
    needs_review: bool | None = None,
) -> Campaign:
    begin_write(session)
    campaign = get_campaign(session, campaign_id=campaign_id)
    _check(overlap if overlap is not None else campaign.overlap, status or campaign.status, item_order or "progress")
    if description is not None:
        campaign.description = description
    if guidelines is not None:
        campaign.guidelines = guidelines
    if overlap is not None:
        campaign.overlap = overlap
    if status == "closed" and campaign.status != "closed":
        record_event(session.connection(), "campaign.finished", {"campaign_id": campaign.id, "name": campaign.name})
    if status is not None:
        campaign.status = status
    if item_order is not None:
        campaign.item_order = item_order
    if needs_review is not None:
        campaign.needs_review = needs_review
    session.commit()
    return campaign


@dataclass(frozen=True)
class CampaignProgress:
    items: int
    annotations_by_status: dict[str, int]
    items_fully_covered: int
    """Items with at least `overlap` submitted or approved annotations."""


def campaign_progress(session: Session, *, campaign_id: int) -> CampaignProgress:
    campaign = get_campaign(session, campaign_id=campaign_id)
    items = session.scalar(select(func.count()).where(CampaignItem.campaign_id == campaign_id)) or 0
    by_status = dict(
        session.execute(
            select(Annotation.status, func.count())
            .where(Annotation.campaign_id == campaign_id)
            .group_by(Annotation.status)
        ).all()
    )
    per_item = (
        select(Annotation.item_id)
        .where(Annotation.campaign_id == campaign_id, Annotation.status.in_(("submitted", "approved")))
        .group_by(Annotation.item_id)
        .having(func.count(func.distinct(Annotation.annotator_id)) >= campaign.overlap)
        .subquery()
    )
    covered = session.scalar(select(func.count()).select_from(per_item)) or 0
    return CampaignProgress(items=int(items), annotations_by_status=by_status, items_fully_covered=int(covered))
