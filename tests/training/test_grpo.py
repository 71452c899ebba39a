"""GRPO rewards on hand-written completions: only a complete critique in the format earns them."""

from __future__ import annotations

import pytest

from training.grpo import correctness_reward, format_reward

BLOCK_1_OK = (
    "**Critique of Step 1**: 5 + 8 = 13, as written.\n**Judgement**: The correctness of Step 1 is: \\boxed{1}\n\n"
)
BLOCK_2_WRONG = (
    "**Critique of Step 2**: 13 * 2 is 26, but the step writes 28.\n"
    "**Meta-critique**: Halving 28 gives 14, not 13, so the product is indeed wrong.\n"
    "**Judgement**: The correctness of Step 2 is: \\boxed{-1}\n\n"
)
COMPLETE = BLOCK_1_OK + BLOCK_2_WRONG + "**Answer**: \\boxed{2}"

# (completion, correctness reward, format reward) for a 3-step solution whose first wrong step is 2.
CASES = {
    "complete critique": (COMPLETE, 1.0, 1.0),
    "complete critique naming the wrong step": (
        BLOCK_1_OK.replace("{1}", "{-1}") + "**Answer**: \\boxed{1}",
        0.0,
        1.0,
    ),
    "bare answer box": ("**Answer**: \\boxed{2}", 0.0, 0.0),
    "math answer in a box": ("The final sum is 28, so the answer is \\boxed{2}.", 0.0, 0.0),
    "judgements with no answer": (BLOCK_1_OK + BLOCK_2_WRONG, 0.0, 0.0),
    "answer contradicting the judgements": (BLOCK_1_OK + BLOCK_2_WRONG + "**Answer**: \\boxed{3}", 0.0, 0.0),
    "answer agreeing with contradicting judgements": (
        BLOCK_1_OK.replace("{1}", "{-1}") + BLOCK_2_WRONG + "**Answer**: \\boxed{2}",
        0.0,
        0.0,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rewards_on_hand_written_completions(name: str) -> None:
    text, correctness, form = CASES[name]
    assert correctness_reward([text], first_error_step=[2], num_steps=[3]) == [correctness]
    assert format_reward([text], num_steps=[3]) == [form]


def test_rewards_read_conversational_completions_and_all_correct_labels() -> None:
    all_correct = (
        BLOCK_1_OK
        + BLOCK_1_OK.replace("Step 1", "Step 2").replace("5 + 8 = 13", "13 * 2 = 26")
        + BLOCK_1_OK.replace("Step 1", "Step 3").replace("5 + 8 = 13", "26 - 4 = 22")
        + "**Answer**: \\boxed{-1}"
    )
    completions = [[{"role": "assistant", "content": all_correct}], [{"role": "assistant", "content": COMPLETE}]]
    assert correctness_reward(completions, first_error_step=[-1, -1], num_steps=[3, 3]) == [1.0, 0.0]
    assert format_reward(completions, num_steps=[3, 3]) == [1.0, 1.0]


SOLUTION = ["5 + 8 = 13 apples.", "Twice that is 13 * 2 = 28.", "So the answer is 28."]


def _labels_only(critiques: list[str]) -> str:
    blocks = [
        f"**Critique of Step {n}**: {text}\n"
        f"**Judgement**: The correctness of Step {n} is: \\boxed{{{1 if n < 2 else -1}}}"
        for n, text in enumerate(critiques, start=1)
    ]
    return "\n\n".join(blocks) + "\n\n**Answer**: \\boxed{2}"


FARMING = {
    "bare labels": _labels_only([".", "."]),
    "a word or two per step": _labels_only(["This step is right.", "This step is wrong."]),
    "one sentence for every step": _labels_only(["This step follows from what came before it."] * 2),
    "the step copied back": _labels_only(["This step says: 5 + 8 = 13 apples.", "Twice that is 13 * 2 = 28."]),
}


@pytest.mark.parametrize("name", list(FARMING))
def test_bare_labels_and_copies_earn_nothing(name: str) -> None:
    text = FARMING[name]
    assert correctness_reward([text], first_error_step=[2], num_steps=[3], steps=[SOLUTION]) == [0.0]
    assert format_reward([text], num_steps=[3], steps=[SOLUTION]) == [0.0]
    # The same judgements with a critique of each step's own earn the reward.
    real = _labels_only(["This step adds the two counts correctly, 5 and 8 make 13.", "13 * 2 is 26, not 28."])
    assert correctness_reward([real], first_error_step=[2], num_steps=[3], steps=[SOLUTION]) == [1.0]
