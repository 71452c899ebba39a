"""DeepCritic seed critique generation with a scripted teacher: three stages, label filter, SFT format."""

from __future__ import annotations

import re

import pytest

from core.errors import BadInputError
from core.parsing import parse_critique
from core.seed_critiques import SeedConfig, generate_seed_critiques
from core.types import SolutionItem
from tests.core.scripted_backend import ScriptedBackend

PROBLEM = "Tom has 3 apples and buys 4 more. How many apples does he have?"
ITEM = SolutionItem(id="w", problem=PROBLEM, steps=["He has 3 apples.", "3 + 4 = 8", "So 8."], first_error_step=2)


def _step_under_review(prompt: str) -> int:
    return int(re.findall(r"Focus only on Step (\d+)", prompt)[-1])


def _teacher(prompt: str, sample: int, *, fooled: bool = False) -> str:
    step = _step_under_review(prompt)
    wrong = "= 8" in prompt.split("[Solution]")[1].split(f"Step {step}:")[1].split("\n\n")[0]
    value = -1 if wrong and not fooled else 1
    if "Merge them" in prompt:
        return (
            f"Step {step} computes {'3 + 4 = 8' if wrong else 'what it should'}. "
            f"Let me double-check: counting on from 3 gives 7.\n"
            f"**Judgement**: The correctness of Step {step} is: \\boxed{{{value}}}"
        )
    if "second, deeper look" in prompt:
        return f"Re-verifying step {step} another way. **Judgement**: Step {step} is: \\boxed{{{value}}}"
    return f"Initial look at step {step}.\n**Judgement**: The correctness of Step {step} is: \\boxed{{{value}}}"


def test_three_batched_teacher_calls_cover_steps_up_to_the_labelled_error() -> None:
    teacher = ScriptedBackend(_teacher)
    [seed] = generate_seed_critiques(teacher, [ITEM], SeedConfig())
    assert len(teacher.calls) == 3, "initial, in-depth and merge, each batched over all steps of all items"
    assert [len(prompts) for prompts, _ in teacher.calls] == [2, 2, 2], "steps 1..2 only: the label stops at 2"
    # The in-depth call sees the initial critique, and the merge sees both.
    assert "Initial look at step 2" in teacher.calls[1][0][1][-1]["content"]
    assert "Re-verifying step 2" in teacher.calls[2][0][1][-1]["content"]

    assert seed.kept and [s.verdict for s in seed.step_seeds] == ["correct", "incorrect"]
    parsed = parse_critique(seed.completion, len(ITEM.steps))
    assert parsed.first_error_step == 2 and parsed.parse_status == "ok"
    assert parsed.steps[1].verdict == "incorrect" and "double-check" in parsed.steps[1].meta_critique

    stored = seed.to_critique_result("scripted")
    assert stored.mode == "deliberate" and stored.first_error_step == 2
    assert [s.verdict for s in stored.steps] == ["correct", "incorrect", "unchecked"]
    assert "Initial look at step 2" in stored.steps[1].critique and "Re-verifying" in stored.steps[1].meta_critique

    record = seed.sft_record()
    assert record["completion"] == seed.completion and record["label_source"] == "human"
    assert record["prompt"][-1]["role"] == "user" and "Step 3: So 8." in record["prompt"][-1]["content"]


def test_critiques_that_disagree_with_the_label_are_dropped() -> None:
    fooled = ScriptedBackend(lambda prompt, i: _teacher(prompt, i, fooled=True))
    [seed] = generate_seed_critiques(fooled, [ITEM], SeedConfig())
    assert not seed.kept and "step(s) [2]" in seed.reason and seed.completion == ""


def test_a_correct_solution_is_critiqued_on_every_step() -> None:
    right = SolutionItem(id="r", problem=PROBLEM, steps=["He has 3.", "3 + 4 = 7"], first_error_step=-1)
    [seed] = generate_seed_critiques(ScriptedBackend(_teacher), [right], SeedConfig())
    assert seed.kept and len(seed.step_seeds) == 2
    assert parse_critique(seed.completion, 2).first_error_step == -1


def test_unlabelled_or_automatically_labelled_items_are_refused() -> None:
    with pytest.raises(BadInputError, match="id='u'.*label"):
        generate_seed_critiques(
            ScriptedBackend(_teacher), [ITEM.model_copy(update={"id": "u", "first_error_step": None})], SeedConfig()
        )
    automatic = ITEM.model_copy(update={"metadata": {"label_source": "monte_carlo"}})
    with pytest.raises(BadInputError, match="automatic"):
        generate_seed_critiques(ScriptedBackend(_teacher), [automatic], SeedConfig())
