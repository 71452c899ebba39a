"""Final-answer extraction and math-verify answer comparison."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from core.answers import answers_match, extract_final_answer, known_answer, with_known_answers
from core.types import SolutionItem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So x = 2 and the total is \\boxed{18}.", "18"),
        ("First \\boxed{3}, then correcting: \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("Nested \\boxed{\\frac{\\sqrt{3}}{2}} done", "\\frac{\\sqrt{3}}{2}"),
        ("Janet sells 9 eggs at $2.\n#### 18", "18"),
        ("She has 5 left. The answer is 42.", "42"),
        ("The answer is: $\\frac{3}{4}$", "\\frac{3}{4}"),
        ("Thus \\boxed 7 is the value", "7"),
    ],
)
def test_extract_final_answer_finds_the_stated_answer(text: str, expected: str) -> None:
    assert extract_final_answer(text) == expected


@pytest.mark.parametrize("text", [None, "", "   ", "no answer stated here", "\\boxed{unclosed", "\\boxed{}", 17])
def test_extract_final_answer_returns_none_without_an_answer(text: object) -> None:
    assert extract_final_answer(text) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("predicted", "truth"),
    [
        ("18", "18"),
        ("0.5", "\\frac{1}{2}"),
        ("\\frac{\\pi}{2}", "\\pi/2"),
        ("1,000", "1000"),
        ("$18", "18"),
        ("18 dollars", "18"),
        ("x=3", "3"),
        ("(1, 2)", "(1,2)"),
        ("\\text{Monday}", "Monday"),
    ],
)
def test_equivalent_answers_match(predicted: str, truth: str) -> None:
    assert answers_match(predicted, truth)


@pytest.mark.parametrize(
    ("predicted", "truth"),
    [("17", "18"), ("2\\sqrt{3}", "2"), (None, "18"), ("18", None), ("", "18"), ("((((", "18"), ("\\frac{", "1/2")],
)
def test_different_or_unreadable_answers_do_not_match(predicted: str | None, truth: str | None) -> None:
    assert not answers_match(predicted, truth)


def test_answers_match_works_off_the_main_thread() -> None:
    # The web app calls this from worker threads, where math-verify's signal-based timeout cannot be used.
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(answers_match("0.5", "\\frac{1}{2}")))
    worker.start()
    worker.join()
    assert results == [True]


def _item(
    steps: list[str], *, answer: str | None = None, correct: bool | None = None, problem: str = "P"
) -> SolutionItem:
    metadata = {} if correct is None else {"final_answer_correct": correct}
    return SolutionItem(problem=problem, steps=steps, answer=answer, metadata=metadata)


def test_known_answer_prefers_the_answer_field_then_a_correct_solution() -> None:
    assert known_answer(_item(["\\boxed{3}"], answer="4", correct=True)) == "4"
    assert known_answer(_item(["x", "so \\boxed{3}"], correct=True)) == "3"
    # A wrong final answer is not the truth, and an unknown one is unknown.
    assert known_answer(_item(["so \\boxed{3}"], correct=False)) is None
    assert known_answer(_item(["so \\boxed{3}"])) is None


def test_with_known_answers_borrows_the_answer_of_a_correct_sibling(processbench_dir: Path) -> None:
    wrong = _item(["so \\boxed{5}"], correct=False, problem="Q")
    right = _item(["so \\boxed{7}"], correct=True, problem="Q")
    alone = _item(["so \\boxed{1}"], correct=False, problem="R")
    filled = with_known_answers([wrong, right, alone])
    assert [i.answer for i in filled] == ["7", "7", None]

    # On the shared ProcessBench GSM8K set, correct solutions give their own answers and siblings lend theirs.
    data = json.loads((processbench_dir / "gsm8k.json").read_text())
    items = with_known_answers([SolutionItem.from_processbench(obj) for obj in data])
    wrong_with_truth = [i for i in items if i.metadata["final_answer_correct"] is False and i.answer]
    right_with_truth = [i for i in items if i.metadata["final_answer_correct"] is True and i.answer]
    assert len(wrong_with_truth) >= 20 and len(right_with_truth) >= 180
    assert all(not answers_match(solution_answer_of(i), i.answer) for i in wrong_with_truth)


def solution_answer_of(item: SolutionItem) -> str | None:
    return next((a for a in map(extract_final_answer, reversed(item.steps)) if a is not None), None)
