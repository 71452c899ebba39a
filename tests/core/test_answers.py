"""Final-answer extraction and math-verify answer comparison."""

from __future__ import annotations

import threading

import pytest

from core.answers import answers_match, extract_final_answer


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
