"""Saved views: each user's named Review filters, saved, listed, re-applied and deleted."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import BadInputError, NotFoundError
from db.models import SavedView, utcnow
from db.review_filters import ReviewFilter
from db.session import begin_write

MAX_NAME = 100


def save_view(session: Session, *, user_id: int, name: str, spec: ReviewFilter) -> SavedView:
    """Store `spec` as this user's view `name`, replacing a view of theirs with the same name."""
    name = " ".join(name.split())
    if not name:
        raise BadInputError("name the view (e.g. 'campaign A, critic disagrees') to save it")
    if len(name) > MAX_NAME:
        raise BadInputError(f"a view name has at most {MAX_NAME} characters; this one has {len(name)}")
    begin_write(session)
    view = session.scalar(select(SavedView).where(SavedView.user_id == user_id, SavedView.name == name))
    now = utcnow()
    if view is None:
        view = SavedView(user_id=user_id, name=name, created_at=now)
        session.add(view)
    view.filters = spec.to_dict()
    view.updated_at = now
    session.commit()
    return view


def list_views(session: Session, *, user_id: int) -> list[SavedView]:
    """This user's views, by name."""
    return list(session.scalars(select(SavedView).where(SavedView.user_id == user_id).order_by(SavedView.name)))


def load_view(session: Session, *, user_id: int, name: str) -> ReviewFilter:
    """The filter of this user's view `name` (another user's views are not found)."""
    view = session.scalar(select(SavedView).where(SavedView.user_id == user_id, SavedView.name == name))
    if view is None:
        raise NotFoundError(f"you have no saved view named {name!r}")
    return ReviewFilter.from_dict(view.filters)


def delete_view(session: Session, *, user_id: int, name: str) -> None:
    begin_write(session)
    gone = session.execute(delete(SavedView).where(SavedView.user_id == user_id, SavedView.name == name)).rowcount
    session.commit()
    if not gone:
        raise NotFoundError(f"you have no saved view named {name!r}")
