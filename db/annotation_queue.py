"""The annotation queue of a campaign: who is assigned to it, and which item an annotator should label next."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.errors import BadInputError, NotFoundError, PermissionDeniedError
from db.classes import is_class, may_see_class
from db.models import Annotation, Campaign, CampaignAssignment, CampaignItem, CritiqueRun, User
from db.session import begin_write


def next_item_id(session: Session, *, campaign_id: int, annotator_id: int, exclude: Sequence[int] = ()) -> int | None:
    """The next item for this annotator, or None when the campaign has nothing left for them.

    Their own unfinished draft comes first (resume). Otherwise an item they have not annotated whose number
    of distinct annotators is still below the campaign's overlap: with the "uncertainty" order the one whose latest
    critique the critic was least sure of (active learning; items never critiqued come last), else the one closest
    to complete so finished items accumulate. `exclude` holds items skipped in this session.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"no campaign with id {campaign_id}")
    if not may_annotate(session, campaign_id=campaign_id, user_id=annotator_id):
        raise PermissionDeniedError(f"you are not assigned to campaign {campaign.name!r}")
    excluded = set(exclude)
    draft = session.scalars(
        select(Annotation.item_id)
        .where(
            Annotation.campaign_id == campaign_id,
            Annotation.annotator_id == annotator_id,
            Annotation.status == "draft",
        )
        .order_by(Annotation.updated_at)
    ).all()
    for item_id in draft:
        if item_id not in excluded:
            return item_id
    counts = (
        select(Annotation.item_id, func.count(func.distinct(Annotation.annotator_id)).label("n"))
        .where(Annotation.campaign_id == campaign_id)
        .group_by(Annotation.item_id)
        .subquery()
    )
    mine = select(Annotation.item_id).where(
        Annotation.campaign_id == campaign_id, Annotation.annotator_id == annotator_id
    )
    n = func.coalesce(counts.c.n, 0)
    query = (
        select(CampaignItem.item_id)
        .outerjoin(counts, counts.c.item_id == CampaignItem.item_id)
        .where(CampaignItem.campaign_id == campaign_id, CampaignItem.item_id.not_in(mine), n < campaign.overlap)
    )
    if campaign.item_order == "uncertainty":
        latest = (
            select(CritiqueRun.item_id, func.max(CritiqueRun.id).label("run_id"))
            .group_by(CritiqueRun.item_id)
            .subquery()
        )
        query = (
            query.outerjoin(latest, latest.c.item_id == CampaignItem.item_id)
            .outerjoin(CritiqueRun, CritiqueRun.id == latest.c.run_id)
            .order_by(CritiqueRun.confidence.is_(None), CritiqueRun.confidence, n.desc(), CampaignItem.item_id)
        )
    else:
        query = query.order_by(n.desc(), CampaignItem.item_id)
    if excluded:
        query = query.where(CampaignItem.item_id.not_in(excluded))
    return session.scalars(query.limit(1)).first()


def assigned_user_ids(session: Session, *, campaign_id: int) -> list[int]:
    """Users assigned to the campaign (empty: open to every annotator)."""
    query = select(CampaignAssignment.user_id).where(CampaignAssignment.campaign_id == campaign_id)
    return list(session.scalars(query.order_by(CampaignAssignment.user_id)))


def may_annotate(session: Session, *, campaign_id: int, user_id: int) -> bool:
    assigned = assigned_user_ids(session, campaign_id=campaign_id)
    return not assigned or user_id in assigned


def check_may_label(session: Session, *, campaign_id: int | None, item_id: int, user_id: int, role: str) -> Campaign:
    """The campaign, if this user may label this item in it; else raise saying which rule the label breaks.

    A label goes into an active annotation campaign (not a teacher's class) that holds the item, from a user
    assigned to it when it has assignments (admins may label any campaign).
    """
    if campaign_id is None:
        raise BadInputError("labels belong to a campaign: pick the campaign this item was given to you in")
    campaign = session.get(Campaign, campaign_id)
    # Another teacher's class gets the same answer as a missing id: its name and existence stay theirs.
    if campaign is None or (is_class(campaign) and not may_see_class(campaign, user_id=user_id, role=role)):
        raise NotFoundError(f"no campaign with id {campaign_id}")
    if is_class(campaign):
        raise PermissionDeniedError(f"{campaign.name!r} is a teacher's class: its owner grades it in the Teacher tab")
    if campaign.status != "active":
        raise PermissionDeniedError(f"campaign {campaign.name!r} is {campaign.status}: it takes no labels now")
    member = select(CampaignItem.item_id).where(
        CampaignItem.campaign_id == campaign_id, CampaignItem.item_id == item_id
    )
    if session.scalar(member) is None:
        raise PermissionDeniedError(f"item {item_id} is not in campaign {campaign.name!r}")
    if role != "admin" and not may_annotate(session, campaign_id=campaign_id, user_id=user_id):
        raise PermissionDeniedError(f"you are not assigned to campaign {campaign.name!r}")
    return campaign


def check_may_label_own_critique(session: Session, *, critique_run_id: int, item_id: int, user_id: int) -> CritiqueRun:
    """The critique run, if this user may label its item outside any campaign: they ran it themselves (a solution
    they pasted on the Critique tab); else raise saying why."""
    run = session.get(CritiqueRun, critique_run_id)
    if run is None:
        raise NotFoundError(f"no critique run with id {critique_run_id}")
    if run.item_id != item_id:
        raise BadInputError(f"critique run {critique_run_id} is not a critique of item {item_id}")
    if run.created_by_id != user_id:
        raise PermissionDeniedError(
            "outside a campaign you label only critiques you ran yourself; this one is someone else's"
        )
    return run


def set_assignments(session: Session, *, campaign_id: int, user_ids: Sequence[int]) -> list[int]:
    """Replace the campaign's assigned annotators in one transaction; returns the new list."""
    begin_write(session)
    if session.get(Campaign, campaign_id) is None:
        session.rollback()
        raise NotFoundError(f"no campaign with id {campaign_id}")
    wanted = sorted(set(int(u) for u in user_ids))
    missing = set(wanted) - set(session.scalars(select(User.id).where(User.id.in_(wanted))))
    if missing:
        session.rollback()
        raise BadInputError(f"no users with ids {sorted(missing)}")
    session.execute(delete(CampaignAssignment).where(CampaignAssignment.campaign_id == campaign_id))
    session.add_all(CampaignAssignment(campaign_id=campaign_id, user_id=u) for u in wanted)
    session.commit()
    return wanted
