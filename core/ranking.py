"""Best-of-N with the critic: sample N solutions, critique each, pick the most trusted; vs majority voting."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from core.answers import answers_match
from core.backends.base import Backend, GenerationParams
from core.config import SamplingConfig, SamplingTemperature
from core.refine import CritiqueFn
from core.solving import GeneratedSolution, solve
from core.types import NO_ERROR, CritiqueResult, SolutionItem


class RankConfig(SamplingConfig):
    """How candidate solutions are sampled for best-of-N (the sampling fields apply to each candidate)."""

    model_config = ConfigDict(frozen=True)
    config_name = "rank option"

    candidates: int = Field(4, ge=2, le=64, description="Solutions sampled per problem (N).")
    temperature: SamplingTemperature = 0.8

    def params(self, n: int | None = None) -> GenerationParams:
        return super().params(self.candidates if n is None else n)


class Candidate(BaseModel):
    """One sampled solution with the critic's view of it."""

    steps: list[str]
    final_answer: str | None
    critic_first_error: int | None = Field(None, description="The critic's first wrong step; -1 none; None unread.")
    no_error_share: float = Field(0.0, description="Share of the critic's votes saying every step is correct.")
    confidence: float | None = Field(
        None, description="The critic's P(correct) of the weakest step it judged (None: no probabilities)."
    )
    correct: bool = False


class RankedProblem(BaseModel):
    """Best-of-N for one problem: the candidates, the critic's pick and the majority vote's pick."""

    id: str
    problem: str
    truth: str
    candidates: list[Candidate]
    critic_pick: int | None
    majority_pick: int | None
    critic_correct: bool
    majority_correct: bool
    any_correct: bool


def answer_clusters(answers: Sequence[str | None]) -> list[int]:
    """A cluster id per answer: equivalent answers (math-verify) share one; a missing answer is -1."""
    representatives: list[str] = []
    clusters = []
    for answer in answers:
        if answer is None:
            clusters.append(-1)
            continue
        for cluster, representative in enumerate(representatives):
            if answers_match(answer, representative):
                clusters.append(cluster)
                break
        else:
            representatives.append(answer)
            clusters.append(len(representatives) - 1)
    return clusters


def majority_pick(answers: Sequence[str | None]) -> int | None:
    """The first candidate of the most common answer (ties: the answer seen first); None if no candidate answered."""
    clusters = answer_clusters(answers)
    sizes: dict[int, int] = {}
    for cluster in clusters:
        if cluster >= 0:
            sizes[cluster] = sizes.get(cluster, 0) + 1
    if not sizes:
        return None
    best = max(sizes, key=lambda c: (sizes[c], -c))
    return clusters.index(best)


def no_error_share(result: CritiqueResult) -> float:
    """Share of the critic's samples that found no error (its single verdict when there are no votes)."""
    votes = result.votes or [result.first_error_step]
    return sum(v == NO_ERROR for v in votes) / len(votes)


def all_correct_probability(result: CritiqueResult) -> float | None:
    """How sure the critic is that the solution is right: its P(correct) of the weakest step it judged. A minimum,
    not a product, so a long solution is not taken for a doubtful one just because it has more steps."""
    known = [s.p_correct for s in result.steps if s.p_correct is not None]
    return min(known) if known else None


def critic_pick(candidates: Sequence[Candidate]) -> int | None:
    """The candidate the critic trusts most: no error found, then the highest no-error vote share, then the
    critic's confidence that every step is right, then the latest first error (more of it judged correct), then
    the answer most candidates share."""
    if not candidates:
        return None
    clusters = answer_clusters([c.final_answer for c in candidates])
    support = [clusters.count(k) if k >= 0 else 0 for k in clusters]

    def trust(position: int) -> tuple[bool, float, float, float, int, int]:
        c = candidates[position]
        accepted = c.critic_first_error == NO_ERROR
        reached = 0.0 if c.critic_first_error in (None, NO_ERROR) else c.critic_first_error / max(len(c.steps), 1)
        confidence = -1.0 if c.confidence is None else c.confidence
        return accepted, c.no_error_share, confidence, reached, support[position], -position

    return max(range(len(candidates)), key=trust)


def to_candidate(solution: GeneratedSolution, result: CritiqueResult | None, truth: str | None) -> Candidate:
    """A sampled solution with the critic's view of it (None: not critiqued) and whether it is right."""
    return Candidate(
        steps=solution.steps,
        final_answer=solution.final_answer,
        critic_first_error=result.first_error_step if result else None,
        no_error_share=no_error_share(result) if result else 0.0,
        confidence=all_correct_probability(result) if result else None,
        correct=answers_match(solution.final_answer, truth),
    )


def rank(
    generator: Backend, critique: CritiqueFn, items: Sequence[SolutionItem], truths: Sequence[str], config: RankConfig
) -> list[RankedProblem]:
    """Best-of-N for each problem: all candidates in one generator call, all their critiques in one critic call."""
    sampled: list[list[GeneratedSolution]] = solve(generator, [item.problem for item in items], config.params())
    to_critique: list[SolutionItem] = []
    owners: list[tuple[int, int]] = []
    for position, (item, solutions) in enumerate(zip(items, sampled, strict=True)):
        for j, solution in enumerate(solutions):
            if solution.steps:  # an empty generation has nothing to critique and is never trusted
                to_critique.append(SolutionItem(id=f"{item.id}#{j + 1}", problem=item.problem, steps=solution.steps))
                owners.append((position, j))
    results = critique(to_critique) if to_critique else []
    verdicts = {owner: result for owner, result in zip(owners, results, strict=True)}

    ranked = []
    for position, (item, solutions) in enumerate(zip(items, sampled, strict=True)):
        candidates = [
            to_candidate(solution, verdicts.get((position, j)), truths[position])
            for j, solution in enumerate(solutions)
        ]
        by_critic = critic_pick(candidates)
        by_majority = majority_pick([c.final_answer for c in candidates])
        ranked.append(
            RankedProblem(
                id=item.id,
                problem=item.problem,
                truth=truths[position],
                candidates=candidates,
                critic_pick=by_critic,
                majority_pick=by_majority,
                critic_correct=by_critic is not None and candidates[by_critic].correct,
                majority_correct=by_majority is not None and candidates[by_majority].correct,
                any_correct=any(c.correct for c in candidates),
            )
        )
    return ranked


def ranking_summary(ranked: Sequence[RankedProblem]) -> dict[str, float | int | None]:
    """Accuracy of the critic's pick vs majority voting vs the first sample, and the best possible (any correct)."""
    n = len(ranked)

    def share(count: int) -> float | None:
        return count / n if n else None

    return {
        "problems": n,
        "critic_accuracy": share(sum(r.critic_correct for r in ranked)),
        "majority_accuracy": share(sum(r.majority_correct for r in ranked)),
        "first_sample_accuracy": share(sum(bool(r.candidates) and r.candidates[0].correct for r in ranked)),
        "oracle_accuracy": share(sum(r.any_correct for r in ranked)),
    }
