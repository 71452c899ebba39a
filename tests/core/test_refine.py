"""Critique-guided refinement with a scripted generator and critic: prompts, revisions, rounds, diffs, metrics."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.errors import ConfigError
from core.refine import (
    RefineConfig,
    apply_revision,
    outcome,
    refine,
    revision_messages,
    step_diff,
    transition_rates,
)
from core.types import CritiqueResult, SolutionItem, StepResult
from tests.core.scripted_backend import ScriptedBackend

PROBLEM = "Tom has 3 apples and buys 4 more. How many apples does he have?"
WRONG = SolutionItem(id="w", problem=PROBLEM, steps=["He has 3 apples.", "3 + 4 = 8", "So \\boxed{8}"], answer="7")
RIGHT = SolutionItem(id="r", problem=PROBLEM, steps=["He has 3 apples.", "3 + 4 = 7", "So \\boxed{7}"], answer="7")


def _critique(item: SolutionItem, first_error: int | None) -> CritiqueResult:
    steps = []
    for index, text in enumerate(item.steps, start=1):
        wrong = first_error not in (None, -1) and index == first_error
        steps.append(
            StepResult(
                index=index,
                text=text,
                verdict="incorrect" if wrong else "correct",
                critique="3 + 4 is 7, not 8." if wrong else "Fine.",
                meta_critique="Recounting: 3, 4, 5, 6, 7." if wrong else "",
            )
        )
    return CritiqueResult(
        id=item.id, problem=item.problem, steps=steps, first_error_step=first_error, model="m", backend="scripted"
    )


def _looking_critic(items: Sequence[SolutionItem]) -> list[CritiqueResult]:
    # Flags the step containing "= 8"; accepts everything else.
    results = []
    for item in items:
        bad = next((i for i, s in enumerate(item.steps, start=1) if "= 8" in s), -1)
        results.append(_critique(item, bad))
    return results


def _fixing_generator(prompt: str, sample: int) -> str:
    if "Step 2 is wrong" in prompt:
        return "Step 2: 3 + 4 = 7\nStep 3: So \\boxed{7}"
    return "Step 1: He has 3 apples.\nStep 2: 3 + 4 = 8\nStep 3: So \\boxed{8}"  # without help: unchanged


def test_prompt_with_a_critique_names_the_wrong_step_and_keeps_the_prefix() -> None:
    user = revision_messages(WRONG, _critique(WRONG, 2))[-1]["content"]
    assert "Step 2 is wrong" in user and "Step 1 is correct and stays as it is" in user
    assert "3 + 4 is 7, not 8." in user and "Recounting" in user
    assert "Rewrite the solution from Step 2 on" in user
    baseline = revision_messages(WRONG, None)[-1]["content"]
    assert "Review this solution" in baseline and "wrong" not in baseline


def test_revision_keeps_the_correct_prefix_and_replaces_the_rest() -> None:
    revision = apply_revision(WRONG, _critique(WRONG, 2), "Step 2: 3 + 4 = 7\nStep 3: So \\boxed{7}")
    assert revision.steps == ["He has 3 apples.", "3 + 4 = 7", "So \\boxed{7}"]
    assert revision.kept_steps == 1 and revision.final_answer == "7" and revision.changed
    # Garbage output keeps the original solution rather than losing it.
    kept = apply_revision(WRONG, _critique(WRONG, 2), "")
    assert kept.steps == WRONG.steps and not kept.changed


def test_step_diff_marks_kept_changed_added_and_removed_steps() -> None:
    rows = step_diff(["a", "b", "c"], ["a", "B", "c", "d"])
    assert [(r.status, r.before_index, r.after_index) for r in rows] == [
        ("kept", 1, 1),
        ("changed", 2, 2),
        ("kept", 3, 3),
        ("added", None, 4),
    ]
    assert [r.status for r in step_diff(["a", "b", "c"], ["a"])] == ["kept", "removed", "removed"]


def test_ctrl_rounds_stop_when_the_critic_accepts() -> None:
    generator = ScriptedBackend(_fixing_generator)
    [fixed, untouched] = refine(generator, _looking_critic, [WRONG, RIGHT], RefineConfig(rounds=3))
    assert fixed.final_answer == "7" and fixed.stop_reason == "accepted"
    # The revision succeeded: its final answer matches the ground truth (math-verify).
    assert fixed.answer_matches is True and fixed.rounds[0].revision.answer_matches is True
    assert [r.critique.first_error_step for r in fixed.rounds] == [2, -1]
    assert fixed.rounds[0].revision is not None and fixed.rounds[1].revision is None
    assert untouched.final_steps == RIGHT.steps and len(untouched.rounds) == 1
    assert len(generator.calls) == 1, "one batched generator call per round with revisions"


def test_rounds_run_out_when_the_generator_never_fixes_it() -> None:
    stubborn = ScriptedBackend(lambda prompt, i: "Step 2: 3 + 4 = 8\nStep 3: So \\boxed{8}")
    [result] = refine(stubborn, _looking_critic, [WRONG], RefineConfig(rounds=2))
    assert result.stop_reason == "max_rounds" and len(result.rounds) == 2 and result.final_answer == "8"
    assert result.answer_matches is False


def test_unreadable_critique_leaves_the_solution_alone() -> None:
    generator = ScriptedBackend(_fixing_generator)
    [result] = refine(generator, lambda items: [_critique(i, None) for i in items], [WRONG], RefineConfig())
    assert result.stop_reason == "critique_unreadable" and result.final_steps == WRONG.steps
    assert generator.calls == []


def test_transition_rates_count_wrong_to_right_and_right_to_wrong() -> None:
    generator = ScriptedBackend(_fixing_generator)
    with_critique = refine(generator, _looking_critic, [WRONG, RIGHT], RefineConfig())
    without = refine(generator, None, [WRONG, RIGHT], RefineConfig(use_critique=False))
    assert not without[0].used_critique and without[0].rounds[0].critique is None
    rates = transition_rates([outcome(i, "7", r) for i, r in zip([WRONG, RIGHT], with_critique, strict=True)])
    assert rates["w_to_c_rate"] == 1.0 and rates["c_to_w_rate"] == 0.0 and rates["accuracy_after"] == 1.0
    baseline = transition_rates([outcome(i, "7", r) for i, r in zip([WRONG, RIGHT], without, strict=True)])
    assert baseline["w_to_c_rate"] == 0.0 and baseline["c_to_w_rate"] == 1.0  # the baseline rewrote RIGHT as 8
    assert transition_rates([])["w_to_c_rate"] is None


def test_bad_rounds_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="rounds"):
        RefineConfig.build(rounds=0)
