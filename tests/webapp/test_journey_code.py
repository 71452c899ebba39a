"""A programming teacher's journey in the system Chromium against a real `critic serve` (tiny model).

The teacher uploads a class of five Python submissions for one problem, gives the problem's tests once, sees each
student's test results and critique, overrules one verdict, and exports the report with the tests each passed.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webapp import journey
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

# Five critiques by the tiny model under the grammar on a shared CPU take minutes: more than the default timeout.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800)]

PROBLEM = "Write sum_to_n(n) that returns 1 + 2 + ... + n, and 0 when n < 1."
TESTS = "assert sum_to_n(1) == 1\nassert sum_to_n(5) == 15\nassert sum_to_n(0) == 0\nassert sum_to_n(10) == 55"
SUBMISSIONS = [
    ("Ann", "def sum_to_n(n):\n    total = 0\n    for i in range(1, n + 1):\n        total += i\n    return total\n"),
    ("Ben", "def sum_to_n(n):\n    total = 0\n    for i in range(1, n):\n        total += i\n    return total\n"),
    ("Cy", "def sum_to_n(n):\n    return sum(range(n + 1))\n"),
    ("Dee", "def sum_to_n(n)\n    return n\n"),
    # Passes every test, yet sum_to_n(-3) is 3: the case the tests miss and the teacher catches.
    ("Eve", "def sum_to_n(n):\n    return n * (n + 1) // 2\n"),
]
EXPECTED_PASSED = {"Ann": "4", "Ben": "1", "Cy": "4", "Dee": "0", "Eve": "4"}


@pytest.fixture(scope="module", autouse=True)
def _patient_server_start() -> Iterator[None]:
    """`critic serve` may take minutes to answer on a loaded 2-core machine: wait up to ten (before `served`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journey, "wait_for_http", functools.partial(journey.wait_for_http, timeout=600.0))
        yield


def _class_file(path: Path) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "code"])
    writer.writerows(SUBMISSIONS)
    path.write_text(out.getvalue())
    return path


def test_teacher_grades_a_class_of_python_submissions(served: Served, browser, tmp_path: Path) -> None:  # noqa: F811
    page = page_as(browser, served, "teacher", "pw-teacher")
    tab(page, "Teacher")
    fill(page, "#teach-name", "Python 1")
    page.set_input_files("#teach-file input[type=file]", str(_class_file(tmp_path / "python-1.csv")))
    wait_text(page, "#teach-file", "python-1.csv")
    page.get_by_text("Code submissions: the problem and tests they share").click()
    fill(page, "#teach-code-problem", PROBLEM)
    page.click("#teach-code-tests .cm-content")
    page.keyboard.insert_text(TESTS)
    press(page, "#teach-start", "#teach-status", "critiquing 5 solutions")
    # Their tests run in the sandbox first, then the critic writes (one batch: the count jumps when it is stored).
    wait_text(page, "#teach-progress", "5 of 5 solutions critiqued", timeout=900_000)

    # Every student's tests passed, and the verdict: failing tests make a solution incorrect.
    for student, passed in EXPECTED_PASSED.items():
        wait_row(page, "#teach-table", student)
        assert f"{passed}/4" in page.inner_text("#teach-table")

    # Ben's off-by-one: the code, each test's result, and a critique that names the failing test.
    page.click("#teach-table [data-testid=cell-1-0]")
    wait_text(page, "#teach-cards", "Verdict:")
    wait_text(page, "#teach-code-view", "range(1, n)")
    tests_table = page.inner_text("#teach-tests")
    assert "assert sum_to_n(5) == 15" in tests_table and "failed" in tests_table and "passed" in tests_table
    cards = page.inner_text("#teach-cards")
    assert "✗ incorrect" in cards and "1 of 4 tests passed" in cards and "assert sum_to_n(1) == 1" in cards
    shot(page, "code-teacher-ben")

    # Eve passes every test but fails for negative n: the teacher overrules the verdict.
    page.click("#teach-table [data-testid=cell-4-0]")
    wait_text(page, "#teach-code-view", "n * (n + 1) // 2")
    wait_text(page, "#teach-cards", "4 of 4 tests passed")
    pick(page, "#teach-first", "incorrect: the code is wrong")
    fill(page, "#teach-comment", "sum_to_n(-3) should be 0, not 3.")
    press(page, "#teach-save", "#teach-status", "Correction saved.")
    wait_text(page, "#teach-table", "should be 0, not 3")
    wait_row(page, "#teach-table", "Eve", "5", "1", "incorrect", "4/4")

    press(page, "#teach-export", "#teach-status", "Report ready.")
    wait_text(page, "#teach-files", ".csv")
    shot(page, "code-teacher")
    href = page.locator("#teach-files a[href*='report.csv']").first.get_attribute("href")
    assert href, "the report has no download link"
    response = page.request.get(href if href.startswith("http") else served.url.rstrip("/") + href)
    assert response.ok, response.status
    report = {row["student"]: row for row in csv.DictReader(io.StringIO(response.text()))}
    assert {student: row["tests_passed"] for student, row in report.items()} == EXPECTED_PASSED
    assert all(row["tests_total"] == "4" for row in report.values())
    assert report["Eve"]["verdict"] == "incorrect" and report["Eve"]["comment"] == "sum_to_n(-3) should be 0, not 3."
    assert report["Ben"]["verdict"] == "incorrect" and report["Dee"]["verdict"] == "incorrect"
    assert report["Ben"]["failing_test"] == "assert sum_to_n(1) == 1"
