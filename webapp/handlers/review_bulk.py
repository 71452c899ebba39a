"""Review at scale: the filtered list, saved views and bulk approve / reject of the listed rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from db.bulk_review import review_many
from db.campaigns import list_campaigns
from db.classes import is_class
from db.models import User
from db.review_filters import MAX_ROWS, ReviewFilter, count_annotations, filter_annotations
from db.saved_views import list_views, load_view, save_view
from db.session import session_scope
from db.users import usernames
from webapp.context import AppContext
from webapp.handlers.review import annotation_row
from webapp.permissions import Action, Actor, require


@dataclass
class Listing:
    """The rows one filter lists (at most MAX_ROWS), how many match in all, and each row's version when listed."""

    rows: list[dict[str, Any]]
    total: int

    @property
    def versions(self) -> dict[int, int]:
        return {r["annotation_id"]: r["version"] for r in self.rows}

    def caption(self) -> str:
        shown = len(self.rows)
        if shown == self.total:
            return f"{self.total} annotation{'s' * (self.total != 1)} match."
        return f"{self.total} annotations match; the first {shown} are listed (narrow the filter to see the rest)."


def filtered_reviews(ctx: AppContext, actor: Actor | None, spec: ReviewFilter) -> Listing:
    """The annotations matching `spec`, oldest first, with their versions as listed."""
    require(actor, Action.REVIEW)
    with session_scope(ctx.database_url) as session:
        names = usernames(session)
        rows = [annotation_row(a, names) for a in filter_annotations(session, spec, limit=MAX_ROWS)]
        return Listing(rows=rows, total=count_annotations(session, spec))


def filter_choices(ctx: AppContext, actor: Actor | None) -> tuple[list[tuple[str, int]], list[str]]:
    """The campaign picker's (name, id) pairs (no teachers' classes) and the usernames of people who annotate."""
    require(actor, Action.REVIEW)
    with session_scope(ctx.database_url) as session:
        campaigns = [(f"{c.name} (#{c.id})", c.id) for c in list_campaigns(session) if not is_class(c)]
        annotate = select(User.username).where(User.role.in_(("annotator", "reviewer", "admin")))
        return campaigns, list(session.scalars(annotate.order_by(User.username)))


def bulk_decide(
    ctx: AppContext, actor: Actor | None, *, listed_versions: dict[int, int], approve: bool, reason: str
) -> str:
    """Approve or reject the selected rows at their listed versions; says what was decided and what was skipped."""
    actor = require(actor, Action.REVIEW)
    with session_scope(ctx.database_url) as session:
        outcome = review_many(
            session, listed_versions=listed_versions, reviewer_id=actor.id, approve=approve, comment=reason
        )
    return outcome.summary(approve=approve)


def view_names(ctx: AppContext, actor: Actor | None) -> list[str]:
    actor = require(actor, Action.REVIEW)
    with session_scope(ctx.database_url) as session:
        return [v.name for v in list_views(session, user_id=actor.id)]


def save_current_view(ctx: AppContext, actor: Actor | None, *, name: str, spec: ReviewFilter) -> str:
    """Save the filter as this user's named view; returns the stored name."""
    actor = require(actor, Action.REVIEW)
    with session_scope(ctx.database_url) as session:
        return save_view(session, user_id=actor.id, name=name, spec=spec).name


def open_view(ctx: AppContext, actor: Actor | None, *, name: str) -> ReviewFilter:
    actor = require(actor, Action.REVIEW)
    with session_scope(ctx.database_url) as session:
        return load_view(session, user_id=actor.id, name=name)
