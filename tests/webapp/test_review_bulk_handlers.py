"""Review-at-scale handlers: who may list, save views and decide in bulk, and what a reviewer reads back."""

from __future__ import annotations

import pytest

from core.errors import BadInputError, PermissionDeniedError
from db.annotations import create_annotation
from db.campaigns import create_campaign
from db.items import add_item
from db.review_filters import ReviewFilter
from db.session import session_scope
from tests.training.helpers import arithmetic_item
from tests.webapp.conftest import Web
from webapp.handlers import review_bulk as bulk


def _submitted(web: Web, n: int) -> int:
    with session_scope(web.url) as session:
        campaign = create_campaign(session, name="Sums").id
        for i in range(n):
            item = add_item(session, item=arithmetic_item(i, wrong=False), campaign_id=campaign)
            steps = len(item.steps)
            create_annotation(
                session,
                item_id=item.id,
                annotator_id=web["annotator"].id,
                campaign_id=campaign,
                ratings=[1] * steps,
                finish_reason="solution",
                status="submitted",
            )
    return campaign


def test_a_reviewer_lists_saves_a_view_and_approves_all_listed(web: Web) -> None:
    campaign = _submitted(web, 3)
    spec = ReviewFilter(campaign_id=campaign)
    listing = bulk.filtered_reviews(web.ctx, web["reviewer"], spec)
    assert listing.caption() == "3 annotations match." and len(listing.versions) == 3
    assert bulk.save_current_view(web.ctx, web["reviewer"], name="sums", spec=spec) == "sums"
    assert bulk.view_names(web.ctx, web["reviewer"]) == ["sums"]
    assert bulk.view_names(web.ctx, web["admin"]) == []  # views are their owner's
    assert bulk.open_view(web.ctx, web["reviewer"], name="sums") == spec
    text = bulk.bulk_decide(web.ctx, web["reviewer"], listed_versions=listing.versions, approve=True, reason="")
    assert text == "Approved 3 annotations."
    assert bulk.filtered_reviews(web.ctx, web["reviewer"], spec).caption() == "0 annotations match."


def test_annotators_may_not_list_or_decide_and_an_empty_selection_says_so(web: Web) -> None:
    campaign = _submitted(web, 1)
    with pytest.raises(PermissionDeniedError):
        bulk.filtered_reviews(web.ctx, web["annotator"], ReviewFilter(campaign_id=campaign))
    with pytest.raises(PermissionDeniedError):
        bulk.bulk_decide(web.ctx, web["annotator"], listed_versions={1: 1}, approve=True, reason="")
    with pytest.raises(BadInputError, match="select at least one row"):
        bulk.bulk_decide(web.ctx, web["reviewer"], listed_versions={}, approve=True, reason="")
