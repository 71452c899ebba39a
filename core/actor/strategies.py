"""Solving strategies the critic supervises: greedy, majority vote, critic-ranked best-of-K and critique-refine.

The actor samples K solutions once; the critic critiques them (and, for critique-refine, the actor revises them in
critique -> revision rounds); each strategy then picks one answer from the first k <= K attempts. Sampling once and
choosing at every k is how the test-time scaling bench measures accuracy against k from the same samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.answers import answers_match
from core.backends.base import Backend, GenerationParams
from core.config import SamplingConfig, Temperature
from core.ranking import critic_pick, majority_pick, to_candidate
from core.refine import CritiqueFn, RefineConfig, Refinement, RefinementRound, refine
from core.solving import GeneratedSolution, solve
from core.types import CritiqueResult, SolutionItem

Strategy = Literal["greedy", "majority", "critic-rank", "critique-refine"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
NEEDS_CRITIC: frozenset[str] = frozenset({"critic-rank", "critique-refine"})


class SolveConfig(SamplingConfig):
    """How the actor solves: samples per problem, critique rounds, and the sampling of each solution."""

    model_config = ConfigDict(frozen=True)
    config_name = "solve option"

    samples: int = Field(1, ge=1, le=64, description="Solutions sampled per problem (K); greedy always writes one.")
    rounds: int = Field(1, ge=1, le=10, description="Most critique -> revision rounds per solution (critique-refine).")
    temperature: Temperature = Field(0.8, description="Sampling temperature when K > 1 (greedy decodes at 0).")

    @model_validator(mode="after")
    def _check_sampling(self) -> SolveConfig:
        if self.samples > 1 and self.temperature <= 0:
            raise ValueError("K > 1 samples need a temperature above 0, or every sample is the same")
        return self

    def sample_params(self, strategy: str) -> GenerationParams:
        """Greedy: one solution at temperature 0; the others: K samples at the configured temperature."""
        if strategy == "greedy":
            return self.model_copy(update={"temperature": 0.0}).params(1)
        return self.params(self.samples)

    def refine_config(self) -> RefineConfig:
        """Revisions are greedy, with the same budget as the solutions."""
        return RefineConfig(rounds=self.rounds, max_new_tokens=self.max_new_tokens, seed=self.seed)


class Attempt(BaseModel):
    """One sampled solution, with the critic's critique of it and its refinement when the strategy made them."""

    steps: list[str]
    final_answer: str | None
    actor_tokens: int = Field(0, description="Tokens the actor wrote for this solution.")
    critique: CritiqueResult | None = None
    refinement: Refinement | None = None

    @property
    def refined_answer(self) -> str | None:
        return self.refinement.final_answer if self.refinement is not None else self.final_answer

    @property
    def refined_steps(self) -> list[str]:
        return list(self.refinement.final_steps) if self.refinement is not None else list(self.steps)

    def critic_tokens(self) -> int:
        """Tokens the critic wrote about this solution: every round's critique, or the one critique."""
        if self.refinement is not None:
            return sum(r.critique.completion_tokens for r in self.refinement.rounds if r.critique is not None)
        return self.critique.completion_tokens if self.critique is not None else 0

    def revision_tokens(self) -> int:
        if self.refinement is None:
            return 0
        return sum(r.revision.completion_tokens for r in self.refinement.rounds if r.revision is not None)


class ProblemAttempts(BaseModel):
    """All attempts at one problem, in sampling order."""

    id: str
    problem: str
    truth: str
    attempts: list[Attempt]


class SolvedProblem(BaseModel):
    """One problem solved by one strategy: the chosen solution, its answer, and whether it is right."""

    id: str
    problem: str
    truth: str
    strategy: Strategy
    samples: int = Field(description="Attempts the strategy chose from (k).")
    final_steps: list[str]
    final_answer: str | None
    correct: bool
    answers: list[str | None] = Field(description="Each attempt's final answer (after refinement for critique-refine).")
    any_correct: bool = Field(description="Whether any of the k attempts was right (the best a picker could do).")
    critique_rounds: int = Field(0, description="Critique rounds of the chosen solution (critique-refine).")
    rounds: list[RefinementRound] = Field(
        default_factory=list, description="The chosen solution's rounds: each critique and the revision after it."
    )
    actor_tokens: int = Field(0, description="Tokens the actor wrote over the k attempts (solutions and revisions).")
    critic_tokens: int = Field(0, description="Tokens the critic wrote over the k attempts.")


