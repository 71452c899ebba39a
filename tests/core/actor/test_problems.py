"""Problems with ground truth: seeded word problems whose answers check out, and ProcessBench problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.actor.problems import processbench_problems, split_held_out, word_problems
from core.answers import answers_match
from core.errors import BadInputError
from core.solving import solution_answer
from core.types import SolutionItem


def test_generated_problems_are_seeded_and_their_reference_solution_states_the_answer() -> None:
    problems = word_problems(12, seed=7)
    assert [p.problem for p in problems] == [p.problem for p in word_problems(12, seed=7)]
    assert [p.problem for p in problems] != [p.problem for p in word_problems(12, seed=8)]
    assert {p.metadata["operations"] for p in problems} == {1, 2, 3, 4}
    for p in problems:
        assert p.first_error_step == -1 and p.answer is not None and int(p.answer) >= 0
        assert answers_match(solution_answer(p.steps), p.answer)
        assert len(p.steps) == p.metadata["operations"] + 2  # start, one step per operation, the answer
        assert p.problem.endswith("now?")


def test_the_arithmetic_of_a_generated_problem_is_right() -> None:
    # Every middle step reads "a OP b = c": recompute c from a and b.
    for p in word_problems(20, seed=3):
        for step in p.steps[1:-1]:
            expression, result = step.split(" = ")[0], int(step.split(" = ")[1].split(",")[0])
            a, op, b = expression.split(" ")
            value = {"+": int(a) + int(b), "-": int(a) - int(b), "\\times": int(a) * int(b), "\\div": int(a) // int(b)}
            assert value[op] == result and result >= 0


def test_bad_operation_counts_are_refused() -> None:
    with pytest.raises(BadInputError, match="1 <= min <= max <= 4"):
        word_problems(3, min_operations=2, max_operations=5)


def test_processbench_problems_take_the_truth_from_an_all_correct_solution(processbench_dir: Path) -> None:
    raw = json.loads((processbench_dir / "gsm8k.json").read_text())  # erroneous solutions come first
    items = [SolutionItem.from_processbench(x) for x in raw]
    problems = processbench_problems(items)
    assert problems and len({p.problem for p in problems}) == len(problems)
    assert all(p.first_error_step == -1 and p.answer for p in problems)
    assert all(answers_match(solution_answer(p.steps), p.answer) for p in problems)
    wrong = [i for i in items if i.first_error_step != -1]
    assert not {i.id for i in wrong} & {p.id for p in problems}


def test_held_out_problems_are_kept_apart() -> None:
    train, held = split_held_out(word_problems(10), 3, seed=1)
    assert len(held) == 3 and len(train) == 7 and not {p.id for p in train} & {p.id for p in held}
