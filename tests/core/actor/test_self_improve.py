"""Critique-in-the-loop exploration: right samples kept, wrong ones refined, per-round numbers, balanced SFT data."""

from __future__ import annotations

from core.actor.self_improve import balanced_examples, explore, merge_explorations
from core.actor.strategies import SolveConfig
from core.types import SolutionItem
from tests.core.actor.test_strategies import _actor, _critic
from tests.core.scripted_backend import ScriptedBackend

PROBLEMS = [
    SolutionItem(id="p1", problem="Tom has 3 apples and buys 4 more. How many now?", steps=["x"], answer="7"),
    SolutionItem(id="p2", problem="Ann has 3 pens and buys 4 more. How many now?", steps=["x"], answer="7"),
]


def _never_right(prompt: str, sample: int) -> str:
    if "reviewer found" in prompt:
        return "Step 1: 3 + 4 = 7\nStep 2: So \\boxed{7}"
    return "Step 1: 3 + 4 = 8\nStep 2: So \\boxed{8}"


def test_refinement_explores_problems_sampling_alone_never_solves() -> None:
    config = SolveConfig(samples=2, rounds=1, seed=0)
    plain = explore(ScriptedBackend(_never_right), None, PROBLEMS, config)
    assert [r.explored for r in plain.rounds] == [0] and not plain.kept
    guided = explore(ScriptedBackend(_never_right), _critic, PROBLEMS, config)
    assert [(r.round, r.explored, r.from_refinement) for r in guided.rounds] == [(0, 0, 0), (1, 2, 4)]
    assert all(k.origin == "refinement" and k.round == 1 for k in guided.kept)
    assert guided.critic_tokens == 40 and guided.actor_tokens > 0


def test_examples_are_balanced_per_problem_and_distinct() -> None:
    config = SolveConfig(samples=4, rounds=1, seed=0)
    exploration = merge_explorations(
        [explore(ScriptedBackend(_actor), _critic, [p], config) for p in PROBLEMS], rounds=1
    )
    assert exploration.rounds[0].explored == 2 and exploration.rounds[1].from_refinement == 6
    # Every right solution is the same path, so one distinct solution per problem remains.
    assert exploration.rounds[1].diversity == 1.0
    examples = balanced_examples(PROBLEMS, exploration.kept, max_per_problem=2)
    assert len(examples) == 2
    assert examples[0]["prompt"][-1]["content"].endswith(PROBLEMS[0].problem)
    assert examples[0]["completion"].startswith("Step 1: 3 + 4 = 7") and "\\boxed{7}" in examples[0]["completion"]
