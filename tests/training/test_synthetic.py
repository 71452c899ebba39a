"""The injected-error data source: balanced pairs, mostly errors the checker cannot prove, labels by construction."""

from __future__ import annotations

from core.symbolic import check_solution
from core.types import NO_ERROR, SolutionItem
from training.synthetic import injected_items


def test_pairs_are_balanced_and_mostly_unprovable() -> None:
    solution = SolutionItem(
        id="pb-1",
        problem="Mia reads 12 pages a day for 5 days and then 7 more pages. How many pages?",
        steps=["In 5 days she reads 12 \\times 5 = 60 pages.", "Then 60 + 7 = 67 pages.", "So \\boxed{67}."],
        first_error_step=NO_ERROR,
    )
    data = injected_items(word_problem_count=40, correct_solutions=[solution], seed=3, provable_share=0.2)
    correct = [i for i in data.items if i.first_error_step == NO_ERROR]
    wrong = [i for i in data.items if i.first_error_step != NO_ERROR]
    assert len(correct) == len(wrong) == sum(data.sources.values()) and data.sources["solution"] == 1
    # Each pair shares its problem (a split by problem keeps it on one side); the label is the changed step.
    for ok, bad in zip(correct, wrong, strict=True):
        assert ok.problem == bad.problem
        assert bad.steps[: bad.first_error_step - 1] == ok.steps[: bad.first_error_step - 1]
        assert bad.steps[bad.first_error_step - 1] != ok.steps[bad.first_error_step - 1]
    provable = sum(check_solution(i.steps).first_error_step == i.first_error_step for i in wrong)
    assert data.kinds.get("arithmetic_slip", 0) == provable
    assert 0 < provable < len(wrong) / 2
