"""Which item an annotator gets next: with the uncertainty order, the one the critic was least sure of."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from core.errors import BadInputError
from core.types import CritiqueResult, StepResult
from db.annotation_queue import next_item_id, set_assignments
from db.campaigns import create_campaign, update_campaign
from db.critique_runs import save_critique_run
from db.items import link_items


def _critiqued(session: Session, item_id: int, confidence: float | None) -> None:
    result = CritiqueResult(
        problem="p",
        steps=[StepResult(index=1, text="s", verdict="correct", p_correct=confidence)],
        first_error_step=-1,
        model="embedded",
        backend="scripted",
        first_error_probability=confidence,
    )
    save_critique_run(session, item_id=item_id, result=result)


def test_uncertainty_order_hands_out_the_least_confident_critique_first(
    db_session: Session, make_user: Callable[..., Any], make_item: Callable[..., Any]
) -> None:
    annotator = make_user(db_session, "ann")
    sure, unsure, never, updated = (make_item(db_session, problem=f"problem {n}") for n in range(4))
    campaign = create_campaign(db_session, name="active learning", item_order="uncertainty")
    link_items(db_session, campaign_id=campaign.id, item_ids=[sure.id, unsure.id, never.id, updated.id])
    db_session.commit()
    set_assignments(db_session, campaign_id=campaign.id, user_ids=[annotator.id])
    _critiqued(db_session, sure.id, 0.95)
    _critiqued(db_session, unsure.id, 0.30)
    _critiqued(db_session, updated.id, 0.10)
    _critiqued(db_session, updated.id, 0.99)  # a newer critique replaces the older one's confidence

    order = []
    for _ in range(4):
        item_id = next_item_id(db_session, campaign_id=campaign.id, annotator_id=annotator.id, exclude=order)
        order.append(item_id)
    assert order == [unsure.id, sure.id, updated.id, never.id]

    update_campaign(db_session, campaign_id=campaign.id, item_order="progress")
    assert next_item_id(db_session, campaign_id=campaign.id, annotator_id=annotator.id) == sure.id
    with pytest.raises(BadInputError, match="uncertainty"):
        update_campaign(db_session, campaign_id=campaign.id, item_order="random")
