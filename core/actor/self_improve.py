"""Critique-in-the-loop self-improvement (AutoMathCritique): explore solutions with the critic's help, keep the right
ones, and turn them into balanced SFT examples for the actor."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.actor.strategies import SolveConfig, attempt_problems
from core.answers import answers_match
from core.backends.base import Backend
from core.prompts import format_steps
from core.refine import CritiqueFn, RefineConfig, refine
from core.solving import solve_messages
from core.types import SolutionItem


class KeptSolution(BaseModel):
    """A right solution found while exploring: sampled as it is, or reached by refining a wrong one."""

    problem_id: str
    steps: list[str]
    final_answer: str | None
    origin: Literal["sample", "refinement"]
    round: int = Field(0, description="0 for a sample; the critique round whose revision made it right.")


class RoundStats(BaseModel):
    """Exploration after one round (0 = the samples alone; r = after r critique -> revision rounds)."""

    round: int
    problems: int
    explored: int = Field(description="Problems with at least one right solution so far.")
    from_refinement: int = Field(description="Right solutions this round's revisions reached.")
    right_solutions: int = Field(description="Right solutions so far, samples and refinements.")
    diversity: float = Field(description="Distinct right solution paths per explored problem.")


class Exploration(BaseModel):
    """What exploring the training problems found, round by round, and the tokens it cost."""

    kept: list[KeptSolution]
    rounds: list[RoundStats]
    actor_tokens: int = 0
    critic_tokens: int = 0


def solution_path(steps: Sequence[str]) -> str:
    """A solution's path for counting distinct ones: its steps, lower-cased, spacing and punctuation ignored."""
    return " | ".join(re.sub(r"[^a-z0-9+\-*/=.]+", " ", step.lower()).strip() for step in steps)


def _stats(round_number: int, problems: int, kept: Sequence[KeptSolution], new: int) -> RoundStats:
    paths: dict[str, set[str]] = {}
    for solution in kept:
        paths.setdefault(solution.problem_id, set()).add(solution_path(solution.steps))
    return RoundStats(
        round=round_number,
        problems=problems,
        explored=len(paths),
        from_refinement=new,
        right_solutions=len(kept),
        diversity=sum(len(p) for p in paths.values()) / len(paths) if paths else 0.0,
    )


def explore(
    actor: Backend,
    critique: CritiqueFn | None,
    items: Sequence[SolutionItem],
    config: SolveConfig,
) -> Exploration:
    """Sample `config.samples` solutions per problem; keep the right ones; with a critic, critique and refine each wrong
    one for up to `config.rounds` rounds and keep the first revision that reaches the right answer.

    Without a critic this is plain self-training's exploration (rejection sampling). Items need an `answer`.
    """
    problems = attempt_problems(actor, None, items, "majority", config)
    kept: list[KeptSolution] = []
    wrong: list[tuple[int, SolutionItem]] = []
    actor_tokens = critic_tokens = 0
    for p, problem in enumerate(problems):
        for a, attempt in enumerate(problem.attempts):
            actor_tokens += attempt.actor_tokens
            if answers_match(attempt.final_answer, problem.truth):
                kept.append(
                    KeptSolution(
                        problem_id=problem.id, steps=attempt.steps, final_answer=attempt.final_answer, origin="sample"
                    )
                )
            elif attempt.steps:
                wrong.append(
                    (p, SolutionItem(id=f"{problem.id}#{a + 1}", problem=problem.problem, steps=attempt.steps))
                )
    rounds = [_stats(0, len(problems), kept, 0)]
    if critique is None or not wrong:
        return Exploration(kept=kept, rounds=rounds, actor_tokens=actor_tokens)
    refine_config = RefineConfig(rounds=config.rounds, max_new_tokens=config.max_new_tokens, seed=config.seed)
    refinements = refine(actor, critique, [item for _, item in wrong], refine_config)
    reached: dict[int, list[KeptSolution]] = {}
    for (p, _), refinement in zip(wrong, refinements, strict=True):
        truth = problems[p].truth
        for done in refinement.rounds:
            critic_tokens += done.critique.completion_tokens if done.critique is not None else 0
            if done.revision is None:
                continue
            actor_tokens += done.revision.completion_tokens
            if done.revision.changed and answers_match(done.revision.final_answer, truth):
                found = KeptSolution(
                    problem_id=problems[p].id,
                    steps=done.revision.steps,
                    final_answer=done.revision.final_answer,
                    origin="refinement",
                    round=done.round,
                )
                reached.setdefault(done.round, []).append(found)
                break
    for round_number in range(1, config.rounds + 1):
        new = reached.get(round_number, [])
        kept.extend(new)
        rounds.append(_stats(round_number, len(problems), kept, len(new)))
    return Exploration(kept=kept, rounds=rounds, actor_tokens=actor_tokens, critic_tokens=critic_tokens)


def balanced_examples(
    items: Sequence[SolutionItem], kept: Sequence[KeptSolution], max_per_problem: int
) -> list[dict[str, Any]]:
    """SFT examples (the solve prompt -> the solution in `Step i:` lines with its boxed answer): at most
    `max_per_problem` distinct right solutions per problem, refinements first among equals of origin order kept."""
    by_id = {item.id: item for item in items}
    chosen: dict[str, dict[str, KeptSolution]] = {}
    for solution in kept:
        paths = chosen.setdefault(solution.problem_id, {})
        path = solution_path(solution.steps)
        if path not in paths and len(paths) < max_per_problem:
            paths[path] = solution
    examples = []
    for problem_id, paths in chosen.items():
        problem = by_id[problem_id].problem
        for solution in paths.values():
            completion = format_steps(solution.steps)
            if "\\boxed" not in completion and solution.final_answer:
                completion += f"\n\nThe answer is \\boxed{{{solution.final_answer}}}."
            examples.append({"prompt": solve_messages(problem), "completion": completion, "origin": solution.origin})
    return examples


def merge_explorations(parts: Sequence[Exploration], rounds: int) -> Exploration:
    """One exploration from those of several batches of problems: round statistics recomputed over all of them."""
    kept = [solution for part in parts for solution in part.kept]
    problems = sum(part.rounds[0].problems for part in parts if part.rounds)
    stats = []
    for round_number in range(rounds + 1):
        so_far = [s for s in kept if s.round <= round_number]
        new = sum(s.origin == "refinement" and s.round == round_number for s in kept)
        stats.append(_stats(round_number, problems, so_far, new))
    return Exploration(
        kept=kept,
        rounds=stats,
        actor_tokens=sum(p.actor_tokens for p in parts),
        critic_tokens=sum(p.critic_tokens for p in parts),
    )
