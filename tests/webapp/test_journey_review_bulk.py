"""Review at scale in the browser: filter one campaign's critic-human disagreements, save the view, approve 20 rows
with the keyboard (changed and own rows skipped and named); pickers are filled when a tab opens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.webapp.journey import (
    Served,
    critic_serve,
    fill,
    page_as,
    pick,
    shot,
    tab,
    wait_text,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DISPUTED = 21  # ann1 blames step 1 where the critic blames step 2; one of them changes after the listing


@dataclass
class Seeded:
    served: Served
    algebra: int
    changed: int
    own: int
    disputed: list[int]
    ann1: int


def _seed(served: Served) -> Seeded:
    """Campaign Algebra: 21 disputed labels by ann1, one by the reviewer, two agreeing; Geometry: 3 disputed."""
    from core.types import CritiqueResult, SolutionItem, StepResult
    from db.annotations import create_annotation
    from db.campaigns import create_campaign
    from db.critique_runs import save_critique_run
    from db.items import add_item, link_items
    from db.session import session_scope
    from db.users import create_user

    with session_scope(served.database_url) as session:
        ann1 = create_user(session, username="ann1", password="pw-ann1", role="annotator").id
        reviewer = create_user(session, username="rev", password="pw-rev", role="reviewer").id
        algebra = create_campaign(session, name="Algebra").id
        geometry = create_campaign(session, name="Geometry").id

        def labelled(n: int, campaign: int, who: int, human_first_error: int) -> int:
            item = add_item(session, item=SolutionItem(problem=f"Problem {campaign}-{n}", steps=["x = 1.", "x = 2."]))
            link_items(session, campaign_id=campaign, item_ids=[item.id])
            session.commit()
            steps = [StepResult(index=1, text="x = 1.", verdict="correct")]
            steps.append(StepResult(index=2, text="x = 2.", verdict="incorrect"))
            critique = CritiqueResult(problem="p", steps=steps, first_error_step=2, model="m", backend="scripted")
            run = save_critique_run(session, item_id=item.id, result=critique).id
            ratings = [-1, None] if human_first_error == 1 else [1, -1]
            return create_annotation(
                session,
                item_id=item.id,
                annotator_id=who,
                campaign_id=campaign,
                ratings=ratings,
                finish_reason="found_error",
                critique_run_id=run,
                status="submitted",
            ).id

        disputed = [labelled(n, algebra, ann1, 1) for n in range(DISPUTED)]
        own = labelled(DISPUTED, algebra, reviewer, 1)
        for n in range(2):
            labelled(100 + n, algebra, ann1, 2)  # agrees with the critic
        for n in range(3):
            labelled(n, geometry, ann1, 1)
    return Seeded(served, algebra, changed=disputed[4], own=own, disputed=disputed, ann1=ann1)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Seeded]:
    env = {"CRITIC_MODEL": str(tiny_model_dir), "CRITIC_BACKEND": "transformers"}
    with critic_serve(tmp_path_factory.mktemp("bulk"), env, log_name="journey-bulk-serve.log") as served:
        yield _seed(served)


def _checked(page) -> int:
    return page.eval_on_selector_all("#rev-selected input[type=checkbox]:checked", "els => els.length")


def test_reviewer_approves_twenty_disputed_rows_with_the_keyboard(seeded: Seeded, browser) -> None:  # noqa: F811
    from db.annotations import save_annotation
    from db.models import AnnotationEvent
    from db.session import session_scope

    page = page_as(browser, seeded.served, "rev", "pw-rev")
    tab(page, "Review")
    wait_text(page, "#rev-count", "27 annotations match.")  # every submitted label at first
    pick(page, "#rev-f-campaign", f"Algebra (#{seeded.algebra})")
    wait_text(page, "#rev-count", "24 annotations match.")
    page.click("#rev-f-critic input")
    wait_text(page, "#rev-count", "22 annotations match.")
    fill(page, "#rev-view-name", "Algebra disputes")
    page.click("#rev-save-view")
    wait_text(page, "#rev-bulk-status", "Saved view 'Algebra disputes'")
    assert "approve the selected rows" in page.inner_text("#tab-review")  # the shortcuts are on the page

    # ann1 fixes one label after the reviewer listed it: the listed version is stale now.
    with session_scope(seeded.served.database_url) as session:
        save_annotation(
            session, annotation_id=seeded.changed, expected_version=1, actor_id=seeded.ann1, comment="rechecked"
        )

    page.keyboard.press("*")  # the keyboard from here on
    page.wait_for_function(
        "() => document.querySelectorAll('#rev-selected input[type=checkbox]:checked').length === 22"
    )
    page.keyboard.press("Shift+Y")
    wait_text(page, "#rev-bulk-status", "Approved 20 annotations.")
    summary = page.inner_text("#rev-bulk-status")
    assert f"Skipped 1 row changed since you listed them: #{seeded.changed}." in summary, summary
    assert f"four eyes: another reviewer decides): #{seeded.own}." in summary, summary
    wait_text(page, "#rev-count", "2 annotations match.")  # the own row and the changed one, still to review
    shot(page, "bulk-approved")

    with session_scope(seeded.served.database_url) as session:
        approvals = session.scalars(select(AnnotationEvent).where(AnnotationEvent.action == "approve")).all()
    approved = sorted(e.annotation_id for e in approvals)
    assert approved == sorted(set(seeded.disputed) - {seeded.changed})  # one audit event per row, none twice
    assert len(approved) == 20 and {e.version for e in approvals} == {2}

    # The saved view re-applies the whole filter after a reload.
    page.reload()
    wait_text(page, "#whoami", "Logged in as")
    tab(page, "Review")
    pick(page, "#rev-view", "Algebra disputes")
    page.wait_for_function("() => document.querySelector('#rev-f-critic input').checked")
    wait_text(page, "#rev-count", "2 annotations match.")


def test_annotate_tab_offers_campaigns_without_a_refresh(seeded: Seeded, browser) -> None:  # noqa: F811
    from db.campaigns import create_campaign
    from db.session import session_scope

    page = page_as(browser, seeded.served, "ann1", "pw-ann1")
    tab(page, "Annotate")
    page.click("#ann-campaign input")
    page.get_by_role("option").filter(has_text="Algebra").first.wait_for()
    page.keyboard.press("Escape")
    # A campaign made while the page is open shows when the tab is opened again.
    with session_scope(seeded.served.database_url) as session:
        create_campaign(session, name="Made later")
    tab(page, "Critique")
    tab(page, "Annotate")
    page.click("#ann-campaign input")
    page.get_by_role("option").filter(has_text="Made later").first.wait_for()
    shot(page, "annotate-picker-filled")