def attempt_problems(
    actor: Backend,
    critique: CritiqueFn | None,
    items: Sequence[SolutionItem],
    strategy: str,
    config: SolveConfig,
) -> list[ProblemAttempts]:
    """Sample solutions to every problem (one actor call) and, as the strategy needs, critique or refine them all
    (batched). Items need a ground-truth `answer`."""
    if strategy in NEEDS_CRITIC and critique is None:
        from core.errors import ConfigError

        raise ConfigError(f"strategy {strategy} needs a critic model")
    sampled: list[list[GeneratedSolution]] = solve(actor, [i.problem for i in items], config.sample_params(strategy))
    problems = [
        ProblemAttempts(
            id=item.id,
            problem=item.problem,
            truth=str(item.answer),
            attempts=[
                Attempt(steps=s.steps, final_answer=s.final_answer, actor_tokens=s.completion_tokens) for s in sols
            ],
        )
        for item, sols in zip(items, sampled, strict=True)
    ]
    if strategy not in NEEDS_CRITIC or critique is None:
        return problems
    owners = [(p, a) for p, prob in enumerate(problems) for a, att in enumerate(prob.attempts) if att.steps]
    solutions = [
        SolutionItem(id=f"{problems[p].id}#{a + 1}", problem=problems[p].problem, steps=problems[p].attempts[a].steps)
        for p, a in owners
    ]
    if strategy == "critique-refine":
        for (p, a), refinement in zip(owners, refine(actor, critique, solutions, config.refine_config()), strict=True):
            first = refinement.rounds[0].critique if refinement.rounds else None
            problems[p].attempts[a] = (
                problems[p].attempts[a].model_copy(update={"refinement": refinement, "critique": first})
            )
    else:
        for (p, a), result in zip(owners, critique(solutions) if solutions else [], strict=True):
            problems[p].attempts[a] = problems[p].attempts[a].model_copy(update={"critique": result})
    return problems


def choose(problem: ProblemAttempts, strategy: str, k: int | None = None) -> SolvedProblem:
    """The strategy's pick among the first k attempts (all when None).

    greedy and majority: the most common final answer (one attempt: that one); critic-rank: the attempt the critic
    trusts most (core.ranking.critic_pick); critique-refine: the most common answer after refinement.
    """
    attempts = problem.attempts[: k or len(problem.attempts)]
    refined = strategy == "critique-refine"
    answers = [a.refined_answer if refined else a.final_answer for a in attempts]
    if strategy == "critic-rank":
        candidates = [
            to_candidate(GeneratedSolution(steps=a.steps, final_answer=a.final_answer), a.critique, problem.truth)
            for a in attempts
        ]
        pick = critic_pick(candidates)
    else:
        pick = majority_pick(answers)
    chosen = attempts[pick if pick is not None else 0] if attempts else None
    steps = (chosen.refined_steps if refined else list(chosen.steps)) if chosen else []
    answer = answers[pick] if pick is not None else None
    rounds = list(chosen.refinement.rounds) if chosen is not None and chosen.refinement is not None else []
    critic_tokens = sum(a.critic_tokens() for a in attempts) if strategy in NEEDS_CRITIC else 0
    return SolvedProblem(
        id=problem.id,
        problem=problem.problem,
        truth=problem.truth,
        strategy=strategy,  # type: ignore[arg-type]
        samples=len(attempts),
        final_steps=steps,
        final_answer=answer,
        correct=answers_match(answer, problem.truth),
        answers=answers,
        any_correct=any(answers_match(a, problem.truth) for a in answers),
        critique_rounds=sum(r.critique is not None for r in rounds),
        rounds=rounds,
        actor_tokens=sum(a.actor_tokens + (a.revision_tokens() if refined else 0) for a in attempts),
        critic_tokens=critic_tokens,
    )


def solve_problems(
    actor: Backend, critique: CritiqueFn | None, items: Sequence[SolutionItem], strategy: str, config: SolveConfig
) -> list[SolvedProblem]:
    """Each problem solved by one strategy over K attempts."""
    return [choose(p, strategy) for p in attempt_problems(actor, critique, items, strategy, config)]
