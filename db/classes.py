"""Teacher classes: a campaign whose items are students' solutions, one row per student submission."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BadInputError
from core.types import SolutionItem
from db.campaigns import create_campaign
from db.items import content_hash, item_row, link_items
from db.models import Campaign, ClassSubmission, Item
from db.session import begin_write

CLASS_PREFIX = "class: "


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


def list_classes(session: Session) -> list[Campaign]:
    query = select(Campaign).where(Campaign.name.startswith(CLASS_PREFIX)).order_by(Campaign.id.desc())
    return list(session.scalars(query))
