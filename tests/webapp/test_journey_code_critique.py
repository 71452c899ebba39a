"""Code in the browser against a real `critic serve` (tiny model): the Critique tab's Python section, and an
annotator who labels a critiqued code item and rates its critique, which the reviewer then reads in Review."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.webapp import journey
from tests.webapp.journey import (
    Served,
    fill,
    page_as,
    press,
    shot,
    tab,
    wait_text,
)

# A critique by the tiny model under the grammar on a shared 2-core CPU takes a while: more than the default timeout.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1200)]

PROBLEM = "Write count_vowels(s): how many of the letters of s are vowels (a, e, i, o, u, in either case)."
WRONG = 'def count_vowels(s):\n    return sum(1 for c in s if c in "aeiou")\n'
TESTS = 'assert count_vowels("hello") == 2\nassert count_vowels("APPLE") == 2\nassert count_vowels("") == 0'


@pytest.fixture(scope="module", autouse=True)
def _patient_server_start() -> Iterator[None]:
    """`critic serve` may take minutes to answer on a loaded 2-core machine: wait up to ten (before `served`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journey, "wait_for_http", functools.partial(journey.wait_for_http, timeout=600.0))
        yield


def _type_code(page, elem_id: str, text: str) -> None:
    """Replace what a code editor holds, as a person does: click into it, select all, type."""
    page.click(f"{elem_id} .cm-content")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def test_a_wrong_python_solution_fails_its_tests_on_the_critique_tab(served: Served, browser) -> None:  # noqa: F811
    page = page_as(browser, served, "annotator", "pw-annotator")
    tab(page, "Critique")
    page.click("#code-section button")  # the accordion opens
    fill(page, "#code-problem", PROBLEM)
    _type_code(page, "#code-editor", WRONG)
    _type_code(page, "#code-tests", TESTS)
    page.click("#code-run")
    wait_text(page, "#code-card", "Verdict:", timeout=600_000)

    # The tests ran in the sandbox: the failing one is named with what it expected and what it got.
    wait_text(page, "#code-results", 'assert count_vowels("APPLE") == 2')
    cells = page.eval_on_selector_all(
        "#code-results [data-testid^='cell-']", "els => els.map(el => [el.dataset.testid, el.innerText.trim()])"
    )
    grid: dict[int, dict[int, str]] = {}
    for testid, text in cells:
        _, row, column = testid.split("-")
        grid.setdefault(int(row), {})[int(column)] = text
    rows = [[grid[r].get(c, "") for c in range(5)] for r in sorted(grid)]
    by_test = {row[0]: row[1:] for row in rows}
    assert 'assert count_vowels("APPLE") == 2' in by_test, rows
    assert by_test['assert count_vowels("APPLE") == 2'][:3] == ["failed", "2", "0"], rows
    assert by_test['assert count_vowels("hello") == 2'][0] == "passed", rows
    assert by_test['assert count_vowels("") == 0'][0] == "passed", rows
    card = page.inner_text("#code-card")
    assert "✗ incorrect" in card and "decided by the tests" in card, card
    assert "2 of 3 tests passed" in card and "Failing test:" in card, card
    # The analysis opens with the failing test and its values, whatever the (tiny, random) model wrote after.
    assert 'The test `assert count_vowels("APPLE") == 2`: expected 2, got 0.' in card, card
    shot(page, "code-critique-tab")


def _campaign_of_one_code_item(server: Served, tmp_path: Path) -> None:
    """The admin's part (its own journey covers the Admin tab): one wrong code item imported into campaign `py`,
    its critique queued for the server's worker, which critiques it from its tests."""
    from core.code.tasks import load_code_tasks
    from db.campaigns import get_campaign
    from db.critique_runs import latest_critique_run
    from db.importer import import_file
    from db.models import CampaignItem
    from db.session import session_scope
    from training.item_critiques import queue_item_critiques

    wrong = next(item for item in load_code_tasks() if item.label == "incorrect")
    source = tmp_path / "py.jsonl"
    source.write_text(json.dumps(wrong.model_copy(update={"label": None}).to_json()) + "\n")
    assert import_file(source, fmt="jsonl", campaign="py", url=server.database_url).new_items == 1
    with session_scope(server.database_url) as session:
        campaign_id = get_campaign(session, name="py").id
        assert queue_item_critiques(session, campaign_id=campaign_id) is not None
        item_id = session.scalar(select(CampaignItem.item_id).where(CampaignItem.campaign_id == campaign_id))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with session_scope(server.database_url) as session:
            if latest_critique_run(session, item_id=item_id) is not None:
                return
        time.sleep(2)
    pytest.fail("the worker did not critique the code item within 10 minutes")


def test_an_annotator_rates_the_critique_of_a_code_item_and_the_reviewer_sees_it(
    served: Served,  # noqa: F811
    browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    from db.annotations import annotation_events
    from db.models import Annotation
    from db.session import session_scope

    _campaign_of_one_code_item(served, tmp_path)
    page = page_as(browser, served, "annotator", "pw-annotator")
    tab(page, "Annotate")
    page.click("#ann-campaign input")
    page.get_by_role("option", name="py (0/1 done)", exact=True).click()
    page.click(".kbd-help")  # focus leaves the dropdown: from here on, keys and buttons
    page.keyboard.press("n")
    page.wait_for_selector("#ann-step-1")
    wait_text(page, "#ann-info", "critique: not rated yet")
    step = page.inner_text("#ann-step-1")
    assert "critic: incorrect" in step and "assert" in step, step  # the failing test decided, and is named

    page.keyboard.press("-")  # the code is incorrect
    wait_text(page, "#ann-step-1", "you: −1 wrong")
    page.keyboard.press("1")
    wait_text(page, "#ann-info", "critique: helpful")
    page.click("#ann-critique-partly")  # on second thought: right verdict, thin reasons
    wait_text(page, "#ann-info", "critique: partly helpful")
    legend = page.inner_text("#tab-annotate")
    assert "rate the critique helpful" in legend and "rate the critique misleading" in legend
    page.keyboard.press("s")
    wait_text(page, "#ann-status", "Submitted (version 1)")
    shot(page, "code-annotate-critique-rating")

    with session_scope(served.database_url) as session:
        annotation = session.scalars(select(Annotation)).one()
        assert (annotation.critique_rating, annotation.first_error_step, annotation.status) == (
            "partly",
            1,
            "submitted",
        )
        assert annotation.critique_run_id is not None  # the rating answers the critique that was on screen
        events = annotation_events(session, annotation_id=annotation.id)
        assert events[-1].after["critique_rating"] == "partly"
        annotation_id = annotation.id

    reviewer = page_as(browser, served, "reviewer", "pw-reviewer")
    tab(reviewer, "Review")
    reviewer.wait_for_selector("#rev-table [data-testid=cell-0-0]")
    assert "partly" in reviewer.inner_text("#rev-table")
    fill(reviewer, "#rev-annotation-id", str(annotation_id))
    press(reviewer, "#rev-open", "#rev-status", "They rated the critique: partly helpful.")
    shot(reviewer, "code-review-critique-rating")
