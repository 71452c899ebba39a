"""Teacher classes: a campaign whose items are students' solutions, one row per student submission."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BadInputError, NotFoundError
from core.types import SolutionItem
from db.campaigns import create_campaign
from db.items import content_hash, item_row, link_items
from db.models import Campaign, ClassSubmission, Item
from db.session import begin_write

CLASS_PREFIX = "class: "


def is_class(campaign: Campaign) -> bool:
    """Whether the campaign is a teacher's class (students' solutions) rather than an annotation campaign."""
    return campaign.name.startswith(CLASS_PREFIX)


def create_class(
    session: Session, *, name: str, submissions: Sequence[tuple[str, SolutionItem]], created_by_id: int | None
) -> Campaign:
    """A class campaign named `class: NAME` with one submission per (student, item), in one transaction."""
    if not submissions:
        raise BadInputError("the class file holds no solutions")
    campaign = create_campaign(
        session, name=CLASS_PREFIX + name.strip(), description="teacher class", created_by_id=created_by_id
    )
    begin_write(session)
    campaign.owner_id = created_by_id
    for position, (student, item) in enumerate(submissions, start=1):
        digest = content_hash(item.problem, item.steps)
        row = session.scalar(select(Item).where(Item.content_hash == digest))
        if row is None:
            row = item_row(item)
            session.add(row)
            session.flush()
        session.add(ClassSubmission(campaign_id=campaign.id, item_id=row.id, student=student, position=position))
        link_items(session, campaign_id=campaign.id, item_ids=[row.id])
    session.commit()
    return campaign


def class_submissions(session: Session, *, campaign_id: int) -> list[ClassSubmission]:
    query = select(ClassSubmission).where(ClassSubmission.campaign_id == campaign_id)
    return list(session.scalars(query.order_by(ClassSubmission.position, ClassSubmission.id)))


def may_see_class(campaign: Campaign, *, user_id: int, role: str) -> bool:
    """Admins see every class; anyone else only the classes they own (a class with no owner: admins only)."""
    return role == "admin" or (campaign.owner_id is not None and campaign.owner_id == user_id)


def list_classes(session: Session, *, user_id: int, role: str) -> list[Campaign]:
    """The classes this user may see, newest first."""
    query = select(Campaign).where(Campaign.name.startswith(CLASS_PREFIX)).order_by(Campaign.id.desc())
    if role != "admin":
        query = query.where(Campaign.owner_id == user_id)
    return list(session.scalars(query))


def get_class(session: Session, *, class_id: int, user_id: int, role: str) -> Campaign:
    """The class, if this user may see it; another teacher's class is 'not found', as if it did not exist."""
    campaign = session.get(Campaign, class_id)
    if campaign is None or not is_class(campaign) or not may_see_class(campaign, user_id=user_id, role=role):
        raise NotFoundError(f"no class with id {class_id} among your classes")
    return campaign
