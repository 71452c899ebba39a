"""The project's code tasks: every correct solution passes its tests in the sandbox, every wrong one fails."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from core.code.tasks import load_code_tasks
from core.sandbox import run_tests


def test_the_task_set_is_at_least_40_tasks_each_with_right_and_wrong_solutions() -> None:
    items = load_code_tasks()
    tasks = {item.metadata["task"] for item in items}
    assert len(tasks) >= 40
    for task in tasks:
        labels = [item.label for item in items if item.metadata["task"] == task]
        assert labels.count("correct") == 1 and labels.count("incorrect") >= 1, task
    assert all(item.metadata.get("mistake") for item in items if item.label == "incorrect")


def test_correct_solutions_pass_and_wrong_ones_fail_in_the_sandbox() -> None:
    items = load_code_tasks()
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda item: run_tests(item.code, item.tests), items))
    wrongly_judged = [
        (item.id, report.passed, report.total)
        for item, report in zip(items, reports, strict=True)
        if report.all_passed != (item.label == "correct")
    ]
    assert wrongly_judged == []
    assert all(report.isolation == "bwrap" and not report.timed_out for report in reports)
