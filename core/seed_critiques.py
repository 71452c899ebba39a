"""DeepCritic seed critiques: per step initial -> in-depth -> merged teacher critique, kept if it matches the label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.backends.base import Backend, GenerationParams, Messages
from core.config import SamplingConfig
from core.errors import BadInputError
from core.mc_labels import MC_LABEL_SOURCE
from core.parsing import parse_critique, parse_step_critique
from core.prompts import (
    critique_messages,
    in_depth_critique_messages,
    initial_critique_messages,
    merge_critique_messages,
)
from core.types import NO_ERROR, CritiqueResult, SolutionItem, StepResult, Verdict


class SeedConfig(SamplingConfig):
    """How the teacher writes seed critiques (the sampling fields apply to each of the three calls per step)."""

    model_config = ConfigDict(frozen=True)
    config_name = "seed-critiques option"


class StepSeed(BaseModel):
    """The three teacher outputs for one step and the merged judgement."""

    index: int
    initial: str
    in_depth: str
    merged: str
    verdict: Verdict
    expected: Verdict


class SeedCritique(BaseModel):
    """One item's seed critique: kept (SFT-ready) when every step judgement matches the human label."""

    id: str
    problem: str
    steps: list[str]
    first_error_step: int
    step_seeds: list[StepSeed]
    kept: bool
    reason: str = ""
    completion: str = Field("", description="The deliberate critique in the critic's output format.")
    teacher: str = ""

    def to_critique_result(self, backend: str) -> CritiqueResult:
        """The seed critique as a critique result (deliberate mode), e.g. to store it as a CritiqueRun.

        `critique` is the teacher's initial analysis and `meta_critique` its in-depth second look; the verdict
        is the merged one. Steps after the labelled first error were not reviewed and stay unchecked.
        """
        reviewed = {seed.index: seed for seed in self.step_seeds}
        steps = []
        for index, text in enumerate(self.steps, start=1):
            seed = reviewed.get(index)
            if seed is None:
                steps.append(StepResult(index=index, text=text, verdict="unchecked"))
                continue
            first, second = parse_step_critique(seed.initial, index), parse_step_critique(seed.in_depth, index)
            steps.append(
                StepResult(
                    index=index,
                    text=text,
                    verdict=seed.verdict,
                    critique="\n\n".join(t for t in (first.critique, first.meta_critique) if t),
                    meta_critique="\n\n".join(t for t in (second.critique, second.meta_critique) if t),
                )
            )
        return CritiqueResult(
            id=self.id,
            problem=self.problem,
            steps=steps,
            first_error_step=self.first_error_step,
            votes=[self.first_error_step],
            model=self.teacher,
            backend=backend,
            mode="deliberate",
            raw_outputs=[self.completion],
        )

    def sft_record(self) -> dict[str, Any]:
        """A prompt/completion row (TRL conversational format) with the evidence for auditing."""
        return {
            "id": self.id,
            "prompt": critique_messages(self.problem, self.steps),
            "completion": self.completion,
            "first_error_step": self.first_error_step,
            "label_source": "human",
            "teacher": self.teacher,
            "step_critiques": [s.model_dump() for s in self.step_seeds],
        }


def merged_body(seed: StepSeed) -> str:
    """The merged critique's analysis and meta-critique, without its judgement line."""
    parsed = parse_step_critique(seed.merged, seed.index)
    return "\n\n".join(part for part in (parsed.critique, parsed.meta_critique) if part)


def expected_verdicts(first_error_step: int, num_steps: int) -> list[Verdict]:
    """The verdicts a label implies for the steps a critique covers: correct up to the first error, which is wrong."""
    if first_error_step == NO_ERROR:
        return ["correct"] * num_steps
    return ["correct"] * (first_error_step - 1) + ["incorrect"]


