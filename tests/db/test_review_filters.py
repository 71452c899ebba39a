"""Review filters in SQL (SQLite and PostgreSQL), saved views per user, and bulk decisions that skip and report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import BadInputError, NotFoundError
from core.types import CritiqueResult, SolutionItem, StepResult
from db.annotations import create_annotation, save_annotation
from db.bulk_review import review_many
from db.campaigns import create_campaign
from db.critique_runs import save_critique_run
from db.items import add_item, link_items
from db.models import Annotation, AnnotationEvent
from db.review_filters import ReviewFilter, count_annotations, filter_annotations
from db.saved_views import delete_view, list_views, load_view, save_view

WRONG_AT_1 = ([-1, None], "found_error")
ALL_GOOD = ([1, 1], "solution")


def _critique(session: Session, item_id: int, first_error: int) -> int:
    steps = [StepResult(index=i, text="s", verdict="incorrect" if i == first_error else "correct") for i in (1, 2)]
    result = CritiqueResult(problem="p", steps=steps, first_error_step=first_error, model="m", backend="scripted")
    return save_critique_run(session, item_id=item_id, result=result).id


@dataclass
class World:
    campaign_a: int
    campaign_b: int
    ids: dict[str, int]
    users: dict[str, int]


@pytest.fixture
def world(db_session: Session, make_user: Callable[..., Any], make_item: Callable[..., Any]) -> World:
    """Campaign A: a gold circle item (critic: step 2, ann1: step 1) and a sum item (critic: correct; ann1 says
    correct, ann2 says step 1). Campaign B: one item ann1 labels, never critiqued."""
    users = {n: make_user(db_session, n, role="reviewer" if n == "rev" else "annotator").id for n in ("ann1", "ann2")}
    users["rev"] = make_user(db_session, "rev", role="reviewer").id
    a = create_campaign(db_session, name="A").id
    b = create_campaign(db_session, name="B").id
    gold = SolutionItem(problem="Find the AREA of a circle of radius 2.", steps=["A = 4.", "So 4 pi."])
    circle = add_item(db_session, item=gold, is_gold=True).id
    total = make_item(db_session, problem="Compute 2+2 (100% sure).").id
    other = make_item(db_session, problem="Solve x+1=3.").id
    link_items(db_session, campaign_id=a, item_ids=[circle, total])
    link_items(db_session, campaign_id=b, item_ids=[other])
    db_session.commit()
    run = _critique(db_session, circle, 2)
    _critique(db_session, total, -1)

    def label(item: int, who: str, campaign: int, ratings: tuple[list[Any], str], **kw: Any) -> int:
        return create_annotation(
            db_session,
            item_id=item,
            annotator_id=users[who],
            campaign_id=campaign,
            ratings=ratings[0],
            finish_reason=ratings[1],
            status="submitted",
            **kw,
        ).id

    ids = {
        "circle-ann1": label(circle, "ann1", a, WRONG_AT_1, critique_run_id=run),
        "total-ann1": label(total, "ann1", a, ALL_GOOD),
        "total-ann2": label(total, "ann2", a, WRONG_AT_1),
        "other-ann1": label(other, "ann1", b, WRONG_AT_1),
    }
    return World(a, b, ids, users)


def _names(session: Session, world: World, spec: ReviewFilter) -> set[str]:
    found = {a.id for a in filter_annotations(session, spec)}
    assert count_annotations(session, spec) == len(found)
    return {name for name, i in world.ids.items() if i in found}


def test_each_filter_narrows_the_list_in_sql(db_session: Session, world: World) -> None:
    everything = set(world.ids)
    assert _names(db_session, world, ReviewFilter()) == everything
    assert _names(db_session, world, ReviewFilter(campaign_id=world.campaign_b)) == {"other-ann1"}
    assert _names(db_session, world, ReviewFilter(annotator="ann2")) == {"total-ann2"}
    assert _names(db_session, world, ReviewFilter(critic_disagrees=True)) == {"circle-ann1", "total-ann2"}
    assert _names(db_session, world, ReviewFilter(annotators_disagree=True)) == {"total-ann1", "total-ann2"}
    assert _names(db_session, world, ReviewFilter(gold_only=True)) == {"circle-ann1"}
    assert _names(db_session, world, ReviewFilter(text="area")) == {"circle-ann1"}
    assert _names(db_session, world, ReviewFilter(text="100%")) == {"total-ann1", "total-ann2"}  # % is literal
    assert _names(db_session, world, ReviewFilter(status="approved")) == set()
    both = ReviewFilter(campaign_id=world.campaign_a, critic_disagrees=True, annotator="ann1")
    assert _names(db_session, world, both) == {"circle-ann1"}


def test_dates_count_whole_days_and_bad_dates_say_how_to_write_them(db_session: Session, world: World) -> None:
    old = datetime.now(UTC) - timedelta(days=10)
    db_session.execute(update(Annotation).where(Annotation.id == world.ids["other-ann1"]).values(submitted_at=old))
    db_session.commit()
    today = datetime.now(UTC).date()
    recent = ReviewFilter(since=str(today - timedelta(days=1)))
    assert _names(db_session, world, recent) == set(world.ids) - {"other-ann1"}
    assert _names(db_session, world, ReviewFilter(until=str(old.date()))) == {"other-ann1"}
    assert _names(db_session, world, ReviewFilter(since=str(old.date()), until=str(old.date()))) == {"other-ann1"}
    with pytest.raises(BadInputError, match="YYYY-MM-DD"):
        ReviewFilter(since="yesterday")
    with pytest.raises(BadInputError, match="empty"):
        ReviewFilter(since="2026-02-01", until="2026-01-01")


def test_a_saved_view_is_its_owners_alone_and_reapplies_the_filter(db_session: Session, world: World) -> None:
    spec = ReviewFilter(campaign_id=world.campaign_a, critic_disagrees=True, text="area")
    save_view(db_session, user_id=world.users["rev"], name="  disputed  area ", spec=spec)
    save_view(db_session, user_id=world.users["rev"], name="disputed area", spec=spec)  # same name: replaced
    assert [v.name for v in list_views(db_session, user_id=world.users["rev"])] == ["disputed area"]
    assert load_view(db_session, user_id=world.users["rev"], name="disputed area") == spec
    with pytest.raises(NotFoundError):
        load_view(db_session, user_id=world.users["ann1"], name="disputed area")
    with pytest.raises(BadInputError, match="name the view"):
        save_view(db_session, user_id=world.users["rev"], name=" ", spec=spec)
    delete_view(db_session, user_id=world.users["rev"], name="disputed area")
    assert list_views(db_session, user_id=world.users["rev"]) == []


def test_bulk_approval_audits_each_row_and_skips_changed_and_own_rows(db_session: Session, world: World) -> None:
    listed = {a.id: a.version for a in filter_annotations(db_session, ReviewFilter(campaign_id=world.campaign_a))}
    # After the listing: ann2 edits their label, and the reviewer edits ann1's circle label (making it theirs).
    moved = world.ids["total-ann2"]
    save_annotation(db_session, annotation_id=moved, expected_version=listed[moved], actor_id=world.users["ann2"])
    circle = world.ids["circle-ann1"]
    edited = save_annotation(
        db_session, annotation_id=circle, expected_version=listed[circle], actor_id=world.users["rev"], comment="fix"
    )
    listed[circle] = edited.version  # listed again after the edit: the version is current, the rule still holds
    outcome = review_many(db_session, listed_versions=listed, reviewer_id=world.users["rev"], approve=True)
    assert outcome.decided == [world.ids["total-ann1"]]
    assert outcome.changed == [moved] and outcome.own == [circle]
    text = outcome.summary(approve=True)
    assert f"Skipped 1 row changed since you listed them: #{moved}." in text
    assert "four eyes" in text and f"#{circle}" in text
    approvals = db_session.scalars(select(AnnotationEvent).where(AnnotationEvent.action == "approve")).all()
    assert [e.annotation_id for e in approvals] == [world.ids["total-ann1"]]
    with pytest.raises(BadInputError, match="say why"):
        review_many(db_session, listed_versions={moved: 2}, reviewer_id=world.users["rev"], approve=False)
