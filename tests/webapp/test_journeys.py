"""Each role's journey in the system Chromium against a real `critic serve` (tiny model, one shared server).

The tests run in file order and build on each other, as people would: the admin sets up a campaign, the annotator
labels it, the reviewer decides, the admin trains on the result, promotes and rolls back, the teacher grades a
class, and the viewer the admin created sees only what a viewer may.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.webapp.journey import (
    ADMIN_PASSWORD,
    Served,
    fill,
    page_as,
    pick,
    press,
    shot,
    tab,
    wait_for,
    wait_row,
    wait_text,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Small enough to train in well under a minute on 2 CPU cores with the tiny model.
JOB = {
    "base_model": "active",
    "max_steps": 2,
    "teacher_backend": "template",
    "per_device_batch_size": 2,
    "max_length": 2048,
    "validation_fraction": 0.0,
    "auto_promote": False,
    "eval_max_items": 2,
    "eval_max_new_tokens": 64,
}


def test_admin_adds_a_user_and_sets_up_a_campaign(served: Served, browser, campaign_file: Path) -> None:
    page = page_as(browser, served, "admin", ADMIN_PASSWORD)
    tab(page, "Admin")
    fill(page, "#admin-username", "newbie")
    fill(page, "#admin-password", "pw-newbie-1")
    pick(page, "#admin-role", "viewer")
    press(page, "#admin-add-user", "#admin-status", "Created newbie (viewer)")
    wait_text(page, "#admin-users", "newbie")

    tab(page, "Campaigns")
    fill(page, "#admin-campaign-name", "journey")
    fill(page, "#admin-overlap", "2")
    fill(page, "#admin-guidelines", "Rate **every** step.")
    press(page, "#admin-create-campaign", "#admin-status", "Created campaign journey (overlap 2)")
    assert page.input_value("#admin-campaign input") == "journey (#1)"  # the new campaign is the picked one

    page.set_input_files("#admin-data-file input[type=file]", str(campaign_file))
    page.wait_for_selector("#admin-data-file :text('campaign.json')")
    press(page, "#admin-import", "#admin-status", "Imported 4 record(s) into journey")
    wait_text(page, "#admin-status", "The critic labels its new items in the background (job 1")

    pick(page, "#admin-annotators", "annotator")
    page.keyboard.press("Escape")
    press(page, "#admin-assign", "#admin-status", "Assigned 1 annotator(s): annotator")
    # The table refreshes on its own: 4 items, overlap 2.
    wait_row(page, "#admin-campaigns", "1", "journey", "active", "2", "4")
    shot(page, "admin-campaign")
    assert "Error" not in page.inner_text("#admin-status")

    tab(page, "Training")  # the worker critiques the imported items; the jobs table shows it finish
    wait_row(page, "#admin-jobs", "1", "critique_items", "succeeded", "100%", timeout=180_000)


def test_annotator_labels_with_the_keyboard_goes_back_and_reopens(served: Served, browser) -> None:
    page = page_as(browser, served, "annotator", "pw-annotator")
    tab(page, "Annotate")
    pick(page, "#ann-campaign", "journey (0/4 done)")
    page.click(".kbd-help")  # focus leaves the dropdown: from here on, only keys
    page.keyboard.press("n")
    page.wait_for_selector("#ann-step-2")
    assert "first wrong step: not rated yet" in page.inner_text("#ann-info")
    first_item = page.inner_text("#ann-info").split("·")[0].strip()

    steps = [
        ("+", "#ann-step-1", "you: +1 good"),
        ("j", "#ann-info", "current step 2 of"),
        ("-", "#ann-step-2", "you: −1 wrong"),
    ]
    for key, selector, text in steps:
        page.keyboard.press(key)
        wait_text(page, selector, text)
    assert "current step 2 of" in page.inner_text("#ann-info")  # rating did not move on by itself
    assert "first wrong step: step 2" in page.inner_text("#ann-info")
    page.keyboard.press("u")  # undo the −1
    page.wait_for_function("() => !document.querySelector('#ann-step-2').innerText.includes('you:')")
    page.keyboard.press("-")
    wait_text(page, "#ann-step-2", "you: −1 wrong")
    page.keyboard.press("s")
    wait_text(page, "#ann-status", "Submitted (version 1)")

    page.keyboard.press("n")
    page.wait_for_function(
        "(first) => !document.querySelector('#ann-info').innerText.startsWith(first)", arg=first_item
    )
    # The imported items were critiqued in the background: the critic's verdict is there to accept.
    verdict = re.search(r"critic: (correct|incorrect)", page.inner_text("#ann-step-1"))
    assert verdict, page.inner_text("#ann-step-1")
    page.keyboard.press("a")
    wait_text(page, "#ann-step-1", "you: +1 good" if verdict.group(1) == "correct" else "you: −1 wrong")
    page.keyboard.press("-")
    wait_text(page, "#ann-step-1", "you: −1 wrong")
    page.keyboard.press("s")
    wait_text(page, "#ann-status", "Submitted (version 1)")

    page.keyboard.press("p")  # back to the first item, reopened with its labels
    wait_text(page, "#ann-info", first_item)
    wait_text(page, "#ann-status", "Reopened your submitted annotation")
    assert "you: −1 wrong" in page.inner_text("#ann-step-2")
    page.keyboard.press("j")
    wait_text(page, "#ann-info", "current step 2 of")
    page.keyboard.press("0")
    wait_text(page, "#ann-step-2", "you: 0 neutral")
    page.keyboard.press("s")
    wait_text(page, "#ann-status", "Submitted (version 2)")
    legend = page.inner_text("#tab-annotate")
    assert "rate the current step +1 (good; stays on it)" in legend and "undo the last change" in legend
    shot(page, "annotator")


def _second_opinion(served: Served) -> None:
    """Another annotator submits the first annotated item, blaming step 1 (the annotator rated it +1, step 2 0)."""
    from sqlalchemy import select

    from db.annotations import create_annotation
    from db.models import Annotation
    from db.session import session_scope
    from db.users import create_user

    with session_scope(served.database_url) as session:
        first = session.scalars(select(Annotation).order_by(Annotation.id)).first()
        other = create_user(session, username="second", password="pw-second", role="annotator")
        n = len(first.item.steps)
        create_annotation(
            session,
            item_id=first.item_id,
            annotator_id=other.id,
            campaign_id=first.campaign_id,
            ratings=[-1] + [None] * (n - 1),
            finish_reason="found_error",
            status="submitted",
            actor_id=other.id,
        )


def test_reviewer_approves_and_rejects(served: Served, browser) -> None:
    _second_opinion(served)
    page = page_as(browser, served, "reviewer", "pw-reviewer")
    tab(page, "Review")
    page.wait_for_selector("#rev-table [data-testid=cell-2-0]")  # three submissions to review
    press(page, "#rev-table [data-testid=cell-0-0]", "#rev-status", "Annotator annotator says first wrong step")
    # The two annotators of the item, step by step: step 1 is where they differ, and the page says so.
    wait_text(page, "#rev-diff", "second (submitted)")
    step_1 = page.inner_text("#rev-diff #diff-step-1.differs")
    assert "differs" in step_1 and "+1 good" in step_1 and "−1 wrong" in step_1, step_1
    step_2 = page.inner_text("#rev-diff #diff-step-2.differs")
    assert "0 neutral" in step_2 and "unrated" in step_2, step_2
    assert page.query_selector("#rev-diff #diff-status.same") is not None  # both submitted: not highlighted
    press(page, "#rev-approve", "#rev-status", "Approved annotation")

    press(page, "#rev-table [data-testid=cell-1-0]", "#rev-status", "Status: submitted")
    page.click("#rev-reject")  # no comment: refused, and the page says why
    page.wait_for_selector(".toast-body, .toast-wrap", timeout=10_000)
    fill(page, "#rev-comment", "Step 1 is fine; look again.")
    press(page, "#rev-reject", "#rev-status", "Rejected annotation")
    shot(page, "reviewer")


def test_a_user_corrects_the_critique_of_their_solution_and_a_reviewer_sees_it(served: Served, browser) -> None:
    page = page_as(browser, served, "annotator", "pw-annotator")
    assert not page.is_visible("#critique-save-labels")  # nothing to label before a critique
    fill(page, "#critique-problem", "What is 2 + 3, then doubled?")
    fill(page, "#critique-solution", "Step 1: 2 + 3 = 5.\nStep 2: Doubled is 5 * 2 = 12.\nThe answer is 12.")
    page.click("#critique-run")
    page.wait_for_selector("#critique-save-labels", state="visible", timeout=120_000)
    page.click("#critique-first-wrong label:has-text('Step 2')")
    press(
        page, "#critique-save-labels", "#critique-label-status", "Saved: step 2 is the first wrong step (annotation #"
    )
    assert "linked to critique run #" in page.inner_text("#critique-label-status")
    shot(page, "critique-label")

    annotation_id = page.inner_text("#critique-label-status").split("annotation #")[1].split(",")[0]

    reviewer = page_as(browser, served, "reviewer", "pw-reviewer")
    tab(reviewer, "Review")
    # Waiting for review: the submission the reviewer left undecided and this label; pick this label's row.
    reviewer.wait_for_selector("#rev-table [data-testid=cell-1-0]")
    rows = [reviewer.inner_text(f"#rev-table [data-testid=cell-{row}-0]").strip() for row in range(2)]
    reviewer.click(f"#rev-table [data-testid=cell-{rows.index(annotation_id)}-0]")
    wait_text(reviewer, "#rev-status", "Annotator annotator says first wrong step = 2")


def test_admin_trains_promotes_and_rolls_back(served: Served, browser, processbench_dir: Path, tmp_path: Path) -> None:
    # One correct and one wrong solution (F1 needs both), none of them from the campaign's four.
    records = json.loads((processbench_dir / "gsm8k.json").read_text())[4:]
    pair = [next(r for r in records if r["label"] == -1), next(r for r in records if r["label"] >= 0)]
    held_out = tmp_path / "held-out.json"
    held_out.write_text(json.dumps(pair))
    page = page_as(browser, served, "admin", ADMIN_PASSWORD)
    tab(page, "Admin")
    tab(page, "Evaluation sets")  # the gate scores every new version on it
    fill(page, "#admin-eval-set-name", "held-out-2")
    page.set_input_files("#admin-eval-set-file input[type=file]", str(held_out))
    page.wait_for_selector("#admin-eval-set-file :text('held-out.json')")
    press(page, "#admin-add-eval-set", "#admin-status", "Registered evaluation set held-out-2: 2 items")
    tab(page, "Training")
    page.click("#admin-job-config .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(json.dumps(JOB))
    page.click("#admin-start-training")
    wait_text(page, "#admin-status", "Queued sft job 2")  # job 1 critiqued the imported items
    seen: set[str] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # the table refreshes itself; watch it as a person would
        row = " ".join(page.locator("#admin-jobs [data-row='0']").all_inner_texts())
        seen.add(" ".join(row.split()))
        if "succeeded" in row or "failed" in row:
            break
        page.wait_for_timeout(500)
    assert any("succeeded" in r and "100% · 2 of 2 steps" in r for r in seen), seen
    assert any("running" in r for r in seen), seen  # it was seen working, not only queued then done
    shot(page, "admin-training")

    tab(page, "Models")
    page.wait_for_selector("#admin-models [data-testid=cell-0-0]")
    # The new version's F1 on the registered set, in percent (a score, even if the tiny model's is poor).
    f1 = page.inner_text("#admin-models [data-testid=cell-0-3]")
    assert re.fullmatch(r"\d+\.\d on eval-set:held-out-2", f1.strip()), f1
    page.click("#admin-model input")
    page.get_by_role("option").first.click()
    press(page, "#admin-promote", "#admin-status", "now serves")
    wait_row(page, "#admin-models", "1", "v1-sft-job2", "serving")
    press(page, "#admin-rollback", "#admin-status", "Rolled back")
    shot(page, "admin-models")


def test_teacher_uploads_a_class_corrects_and_exports(served: Served, browser, tmp_path: Path) -> None:
    class_file = tmp_path / "class-7b.csv"
    class_file.write_text(
        "student,problem,solution\n"
        'Ann,"What is 2 + 3 * 4?","Step 1: 3 * 4 = 12.\nStep 2: 2 + 12 = 14.\nThe answer is 14."\n'
        'Ben,"What is 2 + 3 * 4?","Step 1: 2 + 3 = 5.\nStep 2: 5 * 4 = 20.\nThe answer is 20."\n'
    )
    older_class = _class_from_last_term(served)
    page = page_as(browser, served, "teacher", "pw-teacher")
    tabs = [t.inner_text() for t in page.query_selector_all("[role=tab]") if t.is_visible()]
    assert "Teacher" in tabs and "Admin" not in tabs and "Review" not in tabs
    tab(page, "Teacher")
    fill(page, "#teach-name", "Class 7B")
    page.set_input_files("#teach-file input[type=file]", str(class_file))
    wait_text(page, "#teach-file", "class-7b.csv")
    press(page, "#teach-start", "#teach-status", "critiquing 2 solutions")
    wait_text(page, "#teach-progress", "2 of 2 solutions critiqued", timeout=120_000)
    assert page.query_selector("#teach-progress [role=progressbar]") is not None

    page.click("#teach-table [data-testid=cell-1-0]")  # Ben
    page.wait_for_selector("#teach-cards #step-2")
    pick(page, "#teach-first", "step 2")
    fill(page, "#teach-comment", "5 * 4 is right, but 3 * 4 comes first.")
    press(page, "#teach-save", "#teach-status", "Correction saved.")
    wait_text(page, "#teach-table", "3 * 4 comes first")
    press(page, "#teach-export", "#teach-status", "Report ready.")
    wait_text(page, "#teach-files", ".csv")
    shot(page, "teacher")

    # The class picked last is shown again after a reload, though a newer one (7B) exists.
    pick(page, "#teach-class", "class: Class 6A")
    wait_for(lambda: _last_class(served) == older_class)
    page.reload()
    wait_text(page, "#whoami", "Logged in as")
    tab(page, "Teacher")
    page.wait_for_function("() => document.querySelector('#teach-class input')?.value === 'class: Class 6A'")


def _class_from_last_term(served: Served) -> int:
    """A class the teacher already has (older than the one they upload), stored directly like an earlier upload."""
    from core.types import SolutionItem
    from db.classes import create_class
    from db.session import session_scope
    from db.users import get_user

    item = SolutionItem(problem="What is 1 + 1?", steps=["1 + 1 = 2.", "The answer is 2."])
    with session_scope(served.database_url) as session:
        teacher_id = get_user(session, username="teacher").id
        return create_class(session, name="Class 6A", submissions=[("Cat", item)], created_by_id=teacher_id).id


def _last_class(served: Served) -> int | None:
    from db.classes import remembered_class
    from db.session import session_scope
    from db.users import get_user

    with session_scope(served.database_url) as session:
        teacher = get_user(session, username="teacher")
        return remembered_class(session, user_id=teacher.id, role=teacher.role)


def test_a_viewer_sees_only_what_a_viewer_may(served: Served, browser) -> None:
    page = page_as(browser, served, "newbie", "pw-newbie-1")  # the user the admin created in the browser
    assert page.inner_text("#whoami").strip() == "Logged in as newbie (viewer)"
    page.wait_for_timeout(1000)  # tabs are revealed by the page load
    tabs = [t.inner_text().strip() for t in page.query_selector_all("[role=tab]") if t.is_visible()]
    assert tabs == ["Critique", "Dashboard"], tabs
    tab(page, "Dashboard")
    wait_text(page, "#dash-summary", "annotations")
    # All campaigns: the approved and the other annotator's submitted annotation, and the annotator's label of their
    # own critique (Critique tab, no campaign); the teacher's correction apart.
    assert page.input_value("#dash-campaign input") == "All campaigns"
    assert page.inner_text("#dash-total") == "3"
    assert "Teachers' corrections (not counted as annotations): 1" in page.inner_text("#dash-summary")
    pick(page, "#dash-campaign", "journey (#1)")
    page.wait_for_function("() => !document.querySelector('#dash-summary').innerText.includes('Teachers')")
    assert page.inner_text("#dash-total") == "2"
    for hidden in ("#admin-add-user", "#ann-next-item", "#rev-approve", "#teach-start"):
        assert not page.is_visible(hidden)
    shot(page, "viewer")
