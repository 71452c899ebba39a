"""Critique-guided refinement: rewrite a solution from its first wrong step, in critique -> revision rounds (CTRL)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.answers import answers_match
from core.backends.base import Backend, Messages
from core.config import SamplingConfig
from core.prompts import format_steps
from core.solving import SOLVER_SYSTEM, parse_continuation, parse_solution_text, solution_answer
from core.types import NO_ERROR, CritiqueResult, SolutionItem

CritiqueFn = Callable[[Sequence[SolutionItem]], list[CritiqueResult]]
"""Critiques a batch of solutions (a `Critic`'s batch method): one result per item, in order."""

StopReason = Literal["accepted", "max_rounds", "critique_unreadable"]


class RefineConfig(SamplingConfig):
    """How solutions are revised (the sampling fields apply to each revision)."""

    model_config = ConfigDict(frozen=True)
    config_name = "refine option"

    rounds: int = Field(1, ge=1, le=10, description="Most critique -> revision rounds per solution (CTRL loop).")
    use_critique: bool = Field(
        True, description="Give the critique to the generator; False = self-revision baseline without a critique."
    )


class Revision(BaseModel):
    """A solution after one revision."""

    steps: list[str]
    kept_steps: int = Field(description="Leading steps carried over unchanged (the correct prefix).")
    final_answer: str | None
    raw: str = Field("", description="The generator's output.")
    changed: bool
    answer_matches: bool | None = Field(
        None, description="Whether the final answer matches the item's ground truth (math-verify); null if unknown."
    )
    completion_tokens: int = Field(0, description="Tokens the generator wrote for this revision.")


class RefinementRound(BaseModel):
    """One round: the critique of the current solution, then its revision (none once the critic accepts)."""

    round: int
    critique: CritiqueResult | None = Field(None, description="None in the self-revision baseline (no critic).")
    revision: Revision | None = None


class Refinement(BaseModel):
    """The whole refinement of one solution."""

    id: str
    problem: str
    original_steps: list[str]
    final_steps: list[str]
    final_answer: str | None
    rounds: list[RefinementRound] = Field(default_factory=list)
    stop_reason: StopReason
    used_critique: bool = True
    answer_matches: bool | None = Field(
        None,
        description="Whether the final solution's answer matches the ground truth (the revision succeeded); null when "
        "the item has no known answer.",
    )


class StepChange(BaseModel):
    """One row of a step diff between a solution and its revision."""

    status: Literal["kept", "changed", "added", "removed"]
    before_index: int | None = Field(None, description="1-based step in the original, if any.")
    after_index: int | None = Field(None, description="1-based step in the revision, if any.")
    before: str | None = None
    after: str | None = None


def _critique_notes(critique: CritiqueResult, upto: int) -> str:
    notes = []
    for step in critique.steps[:upto]:
        text = " ".join(part for part in (step.critique.strip(), step.meta_critique.strip()) if part)
        if text:
            notes.append(f"Step {step.index} ({step.verdict}): {text}")
    return "\n".join(notes)


def revision_messages(item: SolutionItem, critique: CritiqueResult | None) -> Messages:
    """The generator's prompt: rewrite from the critic's first wrong step, or (no critique) revise freely."""
    shown = f"Problem:\n{item.problem.strip()}\n\nSolution:\n{format_steps(item.steps)}"
    if critique is None:
        task = (
            "Review this solution. If every step is right, copy it unchanged; otherwise fix it. Write the complete "
            "solution, one 'Step i:' per line, and finish with the final answer in \\boxed{}."
        )
    else:
        k = critique.first_error_step or 1
        notes = _critique_notes(critique, k)
        kept = {1: "", 2: "Step 1 is correct and stays as it is. "}.get(
            k, f"Steps 1 to {k - 1} are correct and stay as they are. "
        )
        task = (
            f"A careful reviewer found that Step {k} is wrong.\n\nReview:\n{notes or '(no details given)'}\n\n"
            f"{kept}Rewrite the solution from Step {k} on, fixing the error: write Step {k}, Step {k + 1}, ... "
            "to the end, and finish with the final answer in \\boxed{}."
        )
    return [{"role": "system", "content": SOLVER_SYSTEM}, {"role": "user", "content": f"{shown}\n\n{task}"}]


def apply_revision(item: SolutionItem, critique: CritiqueResult | None, text: str) -> Revision:
    """The revised solution read from the generator's output; the original stays when the output has no steps."""
    if critique is None:
        steps = parse_solution_text(text) or list(item.steps)
        kept = len(_common_prefix(item.steps, steps))
    else:
        kept = max((critique.first_error_step or 1) - 1, 0)
        steps = parse_continuation(text, item.steps[:kept])
        if len(steps) <= kept:  # nothing usable was generated
            steps, kept = list(item.steps), len(item.steps)
    final = solution_answer(steps)
    return Revision(
        steps=steps,
        kept_steps=kept,
        final_answer=final,
        raw=text,
        changed=steps != item.steps,
        answer_matches=answers_match(final, item.answer) if item.answer else None,
    )


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> list[str]:
    out = []
    for x, y in zip(a, b, strict=False):
        if x.strip() != y.strip():
            break
        out.append(x)
    return out


def step_diff(before: Sequence[str], after: Sequence[str]) -> list[StepChange]:
    """Step-level diff of a revision, for display: kept, changed, added and removed steps in order."""
    matcher = difflib.SequenceMatcher(a=[s.strip() for s in before], b=[s.strip() for s in after], autojunk=False)
    rows: list[StepChange] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            rows += [
                StepChange(status="kept", before_index=i + 1, after_index=j + 1, before=before[i], after=after[j])
                for i, j in zip(range(a0, a1), range(b0, b1), strict=True)
            ]
            continue
        paired = min(a1 - a0, b1 - b0)
        rows += [
            StepChange(
                status="changed",
                before_index=a0 + k + 1,
                after_index=b0 + k + 1,
                before=before[a0 + k],
                after=after[b0 + k],
            )
            for k in range(paired)
        ]
        rows += [StepChange(status="removed", before_index=i + 1, before=before[i]) for i in range(a0 + paired, a1)]
        rows += [StepChange(status="added", after_index=j + 1, after=after[j]) for j in range(b0 + paired, b1)]
    return rows


def revise(
    generator: Backend, items: Sequence[SolutionItem], critiques: Sequence[CritiqueResult | None], config: RefineConfig
) -> list[Revision]:
    """One revision per item, all in one generator call. An item whose critique found no error is kept as it is."""
    revisions: list[Revision | None] = [None] * len(items)
    todo = []
    for position, (item, critique) in enumerate(zip(items, critiques, strict=True)):
        if critique is not None and critique.first_error_step in (NO_ERROR, None):
            final = solution_answer(item.steps)
            revisions[position] = Revision(
                steps=list(item.steps),
                kept_steps=len(item.steps),
                final_answer=final,
                changed=False,
                answer_matches=answers_match(final, item.answer) if item.answer else None,
            )
        else:
            todo.append(position)
    if todo:
        outputs = generator.generate([revision_messages(items[p], critiques[p]) for p in todo], config.params())
        for position, generations in zip(todo, outputs, strict=True):
            revision = apply_revision(items[position], critiques[position], generations[0].text)
            revisions[position] = revision.model_copy(update={"completion_tokens": generations[0].completion_tokens})
    return [r for r in revisions if r is not None]


def refine(
    generator: Backend, critique: CritiqueFn | None, items: Sequence[SolutionItem], config: RefineConfig
) -> list[Refinement]:
    """Critique -> revision rounds for every item, batched per round; stop when the critic accepts or after R rounds.

    With `config.use_critique` False (or no critic) every solution is revised once without a critique:
    the self-revision baseline the papers compare against.
    """
    if not config.use_critique or critique is None:
        revisions = revise(generator, items, [None] * len(items), config)
        return [
            Refinement(
                id=item.id,
                problem=item.problem,
                original_steps=list(item.steps),
                final_steps=rev.steps,
                final_answer=rev.final_answer,
                stop_reason="max_rounds",
                used_critique=False,
                rounds=[RefinementRound(round=1, revision=rev)],
                answer_matches=rev.answer_matches,
            )
            for item, rev in zip(items, revisions, strict=True)
        ]
    current = [item.model_copy() for item in items]
    history: list[list[RefinementRound]] = [[] for _ in items]
    stop: list[StopReason | None] = [None] * len(items)
    for round_number in range(1, config.rounds + 1):
        active = [p for p in range(len(items)) if stop[p] is None]
        if not active:
            break
        results = critique([current[p] for p in active])
        to_revise = []
        for position, result in zip(active, results, strict=True):
            history[position].append(RefinementRound(round=round_number, critique=result))
            if result.first_error_step == NO_ERROR:
                stop[position] = "accepted"
            elif result.first_error_step is None:
                stop[position] = "critique_unreadable"
            else:
                to_revise.append((position, result))
        revisions = revise(generator, [current[p] for p, _ in to_revise], [r for _, r in to_revise], config)
        for (position, _), revision in zip(to_revise, revisions, strict=True):
            history[position][-1].revision = revision
            current[position] = current[position].model_copy(update={"steps": revision.steps})
    return [
        Refinement(
            id=item.id,
            problem=item.problem,
            original_steps=list(item.steps),
            final_steps=list(current[p].steps),
            final_answer=solution_answer(current[p].steps),
            rounds=history[p],
            stop_reason=stop[p] or "max_rounds",
            answer_matches=answers_match(solution_answer(current[p].steps), item.answer) if item.answer else None,
        )
        for p, item in enumerate(items)
    ]


class RefineOutcome(BaseModel):
    """Whether one solution's final answer was right before and after refinement."""

    id: str
    truth: str
    correct_before: bool
    correct_after: bool
    changed: bool


def outcome(item: SolutionItem, truth: str, refinement: Refinement) -> RefineOutcome:
    """Check the original and the refined solution's final answers against the ground truth (math-verify)."""
    return RefineOutcome(
        id=item.id,
        truth=truth,
        correct_before=answers_match(solution_answer(item.steps), truth),
        correct_after=answers_match(refinement.final_answer, truth),
        changed=refinement.final_steps != refinement.original_steps,
    )


def transition_rates(outcomes: Sequence[RefineOutcome]) -> dict[str, float | int | None]:
    """The papers' refinement metrics: share of wrong solutions turned right (w->c), right turned wrong (c->w)."""
    wrong = [o for o in outcomes if not o.correct_before]
    right = [o for o in outcomes if o.correct_before]
    w2c = sum(o.correct_after for o in wrong)
    c2w = sum(not o.correct_after for o in right)
    return {
        "items": len(outcomes),
        "wrong_before": len(wrong),
        "right_before": len(right),
        "w_to_c": w2c,
        "c_to_w": c2w,
        "w_to_c_rate": w2c / len(wrong) if wrong else None,
        "c_to_w_rate": c2w / len(right) if right else None,
        "accuracy_before": len(right) / len(outcomes) if outcomes else None,
        "accuracy_after": sum(o.correct_after for o in outcomes) / len(outcomes) if outcomes else None,
    }