def format_critique(step_seeds: Sequence[StepSeed], first_error_step: int) -> str:
    """The merged step critiques in the critic's DeepCritic output format, ending with the boxed answer."""
    blocks = []
    for seed in step_seeds:
        body = merged_body(seed)
        value = 1 if seed.verdict == "correct" else -1
        blocks.append(
            f"**Critique of Step {seed.index}**: {body}\n"
            f"**Judgement**: The correctness of Step {seed.index} is: \\boxed{{{value}}}"
        )
    blocks.append(f"**Answer**: \\boxed{{{first_error_step}}}")
    return "\n\n".join(blocks)


def check_labelled(item: SolutionItem) -> int:
    """The item's human first-error label, or BadInputError naming the item when it has none to trust."""
    if item.first_error_step is None:
        raise BadInputError(f"item id={item.id!r}: field 'label' is missing: seed critiques need a human label")
    if item.metadata.get("label_source") == MC_LABEL_SOURCE:
        raise BadInputError(
            f"item id={item.id!r}: its label is automatic (label_source=monte_carlo): seed critiques need human labels"
        )
    return item.first_error_step


def _run(teacher: Backend, prompts: list[Messages], params: GenerationParams) -> list[str]:
    if not prompts:
        return []
    return [gens[0].text if gens else "" for gens in teacher.generate(prompts, params)]


def generate_seed_critiques(teacher: Backend, items: Sequence[SolutionItem], config: SeedConfig) -> list[SeedCritique]:
    """Seed critiques for labelled items: three batched teacher calls in all (initial, in-depth, merge).

    Each step up to the labelled first error (every step when there is none) gets an initial critique, an
    in-depth critique that re-checks it another way or judges the initial one, and a merge of both. The item
    is kept only if every merged judgement, and the assembled critique's final answer, match the label.
    """
    labels = [check_labelled(item) for item in items]
    targets = [
        (position, step)
        for position, (item, label) in enumerate(zip(items, labels, strict=True))
        for step in range(1, (len(item.steps) if label == NO_ERROR else label) + 1)
    ]
    params = config.params()
    initial = _run(
        teacher, [initial_critique_messages(items[p].problem, items[p].steps, s) for p, s in targets], params
    )
    in_depth = _run(
        teacher,
        [
            in_depth_critique_messages(items[p].problem, items[p].steps, s, i)
            for (p, s), i in zip(targets, initial, strict=True)
        ],
        params,
    )
    merged = _run(
        teacher,
        [
            merge_critique_messages(items[p].problem, items[p].steps, s, i, d)
            for (p, s), i, d in zip(targets, initial, in_depth, strict=True)
        ],
        params,
    )
    per_item: list[list[StepSeed]] = [[] for _ in items]
    for (position, step), first, deep, final in zip(targets, initial, in_depth, merged, strict=True):
        expected = expected_verdicts(labels[position], len(items[position].steps))[step - 1]
        per_item[position].append(
            StepSeed(
                index=step,
                initial=first,
                in_depth=deep,
                merged=final,
                verdict=parse_step_critique(final, step).verdict,
                expected=expected,
            )
        )
    return [
        _assemble(item, label, seeds, teacher.model_name)
        for item, label, seeds in zip(items, labels, per_item, strict=True)
    ]


def _assemble(item: SolutionItem, label: int, seeds: list[StepSeed], teacher: str) -> SeedCritique:
    mismatched = [s.index for s in seeds if s.verdict != s.expected]
    completion = format_critique(seeds, label)
    reason = ""
    if mismatched:
        reason = f"judgement disagrees with the label at step(s) {mismatched}"
    elif parse_critique(completion, len(item.steps)).first_error_step != label:
        reason = "assembled critique does not parse back to the label"
    return SeedCritique(
        id=item.id,
        problem=item.problem,
        steps=list(item.steps),
        first_error_step=label,
        step_seeds=seeds,
        kept=not reason,
        reason=reason,
        completion=completion if not reason else "",
        teacher=teacher,
    )
