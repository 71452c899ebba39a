"""Solving strategies with a scripted actor and critic: what each picks, its rounds and tokens, and the summary."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.actor.scoring import accuracy_summary, paired_bootstrap_accuracy, wilson_interval
from core.actor.strategies import SolveConfig, solve_problems
from core.errors import ConfigError
from core.types import CritiqueResult, SolutionItem
from tests.core.scripted_backend import ScriptedBackend

PROBLEM = SolutionItem(id="p1", problem="Tom has 3 apples and buys 4 more. How many now?", steps=["x"], answer="7")


def _actor(prompt: str, sample: int) -> str:
    if "reviewer found that Step 1 is wrong" in prompt:  # a revision: the actor fixes the flagged step
        return "Step 1: 3 + 4 = 7\nStep 2: So \\boxed{7}"
    if sample == 2:
        return "Step 1: 3 + 4 = 7\nStep 2: So \\boxed{7}"
    return "Step 1: 3 + 4 = 8\nStep 2: So \\boxed{8}"


def _critic(items: Sequence[SolutionItem]) -> list[CritiqueResult]:
    return [
        CritiqueResult(
            id=i.id,
            problem=i.problem,
            steps=[],
            model="m",
            backend="scripted",
            first_error_step=1 if "= 8" in i.steps[0] else -1,
            votes=[1 if "= 8" in i.steps[0] else -1],
            completion_tokens=10,
        )
        for i in items
    ]


def _solve(strategy: str, samples: int = 4, rounds: int = 1) -> object:
    config = SolveConfig(samples=samples, rounds=rounds, seed=0)
    return solve_problems(ScriptedBackend(_actor), _critic, [PROBLEM], strategy, config)[0]


def test_greedy_and_majority_go_with_the_common_wrong_answer() -> None:
    greedy = _solve("greedy")
    assert greedy.samples == 1 and greedy.final_answer == "8" and not greedy.correct and greedy.critic_tokens == 0
    majority = _solve("majority")
    assert majority.answers == ["8", "8", "7", "8"] and majority.final_answer == "8" and not majority.correct
    assert majority.any_correct


def test_critic_rank_picks_the_solution_the_critic_accepts() -> None:
    ranked = _solve("critic-rank")
    assert ranked.correct and ranked.final_answer == "7" and ranked.critic_tokens == 40


def test_critique_refine_shows_each_round_and_votes_over_refined_answers() -> None:
    refined = _solve("critique-refine", samples=2, rounds=2)
    assert refined.answers == ["7", "7"] and refined.correct
    assert refined.critique_rounds == 2  # round 1 flagged step 1 and the actor revised; round 2 accepted
    first, second = refined.rounds
    assert first.critique.first_error_step == 1 and first.revision.final_answer == "7"
    assert second.critique.first_error_step == -1 and second.revision is None
    assert refined.final_steps[0] == "3 + 4 = 7"
    assert refined.critic_tokens == 40  # two solutions, two critiques each


def test_strategies_that_need_a_critic_refuse_to_run_without_one() -> None:
    with pytest.raises(ConfigError, match="needs a critic"):
        solve_problems(ScriptedBackend(_actor), None, [PROBLEM], "critic-rank", SolveConfig(samples=2))


def test_summary_has_accuracy_with_an_interval_per_strategy() -> None:
    rows = [_solve("majority"), _solve("critic-rank")]
    summary = accuracy_summary(rows)
    assert summary["majority"]["accuracy"] == 0.0 and summary["critic-rank"]["accuracy"] == 1.0
    low, high = summary["critic-rank"]["interval"]
    assert 0.0 < low < high == 1.0


def test_intervals_and_paired_bootstrap() -> None:
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.1 < high < 0.2
    assert wilson_interval(0, 0) is None
    boot = paired_bootstrap_accuracy([True] * 15 + [False] * 5, [False] * 15 + [True] * 5, resamples=500)
    assert boot.delta == pytest.approx(0.5) and boot.low > 0
