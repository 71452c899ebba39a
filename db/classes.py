"""Teacher classes: a campaign whose items are students' solutions, one row per student submission."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.code.items import CodeItem
from core.errors import BadInputError, NotFoundError
from core.grading import GradingScheme
from core.types import SolutionItem
from db.campaigns import create_campaign
from db.items import item_row, link_items, problem_key
from db.models import Campaign, ClassSubmission, Item, User
from db.session import begin_write

CLASS_PREFIX = "class: "
# Submissions written per write transaction: a few milliseconds each, so a big class never blocks other saves.
CLASS_BATCH = 200


CLASS_CAMPAIGN_IDS = select(Campaign.id).where(Campaign.name.startswith(CLASS_PREFIX))
"""The ids of every teacher's class (a subquery): annotations in them are teachers' corrections, not labelling work."""


def is_class(campaign: Campaign) -> bool:
    """Whether the campaign is a teacher's class (students' solutions) rather than an annotation campaign."""
    return campaign.name.startswith(CLASS_PREFIX)


def create_class(
    session: Session,
    *,
    name: str,
    submissions: Sequence[tuple[str, SolutionItem | CodeItem]],
    created_by_id: int | None,
) -> Campaign:
    """A class campaign named `class: NAME`, owned by its creator, with one submission per (student, item).

    The submissions go in in batches of CLASS_BATCH, each its own short write transaction, so that other users'
    saves wait for one batch at most, never for the whole file; should a batch fail, the class is removed again.
    """
    if not submissions:
        raise BadInputError("the class file holds no solutions")
    campaign = create_campaign(
        session, name=CLASS_PREFIX + name.strip(), description="teacher class", created_by_id=created_by_id
    )
    try:
        begin_write(session)
        campaign.owner_id = created_by_id
        session.commit()
        for start in range(0, len(submissions), CLASS_BATCH):
            _add_submissions(session, campaign.id, submissions[start : start + CLASS_BATCH], first_position=start + 1)
    except BaseException:
        session.rollback()
        begin_write(session)
        session.execute(delete(Campaign).where(Campaign.id == campaign.id))
        session.commit()
        raise
    return campaign


def _add_submissions(
    session: Session, campaign_id: int, batch: Sequence[tuple[str, SolutionItem | CodeItem]], *, first_position: int
) -> None:
    """One write transaction: the batch's new items, its submissions and campaign links (rows built beforehand)."""
    built = [item_row(item) for _, item in batch]
    digests = [row.content_hash for row in built]
    rows = dict(zip(digests, built, strict=True))  # identical solutions share one item
    begin_write(session)
    known = dict(session.execute(select(Item.content_hash, Item.id).where(Item.content_hash.in_(rows))).all())
    new = [row for digest, row in rows.items() if digest not in known]
    session.add_all(new)
    session.flush()
    known.update({row.content_hash: row.id for row in new})
    session.add_all(
        ClassSubmission(campaign_id=campaign_id, item_id=known[digest], student=student, position=position)
        for position, (digest, (student, _)) in enumerate(zip(digests, batch, strict=True), start=first_position)
    )
    link_items(session, campaign_id=campaign_id, item_ids={known[d] for d in digests})
    session.commit()


def class_submissions(session: Session, *, campaign_id: int) -> list[ClassSubmission]:
    query = select(ClassSubmission).where(ClassSubmission.campaign_id == campaign_id)
    return list(session.scalars(query.order_by(ClassSubmission.position, ClassSubmission.id)))


def may_see_class(campaign: Campaign, *, user_id: int, role: str) -> bool:
    """Admins see every class; anyone else only the classes they own (a class with no owner: admins only)."""
    return role == "admin" or (campaign.owner_id is not None and campaign.owner_id == user_id)


def list_classes(session: Session, *, user_id: int, role: str) -> list[Campaign]:
    """The classes this user may see, newest first."""
    query = select(Campaign).where(Campaign.id.in_(CLASS_CAMPAIGN_IDS)).order_by(Campaign.id.desc())
    if role != "admin":
        query = query.where(Campaign.owner_id == user_id)
    return list(session.scalars(query))


def get_class(session: Session, *, class_id: int, user_id: int, role: str) -> Campaign:
    """The class, if this user may see it; another teacher's class is 'not found', as if it did not exist."""
    campaign = session.get(Campaign, class_id)
    if campaign is None or not is_class(campaign) or not may_see_class(campaign, user_id=user_id, role=role):
        raise NotFoundError(f"no class with id {class_id} among your classes")
    return campaign


def remember_class(session: Session, *, class_id: int, user_id: int, role: str) -> None:
    """Keep the class this user picked, to pick it again at their next login; only a class they may see."""
    get_class(session, class_id=class_id, user_id=user_id, role=role)
    begin_write(session)
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id}")
    user.last_class_id = class_id
    session.commit()


def remembered_class(session: Session, *, user_id: int, role: str) -> int | None:
    """The class this user picked last; None when there is none, it was removed, or it is no longer theirs."""
    class_id = session.scalar(select(User.last_class_id).where(User.id == user_id))
    if class_id is None:
        return None
    try:
        return get_class(session, class_id=class_id, user_id=user_id, role=role).id
    except NotFoundError:
        return None


def grading_schemes(campaign: Campaign) -> dict[str, GradingScheme]:
    """The class's grading per problem (db.items.problem_key -> scheme); problems not set yet are absent."""
    return {key: GradingScheme.model_validate(value) for key, value in (campaign.grading or {}).items()}


def set_grading(session: Session, *, campaign: Campaign, problem: str, scheme: GradingScheme) -> None:
    """Set how one problem of the class is graded; the class's other problems keep theirs."""
    begin_write(session)
    campaign.grading = {**(campaign.grading or {}), problem_key(problem): scheme.model_dump(mode="json")}
    session.commit()


def set_rubric_ticks(session: Session, *, campaign_id: int, item_id: int, ticked: Sequence[str]) -> int:
    """Tick rubric criteria for a solution (every submission of it in the class: identical solutions share their
    grade, as they share the teacher's correction); returns how many submissions changed."""
    begin_write(session)
    subs = session.scalars(
        select(ClassSubmission).where(ClassSubmission.campaign_id == campaign_id, ClassSubmission.item_id == item_id)
    ).all()
    if not subs:
        session.rollback()
        raise NotFoundError(f"solution {item_id} is not in class {campaign_id}")
    for sub in subs:
        sub.rubric_ticks = sorted(set(ticked))
    session.commit()
    return len(subs)
