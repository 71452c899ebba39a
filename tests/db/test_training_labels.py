"""Which human labels train: approved ones, submitted ones only where no review is due, class corrections apart."""

from __future__ import annotations

from pathlib import Path

from core.types import SolutionItem
from db.annotations import create_annotation, review_annotation
from db.campaigns import create_campaign
from db.classes import class_submissions, create_class
from db.importer import import_file
from db.items import link_items
from db.models import Item
from db.training_labels import training_labels
from tests.training.helpers import write_prm800k


def _label(session, item, user, campaign=None, *, ratings=(1, 1)):
    if campaign is not None:
        link_items(session, campaign_id=campaign.id, item_ids=[item.id])
        session.commit()
    return create_annotation(
        session,
        item_id=item.id,
        annotator_id=user.id,
        campaign_id=None if campaign is None else campaign.id,
        ratings=list(ratings),
        status="submitted",
    )


def _chosen(session, **rules) -> dict[int, tuple[str, int]]:
    """item id -> (source, annotation id) of the label that trains."""
    return {label.item.id: (label.source, label.annotation.id) for label in training_labels(session, **rules).labels}


def test_submitted_labels_wait_for_review_where_one_is_due_and_rejected_ones_never_train(
    db_session, db_url: str, make_user, make_item, tmp_path: Path
) -> None:
    ann, rev = make_user(db_session, "ann"), make_user(db_session, "rev", role="reviewer")
    reviewed = create_campaign(db_session, name="reviewed")
    open_ = create_campaign(db_session, name="no review", needs_review=False)
    a, b, c, d = (make_item(db_session, f"What is {i}+1?") for i in range(4))
    waiting = _label(db_session, a, ann, reviewed)
    direct = _label(db_session, b, ann, open_)
    own_critique = _label(db_session, c, ann)  # the Critique tab's "Save my labels": no campaign
    rejected = _label(db_session, d, ann, reviewed)
    review_annotation(
        db_session, annotation_id=rejected.id, expected_version=1, reviewer_id=rev.id, approve=False, comment="no"
    )
    import_file(write_prm800k(tmp_path / "prm.jsonl", 2), fmt="prm800k", url=db_url)

    labels = training_labels(db_session)
    assert {(x.source, x.annotation.status) for x in labels.labels} == {
        ("campaign", "submitted"),
        ("import", "submitted"),
    }
    assert direct.id in {x.annotation.id for x in labels.labels}
    assert labels.chosen == {"campaign": 1, "import": 2, "critique_tab": 0, "class": 0}
    assert labels.awaiting_review == 2  # the reviewed campaign's and the Critique tab's submitted labels

    for label in (waiting, own_critique):
        review_annotation(db_session, annotation_id=label.id, expected_version=1, reviewer_id=rev.id, approve=True)
    chosen = _chosen(db_session)
    assert chosen[a.id] == ("campaign", waiting.id) and chosen[c.id] == ("critique_tab", own_critique.id)
    assert d.id not in chosen
    assert set(_chosen(db_session, statuses=["approved"])) == {a.id, c.id}


def test_a_class_correction_never_overrides_a_campaign_label_of_the_same_solution(
    db_session, make_user, make_item
) -> None:
    ann, teach = make_user(db_session, "ann"), make_user(db_session, "teach", role="teacher")
    campaign = create_campaign(db_session, name="no review", needs_review=False)
    shared = make_item(db_session, "What is 2+3?", ["2+3 = 5.", "So 5."])
    campaign_label = _label(db_session, shared, ann, campaign, ratings=(1, 1))
    only_in_class = SolutionItem(problem="What is 4+4?", steps=["4+4 = 9.", "So 9."])
    klass = create_class(
        db_session,
        name="7B",
        submissions=[("Ann", SolutionItem(problem=shared.problem, steps=list(shared.steps))), ("Ben", only_in_class)],
        created_by_id=teach.id,
    )
    assert {s.item_id for s in class_submissions(db_session, campaign_id=klass.id)} >= {shared.id}  # one row, shared
    newer_correction = _label(db_session, shared, teach, klass, ratings=(-1, None))
    other = next(s.item_id for s in class_submissions(db_session, campaign_id=klass.id) if s.item_id != shared.id)
    class_only = _label(db_session, db_session.get(Item, other), teach, klass, ratings=(-1, None))

    off = training_labels(db_session)
    assert _chosen(db_session) == {shared.id: ("campaign", campaign_label.id)}
    assert off.class_left_out == 2
    on = training_labels(db_session, use_class_labels=True)
    assert _chosen(db_session, use_class_labels=True) == {
        shared.id: ("campaign", campaign_label.id),
        other: ("class", class_only.id),
    }
    assert on.class_left_out == 1 and newer_correction.id not in {x.annotation.id for x in on.labels}
