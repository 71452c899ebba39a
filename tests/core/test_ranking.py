"""Best-of-N with the critic vs majority voting, with a scripted generator and critic."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.errors import ConfigError
from core.ranking import Candidate, RankConfig, answer_clusters, critic_pick, majority_pick, rank, ranking_summary
from core.types import CritiqueResult, SolutionItem
from tests.core.scripted_backend import ScriptedBackend

PROBLEM = "Tom has 3 apples and buys 4 more. How many apples does he have?"


def test_equivalent_answers_cluster_together() -> None:
    assert answer_clusters(["0.5", "\\frac{1}{2}", "3", None, "3.0"]) == [0, 0, 1, -1, 1]


def test_majority_pick_takes_the_most_common_answer() -> None:
    assert majority_pick(["8", "7", "8", "7", "7"]) == 1
    assert majority_pick(["8", "7"]) == 0  # tie: the answer seen first
    assert majority_pick([None, None]) is None


def _candidate(answer: str | None, first_error: int | None, share: float = 0.0, steps: int = 3) -> Candidate:
    return Candidate(steps=["s"] * steps, final_answer=answer, critic_first_error=first_error, no_error_share=share)


def test_critic_pick_prefers_no_error_then_vote_share_then_later_errors() -> None:
    assert critic_pick([_candidate("8", 2), _candidate("7", -1, 1.0), _candidate("8", 3)]) == 1
    assert critic_pick([_candidate("8", -1, 0.5), _candidate("7", -1, 0.75)]) == 1
    assert critic_pick([_candidate("8", 1), _candidate("7", 3)]) == 1
    assert critic_pick([_candidate("8", None), _candidate("7", None), _candidate("7", None)]) == 1  # by support
    assert critic_pick([]) is None


def test_among_accepted_candidates_the_critic_picks_the_one_it_is_surest_of() -> None:
    sure = _candidate("7", -1, 1.0).model_copy(update={"confidence": 0.9})
    unsure = _candidate("8", -1, 1.0).model_copy(update={"confidence": 0.4})
    assert critic_pick([unsure, sure]) == 1
    assert critic_pick([sure, _candidate("8", -1, 1.0)]) == 0, "a known confidence beats none"


def test_all_correct_probability_is_the_weakest_judged_step_whatever_the_length() -> None:
    from core.ranking import all_correct_probability
    from core.types import StepResult

    steps = [
        StepResult(index=1, text="a", verdict="correct", p_correct=0.9),
        StepResult(index=2, text="b", verdict="correct", p_correct=0.5),
        StepResult(index=3, text="c", verdict="unchecked"),
    ]
    result = CritiqueResult(problem="p", steps=steps, first_error_step=-1, model="m", backend="b")
    assert all_correct_probability(result) == pytest.approx(0.5)
    longer = [*steps[:2], *(StepResult(index=i, text="x", verdict="correct", p_correct=0.9) for i in range(3, 30))]
    assert all_correct_probability(result.model_copy(update={"steps": longer})) == pytest.approx(0.5)
    assert all_correct_probability(result.model_copy(update={"steps": steps[2:]})) is None


def _generator(prompt: str, sample: int) -> str:
    # 3 of 4 samples make the same mistake, so majority voting goes wrong and a good critic goes right.
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
        )
        for i in items
    ]


def test_rank_beats_majority_when_the_critic_spots_the_common_mistake() -> None:
    generator = ScriptedBackend(_generator)
    calls: list[int] = []

    def counting_critic(items: Sequence[SolutionItem]) -> list[CritiqueResult]:
        calls.append(len(items))
        return _critic(items)

    items = [SolutionItem(id="p1", problem=PROBLEM, steps=["x"]), SolutionItem(id="p2", problem=PROBLEM, steps=["x"])]
    ranked = rank(generator, counting_critic, items, ["7", "7"], RankConfig(candidates=4, seed=0))
    assert len(generator.calls) == 1 and calls == [8], "one generator call and one critic call for all candidates"
    assert ranked[0].critic_pick == 2 and ranked[0].critic_correct
    assert ranked[0].majority_pick == 0 and not ranked[0].majority_correct
    summary = ranking_summary(ranked)
    assert summary["critic_accuracy"] == 1.0 and summary["majority_accuracy"] == 0.0
    assert summary["oracle_accuracy"] == 1.0 and summary["first_sample_accuracy"] == 0.0


def test_empty_generations_are_not_critiqued_and_never_picked_over_real_ones() -> None:
    generator = ScriptedBackend(lambda prompt, i: "" if i == 0 else "Step 1: 3 + 4 = 7\nStep 2: \\boxed{7}")
    [ranked] = rank(generator, _critic, [SolutionItem(problem=PROBLEM, steps=["x"])], ["7"], RankConfig(candidates=2))
    assert ranked.critic_pick == 1 and ranked.candidates[0].critic_first_error is None


def test_fewer_than_two_candidates_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="candidates"):
        RankConfig.build(candidates=1)
