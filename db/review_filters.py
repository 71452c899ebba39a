"""Filters of the Review list, applied in SQL: campaign, status, annotator, disagreements, gold, dates, text."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from core.errors import BadInputError
from db.classes import CLASS_CAMPAIGN_IDS
from db.models import ANNOTATION_STATUSES, Annotation, CritiqueRun, Item, User

# The most rows one listing returns: a page a reviewer can scan and decide in bulk.
MAX_ROWS = 500


@dataclass(frozen=True)
class ReviewFilter:
    """Which annotations the Review list shows; every field left empty matches everything."""

    campaign_id: int | None = None
    """Only this campaign's annotations."""
    status: str | None = "submitted"
    """Only this status (draft, submitted, approved, rejected); None = every status but draft."""
    annotator: str | None = None
    """Only this annotator's (username)."""
    critic_disagrees: bool = False
    """Only annotations whose first wrong step differs from the critic's (their critique run, else the latest)."""
    annotators_disagree: bool = False
    """Only annotations of items another (non-draft) annotation of which names another first wrong step."""
    gold_only: bool = False
    """Only annotations of gold items."""
    since: str | None = None
    """Submitted (or created, if never submitted) on or after this day, YYYY-MM-DD (UTC)."""
    until: str | None = None
    """Submitted (or created) on or before this day, YYYY-MM-DD (UTC)."""
    text: str = ""
    """Words that the item's problem contains (case-insensitive)."""

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in ANNOTATION_STATUSES:
            raise BadInputError(f"status {self.status!r}: choose one of {', '.join(ANNOTATION_STATUSES)}")
        first, last = _day("since", self.since), _day("until", self.until)
        if first and last and first > last:
            raise BadInputError(f"the date range is empty: {self.since} is after {self.until}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReviewFilter:
        """A filter from stored JSON; unknown keys (from a newer version) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _day(name: str, value: str | None) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise BadInputError(f"{name} {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31") from exc


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _critic_first_error() -> Any:
    """The first wrong step of the annotation's critique run, else of its item's latest critique run."""
    item_runs = aliased(CritiqueRun)
    latest = (
        select(func.max(item_runs.id))
        .where(item_runs.item_id == Annotation.item_id)
        .correlate(Annotation)
        .scalar_subquery()
    )
    run_id = func.coalesce(Annotation.critique_run_id, latest)
    return select(CritiqueRun.first_error_step).where(CritiqueRun.id == run_id).correlate(Annotation).scalar_subquery()


def _has_critique() -> Any:
    return or_(Annotation.critique_run_id.is_not(None), exists().where(CritiqueRun.item_id == Annotation.item_id))


def filtered_query(spec: ReviewFilter) -> Select[tuple[Annotation]]:
    """The annotations `spec` matches, oldest first, leaving out teachers' corrections in their classes."""
    query = (
        select(Annotation)
        .join(Item, Item.id == Annotation.item_id)
        .where(or_(Annotation.campaign_id.is_(None), Annotation.campaign_id.not_in(CLASS_CAMPAIGN_IDS)))
        .order_by(Annotation.id)
    )
    if spec.campaign_id is not None:
        query = query.where(Annotation.campaign_id == spec.campaign_id)
    if spec.status is not None:
        query = query.where(Annotation.status == spec.status)
    else:
        query = query.where(Annotation.status != "draft")
    if spec.annotator:
        query = query.where(Annotation.annotator_id.in_(select(User.id).where(User.username == spec.annotator)))
    if spec.critic_disagrees:
        query = query.where(_has_critique(), _critic_first_error().is_distinct_from(Annotation.first_error_step))
    if spec.annotators_disagree:
        other = aliased(Annotation)
        query = query.where(
            exists().where(
                other.item_id == Annotation.item_id,
                other.id != Annotation.id,
                other.status != "draft",
                or_(other.campaign_id.is_(None), other.campaign_id.not_in(CLASS_CAMPAIGN_IDS)),
                other.first_error_step.is_distinct_from(Annotation.first_error_step),
            )
        )
    if spec.gold_only:
        query = query.where(Item.is_gold.is_(True))
    when = func.coalesce(Annotation.submitted_at, Annotation.created_at)
    first, last = _day("since", spec.since), _day("until", spec.until)
    if first is not None:
        query = query.where(when >= _start_of(first))
    if last is not None:
        query = query.where(when < _start_of(last + timedelta(days=1)))
    if spec.text.strip():
        query = query.where(Item.problem.icontains(spec.text.strip(), autoescape=True))
    return query


def filter_annotations(session: Session, spec: ReviewFilter, *, limit: int = MAX_ROWS) -> list[Annotation]:
    """At most `limit` annotations `spec` matches, oldest first."""
    return list(session.scalars(filtered_query(spec).limit(limit)))


def count_annotations(session: Session, spec: ReviewFilter) -> int:
    """How many annotations `spec` matches in all."""
    return session.scalar(select(func.count()).select_from(filtered_query(spec).order_by(None).subquery())) or 0
