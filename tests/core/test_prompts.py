"""Prompt building: the DeepCritic prompt and the deliberate-mode prompts a model actually receives."""

from __future__ import annotations

from core.prompts import (
    critique_messages,
    format_steps,
    in_depth_critique_messages,
    initial_critique_messages,
    merge_critique_messages,
)

STEPS = ["Natalia sold 48/2 = <<48/2=24>>24 clips in May.", "In total 48+24 = <<48+24=72>>72.", "The answer is 72."]


def test_deepcritic_prompt_numbers_steps_from_one_and_asks_for_a_boxed_index() -> None:
    messages = critique_messages("How many clips?", STEPS)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "How many clips?" in user
    assert "Step 1: Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n\nStep 2: In total" in user
    assert "Step 3: The answer is 72." in user and "Step 0" not in user and "Step 4" not in user
    assert "\\boxed{-1}" in user and "**Answer**: \\boxed{k}" in user and "**Critique of Step 1**" in user
    assert format_steps(["a"]) == "Step 1: a"


FINDINGS = [(1, "verified", "48/2 = 24"), (2, "wrong", "48+24 = 73 is false (48+24 = 72)")]


def test_checker_findings_reach_the_prompt_per_profile() -> None:
    """A capable model sees what the checker verified and what it proved false; a small one only the proven errors
    (a long list of verified lines made the embedded model doubt correct steps)."""
    structure = critique_messages("How many clips?", STEPS, profile="structure", findings=FINDINGS)[1]["content"]
    tight = critique_messages("How many clips?", STEPS, profile="tight", findings=FINDINGS)[1]["content"]
    assert "Checker: step 1: 48/2 = 24 holds." in structure and "Checker: step 2: 48+24 = 73 is false" in structure
    assert "holds" not in tight and "Checker: step 2: 48+24 = 73 is false (48+24 = 72)." in tight
    assert "judge it \\boxed{-1}" in tight, "a proven error comes with the rule that it is judged -1"
    assert "[Checker]" not in critique_messages("P?", STEPS, profile="tight", findings=FINDINGS[:1])[1]["content"]


def test_deliberate_prompts_show_steps_up_to_the_one_under_review() -> None:
    initial = initial_critique_messages("P?", STEPS, 2)[1]["content"]
    assert "Step 2: In total" in initial and "Step 3" not in initial.split("[Solution]")[1].split("Assume")[0]
    assert "Assume Step 1 is correct" in initial and "The correctness of Step 2 is" in initial
    first = initial_critique_messages("P?", STEPS, 1)[1]["content"]
    assert "Focus only on Step 1" in first and "Assume" not in first
    deeper = in_depth_critique_messages("P?", STEPS, 3, "It adds 48 and 24 correctly.")[1]["content"]
    assert "[Initial critique]\nIt adds 48 and 24 correctly." in deeper and "different method" in deeper
    assert "Assume Steps 1 to 2 are correct" in deeper
    merged = merge_critique_messages("P?", STEPS, 3, "first view", "second view")[1]["content"]
    assert "[Initial critique]\nfirst view" in merged and "[In-depth critique]\nsecond view" in merged
    assert "\\boxed{-1}" in merged
