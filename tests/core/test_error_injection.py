"""Error injection: one step changed detectably, later steps carried on, the first error known and checked."""

from __future__ import annotations

import random

import pytest

from core.error_injection import UNPROVABLE_KINDS, inject_error
from core.symbolic import check_solution
from core.types import NO_ERROR
from core.word_problems import word_problems

PROBLEM = "A farmer has 12 cows and buys 5 more. Each cow gives 3 litres of milk a day. How much milk a day?"
STEPS = ["The farmer has 12 + 5 = 17 cows.", "They give 17 \\times 3 = 51 litres a day.", "The answer is 51."]


def test_a_swapped_operation_keeps_the_arithmetic_true_and_carries_the_value_on() -> None:
    injection = inject_error(PROBLEM, STEPS, "swapped_operation", random.Random(1))
    assert injection is not None
    wrong = injection.steps[injection.first_error_step - 1]
    assert wrong != STEPS[injection.first_error_step - 1]
    # The checker sees nothing: every written equation is still true, only the problem shows the mistake.
    assert check_solution(list(injection.steps)).first_error_step == NO_ERROR
    assert injection.steps[-1] != STEPS[-1]  # the final answer follows the changed value


def test_a_wrong_quantity_comes_from_the_problem() -> None:
    injection = inject_error(PROBLEM, STEPS, "wrong_quantity", random.Random(0))
    assert injection is not None and injection.kind == "wrong_quantity"
    used = injection.detail.split()[0]
    assert used in PROBLEM and used in injection.steps[injection.first_error_step - 1]


def test_an_arithmetic_slip_is_what_the_checker_proves() -> None:
    injection = inject_error(PROBLEM, STEPS, "arithmetic_slip", random.Random(0))
    assert injection is not None
    assert check_solution(list(injection.steps)).first_error_step == injection.first_error_step


def test_a_step_without_arithmetic_gives_no_injection() -> None:
    assert (
        inject_error(
            "What is the colour of the sky?", ["It is blue.", "The answer is blue."], "dropped_term", random.Random(0)
        )
        is None
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_generated_word_problems_are_correct_and_take_every_unprovable_kind(seed: int) -> None:
    problems = word_problems(16, seed=seed)
    assert len({p.problem for p in problems}) == 16
    made = set()
    for n, problem in enumerate(problems):
        assert check_solution(list(problem.steps)).first_error_step == NO_ERROR
        assert problem.steps[-1] == f"The answer is {problem.answer}."
        for kind in UNPROVABLE_KINDS:
            injection = inject_error(problem.problem, problem.steps, kind, random.Random(n))
            if injection is not None:
                made.add(kind)
                assert injection.steps[-1] != problem.steps[-1]
    assert made == set(UNPROVABLE_KINDS)
