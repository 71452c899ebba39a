"""Attacks on the data the critic learns from and on the work a role may start: four eyes, limits per role."""

from __future__ import annotations

from typing import Any

import pytest

from db.models import Annotation
from db.session import session_scope
from tests.webapp import test_security
from tests.webapp.test_security import Attacker
from webapp.handlers import annotate

pytestmark = pytest.mark.slow

# The attack tests' fixtures: the running app and its campaigns and class.
app_url = test_security.app_url
campaigns = test_security.campaigns


def test_a_reviewer_who_rewrote_a_label_through_the_api_cannot_approve_it(
    web, campaigns: dict[str, Any], app_url: str
) -> None:
    n = campaigns["n_steps"]
    submitted = annotate.save(
        web.ctx,
        web["annotator"],
        item_id=campaigns["item_id"],
        campaign_id=campaigns["open"],
        ratings=[1] * n,
        submit=True,
    ).saved
    reviewer = Attacker(app_url, "reviewer", "pw-reviewer")
    ok, [rewritten] = reviewer.call(
        reviewer.fn_index(api_name="save_annotation"),
        [
            campaigns["item_id"],
            [-1] * n,
            "",
            campaigns["open"],
            submitted["annotation_id"],
            submitted["version"],
            [],
            "",
            True,
        ],
    )
    assert ok and rewritten["saved"]["ratings"] == [-1] * n
    label = rewritten["saved"]
    assert reviewer.call(reviewer.fn_index(elem_id="rev-open"), [label["annotation_id"]])[0]
    ok, message = reviewer.call(
        reviewer.fn_index(elem_id="rev-approve"), [label["annotation_id"], label["version"], ""]
    )
    assert not ok and "you edited annotation" in message and "another reviewer" in message
    with session_scope(web.url) as session:
        assert session.get(Annotation, label["annotation_id"]).status == "submitted"
    # A second pair of eyes approves it; the label then shows who approved it.
    boss = Attacker(app_url, "admin", "pw-admin")
    assert boss.call(boss.fn_index(elem_id="rev-open"), [label["annotation_id"]])[0]
    ok, _ = boss.call(boss.fn_index(elem_id="rev-approve"), [label["annotation_id"], label["version"], ""])
    assert ok
    with session_scope(web.url) as session:
        stored = session.get(Annotation, label["annotation_id"])
        assert (stored.status, stored.reviewer_id) == ("approved", web["admin"].id)
