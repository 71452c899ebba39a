"""Monte Carlo step labels from rollouts, with a scripted generator."""

from __future__ import annotations

import pytest

from core.errors import BadInputError, ConfigError
from core.mc_labels import MCLabelConfig, first_error_from_rates, label_items, labelled_record
from core.types import SolutionItem
from tests.core.scripted_backend import ScriptedBackend

PROBLEM = "Tom has 3 apples and buys 4 more. How many apples does he have?"


def _generator(prompt: str, sample: int) -> str:
    # A prefix containing the bad step never recovers; otherwise 3 of 4 rollouts find 7.
    if "3 + 5" in prompt:
        return "Step 9: so \\boxed{8}"
    return "Step 9: so \\boxed{7}" if sample % 4 != 3 else "Step 9: I think \\boxed{6}"


def test_first_error_is_the_first_step_with_no_successful_rollout() -> None:
    assert first_error_from_rates([1.0, 0.5, 0.0, 0.25]) == 3
    assert first_error_from_rates([0.0]) == 1
    assert first_error_from_rates([0.75, 0.25, 1.0]) == -1
    assert first_error_from_rates([]) == -1


def test_labels_find_the_step_that_ruins_the_solution_in_one_backend_call() -> None:
    wrong = SolutionItem(id="w", problem=PROBLEM, steps=["He has 3.", "3 + 5 = 8", "\\boxed{8}"], answer="7")
    right = SolutionItem(id="r", problem=PROBLEM, steps=["He has 3.", "3 + 4 = 7", "\\boxed{7}"], answer="7")
    backend = ScriptedBackend(_generator)
    labels = label_items(backend, [wrong, right], MCLabelConfig(rollouts=4, seed=1))

    assert len(backend.calls) == 1, "all prefixes of all items go to the backend together"
    prompts, params = backend.calls[0]
    assert params.n == 4 and params.temperature > 0
    # The last step states an answer, so it is checked directly instead of rolled out.
    assert len(prompts) == 4
    assert labels[0].first_error_step == 2 and labels[0].success_rates == [0.75, 0.0, 0.0]
    assert labels[1].first_error_step == -1 and labels[1].success_rates == [0.75, 0.75, 1.0]
    assert labels[0].rollout_answers[0] == ["7", "7", "7", "6"]


def test_processbench_items_use_their_own_answer_when_it_is_correct() -> None:
    item = SolutionItem.from_processbench(
        {"id": "pb", "problem": PROBLEM, "steps": ["3 + 4 = 7", "\\boxed{7}"], "final_answer_correct": True}
    )
    [label] = label_items(ScriptedBackend(_generator), [item], MCLabelConfig(rollouts=2))
    assert label.answer == "7" and label.first_error_step == -1


def test_items_without_a_known_answer_are_refused_with_their_id() -> None:
    item = SolutionItem(id="x9", problem=PROBLEM, steps=["\\boxed{8}"], metadata={"final_answer_correct": False})
    backend = ScriptedBackend(_generator)
    with pytest.raises(BadInputError, match="x9.*answer"):
        label_items(backend, [item], MCLabelConfig(rollouts=2))
    assert backend.calls == []


def test_record_marks_the_label_automatic_and_keeps_the_human_label_apart() -> None:
    item = SolutionItem(id="w", problem=PROBLEM, steps=["3 + 5 = 8", "\\boxed{8}"], answer="7", first_error_step=1)
    [label] = label_items(ScriptedBackend(_generator), [item], MCLabelConfig(rollouts=2))
    record = labelled_record(item, label)
    assert record["label"] == 0 and record["label_source"] == "monte_carlo"
    assert record["human_label"] == 0 and record["mc_success_rates"] == [0.0, 0.0]
    # Relabelling an automatic file keeps the original human label, never the automatic one in its place.
    again = SolutionItem.from_processbench({**record, "label": -1})
    assert labelled_record(again, label)["human_label"] == 0


@pytest.mark.parametrize("values", [{"rollouts": 0}, {"temperature": 0}, {"max_new_tokens": 1}])
def test_bad_config_names_the_option(values: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(values))):
        MCLabelConfig.build(**values)
