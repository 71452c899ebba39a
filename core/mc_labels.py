"""Monte Carlo step labels: roll out completions from each step prefix; the first step nothing recovers from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.answers import answers_match, known_answer
from core.backends.base import Backend, GenerationParams
from core.config import GenerationBudget, SamplingConfig, SamplingTemperature
from core.errors import BadInputError
from core.solving import continue_solutions, solution_answer
from core.types import NO_ERROR, SolutionItem

MC_LABEL_SOURCE: Literal["monte_carlo"] = "monte_carlo"
"""`label_source` of every automatic label; human labels never carry it."""


class MCLabelConfig(SamplingConfig):
    """How Monte Carlo labels are estimated (the sampling fields apply to each rollout)."""

    model_config = ConfigDict(frozen=True)
    config_name = "mc-labels option"

    rollouts: int = Field(8, ge=1, le=256, description="Completions sampled from each step prefix.")
    temperature: SamplingTemperature = 0.7
    max_new_tokens: GenerationBudget = 384

    def params(self, n: int | None = None) -> GenerationParams:
        return super().params(self.rollouts if n is None else n)


class MCLabel(BaseModel):
    """An automatic first-error label with the evidence behind it."""

    id: str
    first_error_step: int = Field(description="1-based first step no rollout recovers from; -1 if none.")
    success_rates: list[float] = Field(description="Per step: share of rollouts from its prefix that reach the answer.")
    rollouts: int
    answer: str
    rollout_answers: list[list[str | None]] = Field(default_factory=list, description="Final answers, per step.")
    label_source: Literal["monte_carlo"] = MC_LABEL_SOURCE
    generator: str = ""


def first_error_from_rates(success_rates: Sequence[float]) -> int:
    """The 1-based first step after which no rollout reaches the right answer, or -1 when there is none."""
    for index, rate in enumerate(success_rates, start=1):
        if rate <= 0.0:
            return index
    return NO_ERROR


def _require_answer(item: SolutionItem) -> str:
    answer = known_answer(item)
    if answer is None:
        raise BadInputError(
            f"item id={item.id!r}: no ground-truth answer: add an 'answer' field "
            "(or 'final_answer_correct': true when the solution's own final answer is right)"
        )
    return answer


def label_items(backend: Backend, items: Sequence[SolutionItem], config: MCLabelConfig) -> list[MCLabel]:
    """Monte Carlo labels for items that have a known answer, with every rollout of every item in one backend call.

    The last step's prefix is the whole solution: when it states a final answer, that answer is checked
    directly instead of sampling completions of a finished solution. Raises BadInputError for an item
    without a known answer before generating anything.
    """
    truths = [_require_answer(item) for item in items]
    requests: list[tuple[str, list[str]]] = []
    owners: list[tuple[int, int]] = []  # (item position, 1-based step) of each request
    own_answers: list[str | None] = []
    for position, item in enumerate(items):
        own = solution_answer(item.steps[-1:])
        own_answers.append(own)
        sampled_steps = len(item.steps) - 1 if own is not None else len(item.steps)
        for step in range(1, sampled_steps + 1):
            requests.append((item.problem, item.steps[:step]))
            owners.append((position, step))
    outputs = continue_solutions(backend, requests, config.params()) if requests else []

    answers: list[list[list[str | None]]] = [[[] for _ in item.steps] for item in items]
    for (position, step), solutions in zip(owners, outputs, strict=True):
        answers[position][step - 1] = [s.final_answer for s in solutions]
    labels = []
    for position, item in enumerate(items):
        if own_answers[position] is not None:
            answers[position][-1] = [own_answers[position]]
        rates = [
            sum(answers_match(a, truths[position]) for a in per_step) / len(per_step) if per_step else 0.0
            for per_step in answers[position]
        ]
        labels.append(
            MCLabel(
                id=item.id,
                first_error_step=first_error_from_rates(rates),
                success_rates=[round(r, 4) for r in rates],
                rollouts=config.rollouts,
                answer=truths[position],
                rollout_answers=answers[position],
                generator=backend.model_name,
            )
        )
    return labels


def labelled_record(item: SolutionItem, label: MCLabel) -> dict[str, Any]:
    """The item in ProcessBench shape carrying the automatic label (read back by `read_items`).

    `label` is the Monte Carlo label (0-based like ProcessBench) and `label_source` says it is automatic;
    a human label the input had is kept apart as `human_label`, never merged into `label`.
    """
    record = {k: v for k, v in item.metadata.items() if k != "label"}
    human = item.first_error_step
    record.update(
        {
            "id": item.id,
            "problem": item.problem,
            "steps": list(item.steps),
            "label": NO_ERROR if label.first_error_step == NO_ERROR else label.first_error_step - 1,
            "label_source": MC_LABEL_SOURCE,
            "answer": label.answer,
            "mc_success_rates": label.success_rates,
            "mc_rollouts": label.rollouts,
            "mc_rollout_answers": label.rollout_answers,
            "mc_generator": label.generator,
        }
    )
    if human is not None and item.metadata.get("label_source") != MC_LABEL_SOURCE:
        record["human_label"] = NO_ERROR if human == NO_ERROR else human - 1
    return record
