"""Step comments and grades in the system Chromium against a real `critic serve` (tiny model, never called here).

An annotator comments on step 3 and the reviewer sees that comment on step 3; a teacher gives a class's problem 4
points with step credit, exports the gradebook, and the CSV holds each student's points. The items and the class's
verdicts are stored directly (as an import and a finished critique run would store them), so no model runs.
"""

from __future__ import annotations

import csv
import io

import pytest

from core.types import CritiqueResult, SolutionItem, StepResult
from tests.webapp.journey import (
    Served,
    fill,
    page_as,
    pick,
    press,
    shot,
    tab,
    wait_row,
    wait_text,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROBLEM = "What is (2 + 3) * 4 - 1?"
STEPS = ["2 + 3 = 5.", "5 * 4 = 20.", "20 - 1 = 18.", "The answer is 18."]
COMMENT = "20 - 1 is 19, not 18."
# Students' solutions of one three-step problem and the critic's first wrong step in each (-1: all correct).
CLASS = {
    "ann@school.org": (["3 * 4 = 12.", "2 + 12 = 14.", "The answer is 14."], -1),
    "ben@school.org": (["3 * 4 = 12.", "2 + 12 = 15.", "The answer is 15."], 2),
    "cy@school.org": (["3 * 4 = 12.", "2 + 12 = 14.", "The answer is 41."], 3),
}
# 4 points, step credit: 4 × (first wrong − 1) / 3 steps, rounded half up to 2 decimals; the teacher corrects Cy's
# first wrong step from 3 (the critic's) to 2, and the correction counts.
EXPECTED_POINTS = {"ann@school.org": "4", "ben@school.org": "1.33", "cy@school.org": "1.33"}
TEACHER_NOTE = "2 + 12 is right, but the answer must repeat it: 14."


def _campaign_to_label(server: Served) -> None:
    """A campaign open to every annotator, with one four-step item."""
    from db.campaigns import create_campaign
    from db.items import add_item
    from db.session import session_scope

    with session_scope(server.database_url) as session:
        campaign = create_campaign(session, name="comments")
        add_item(session, item=SolutionItem(problem=PROBLEM, steps=STEPS), campaign_id=campaign.id)


def _graded_class(server: Served) -> None:
    """A class of three, each solution with a finished critique naming its first wrong step."""
    from db.classes import class_submissions, create_class
    from db.critique_runs import save_critique_run
    from db.session import session_scope
    from db.users import get_user

    problem = "What is 2 + 3 * 4?"
    submissions = [(name, SolutionItem(problem=problem, steps=steps)) for name, (steps, _) in CLASS.items()]
    with session_scope(server.database_url) as session:
        teacher = get_user(session, username="teacher")
        klass = create_class(session, name="Algebra 1", submissions=submissions, created_by_id=teacher.id)
        for sub, (steps, first) in zip(class_submissions(session, campaign_id=klass.id), CLASS.values(), strict=True):
            verdicts = [
                StepResult(index=i, text=t, verdict="incorrect" if i == first else "correct", critique="")
                for i, t in enumerate(steps[: None if first == -1 else first], start=1)
            ]
            result = CritiqueResult(
                problem=problem, steps=verdicts, first_error_step=first, model="scripted", backend="scripted"
            )
            save_critique_run(session, item_id=sub.item_id, result=result, created_by_id=teacher.id)


def test_an_annotator_comments_on_step_3_and_the_reviewer_sees_it(served: Served, browser) -> None:  # noqa: F811
    _campaign_to_label(served)
    page = page_as(browser, served, "annotator", "pw-annotator")
    tab(page, "Annotate")
    pick(page, "#ann-campaign", "comments (0/1 done)")
    page.click(".kbd-help")  # focus leaves the dropdown: the keys rate
    page.keyboard.press("n")
    page.wait_for_selector("#ann-step-4")
    for key, selector, text in [
        ("+", "#ann-step-1", "you: +1 good"),
        ("j", "#ann-info", "current step 2 of"),
        ("+", "#ann-step-2", "you: +1 good"),
        ("j", "#ann-info", "current step 3 of"),
        ("-", "#ann-step-3", "you: −1 wrong"),
    ]:
        page.keyboard.press(key)
        wait_text(page, selector, text)
    fill(page, "#ann-step-comment", COMMENT)
    press(page, "#ann-comment-step", "#ann-status", "Comment set on step 3")
    wait_text(page, "#ann-step-3", COMMENT)
    assert COMMENT not in page.inner_text("#ann-step-2")
    press(page, "#ann-submit", "#ann-status", "Submitted (version 1)")
    shot(page, "step-comment-annotator")

    reviewer = page_as(browser, served, "reviewer", "pw-reviewer")
    tab(reviewer, "Review")
    reviewer.wait_for_selector("#rev-table [data-testid=cell-0-0]")
    press(reviewer, "#rev-table [data-testid=cell-0-0]", "#rev-status", "Annotator annotator says first wrong step = 3")
    wait_text(reviewer, "#rev-cards #ann-step-3", COMMENT)
    step_3 = reviewer.inner_text("#rev-cards #ann-step-3")
    assert "annotator: −1 wrong" in step_3 and "Step comment (annotator)" in step_3, step_3
    assert COMMENT not in reviewer.inner_text("#rev-cards #ann-step-2")
    shot(reviewer, "step-comment-reviewer")


def test_a_teacher_gives_4_points_with_step_credit_and_exports_the_gradebook(
    served: Served,  # noqa: F811
    browser,  # noqa: F811
) -> None:
    _graded_class(served)
    page = page_as(browser, served, "teacher", "pw-teacher")
    tab(page, "Teacher")
    wait_row(page, "#teach-table", "cy@school.org")
    page.wait_for_function("() => document.querySelector('#teach-grade-problem input')?.value.includes('2 + 3 * 4')")
    fill(page, "#teach-points", "4")
    page.click("#teach-rule label:has-text('step credit')")
    press(page, "#teach-save-grading", "#teach-grade-status", "Grading saved: 4 points, step credit.")
    wait_text(page, "#teach-table", "1.33 of 4")
    assert "2.67 of 4" in page.inner_text("#teach-table") and "4 of 4" in page.inner_text("#teach-table")

    page.click("#teach-table [data-testid=cell-2-0]")  # Cy: the critic blamed step 3
    page.wait_for_selector("#teach-cards #step-3")
    pick(page, "#teach-first", "step 2")
    pick(page, "#teach-comment-step", "step 2")
    fill(page, "#teach-step-comment", TEACHER_NOTE)
    press(page, "#teach-save", "#teach-status", "Correction saved.")
    wait_text(page, "#teach-table", f"step 2: {TEACHER_NOTE}")
    cy = [page.inner_text(f"#teach-table [data-testid=cell-2-{column}]").strip() for column in (0, 2, 5, 8)]
    assert cy == ["cy@school.org", "2", "true", "1.33 of 4"], cy  # the correction counts, in the points too

    pick(page, "#teach-id-column", "SIS Login ID")
    press(page, "#teach-export-gradebook", "#teach-grade-status", "Gradebook ready: 3 students.")
    shot(page, "gradebook")
    href = page.locator("#teach-gradebook a[href*='gradebook-canvas.csv']").first.get_attribute("href")
    assert href, "the gradebook has no download link"
    response = page.request.get(href if href.startswith("http") else served.url.rstrip("/") + href)
    assert response.ok, response.status
    rows = list(csv.reader(io.StringIO(response.text())))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Algebra 1"]
    assert rows[1] == ["Points Possible", "", "", "", "", "4"]
    assert {row[3]: row[5] for row in rows[2:]} == EXPECTED_POINTS
