"""The symbolic checker's verdicts on steps and solutions, and the combined critic built from them.

A step is "wrong" only when a claimed equality is definitely false under every plausible reading
(rounding, percentages, pi approximations, run-on chains); "verified" when at least one claim was
checked and none failed; otherwise "unchecked". Anything that cannot be read is never an accusation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.symbolic.claims import Claim, find_claims
from core.types import NO_ERROR, CritiqueResult, StepCheck, Verdict, VerdictSource


@dataclass
class SolutionCheck:
    """The checker's view of a whole solution."""

    steps: list[StepCheck]
    first_error_step: int = NO_ERROR
    final_answer_correct: bool | None = None
    claims: list[list[Claim]] = field(default_factory=list)


def check_step(text: str) -> StepCheck:
    """The checker's verdict on one step: wrong (a claim is definitely false), verified, or unchecked."""
    return step_check_from_claims(find_claims(text))


def step_check_from_claims(claims: Sequence[Claim]) -> StepCheck:
    false = [c for c in claims if c.status == "false"]
    true = [c for c in claims if c.status == "true"]
    if false:
        return StepCheck(status="wrong", detail="; ".join(c.describe() for c in false))
    if true:
        return StepCheck(status="verified", detail="; ".join(c.describe() for c in true))
    return StepCheck(status="unchecked", detail="")


def check_solution(steps: Sequence[str], answer: str | None = None) -> SolutionCheck:
    """Check every step; the first wrong step (1-based) or -1; the final answer against `answer` when known."""
    claims = [find_claims(step) for step in steps]
    checks = [step_check_from_claims(c) for c in claims]
    first_error = next((i for i, c in enumerate(checks, start=1) if c.status == "wrong"), NO_ERROR)
    final_correct = None
    if answer is not None and steps:
        from core.answers import answers_match, extract_final_answer

        stated = extract_final_answer("\n".join(steps))
        final_correct = answers_match(stated, answer) if stated is not None else None
    return SolutionCheck(checks, first_error, final_correct, claims)


def with_checks(result: CritiqueResult, answer: str | None = None) -> CritiqueResult:
    """A copy of a critique result whose steps carry the checker's view (`StepResult.check`), for badges."""
    checked = check_solution([step.text for step in result.steps], answer)
    steps = [step.model_copy(update={"check": check}) for step, check in zip(result.steps, checked.steps, strict=True)]
    return result.model_copy(update={"steps": steps})


def with_checker_verdicts(
    result: CritiqueResult, answer: str | None = None, *, forced_step: bool = False
) -> CritiqueResult:
    """The combined critic: the checker's view on every step, and the first step it proves wrong is the first error.

    The rule (checker first): a step the checker proves wrong is wrong, and the first such step is the first error
    even when the model judged an earlier step -1; the model's earlier -1 stays on its step as doubt (`model_verdict`
    "incorrect" and its `p_correct`, shown verdict "correct" where the checker verified the step, else "unchecked").
    Where the checker proves nothing the model's judgement stands. Steps the checker only verified keep the model's
    verdict: right arithmetic does not make a step right. Each judged step says where its verdict comes from
    (`verdict_source`). `forced_step`: the grammar forced the proven step's -1: that judgement is the checker's, the
    step keeps no confidence of the model's (its `model_verdict` is what the critique text says).
    """
    checked = with_checks(result, answer)
    proven = next((s.index for s in checked.steps if s.check is not None and s.check.status == "wrong"), NO_ERROR)
    first = checker_first_error(result.first_error_step, proven)
    steps = []
    for step in checked.steps:
        model = step.model_verdict or step.verdict
        status = step.check.status if step.check is not None else "unchecked"
        update: dict = {}
        if forced_step and step.index == proven:
            # The grammar wrote this -1, not the model: no judgement of its own here, and no confidence.
            verdict, source = _combined_verdict(step.index, first, proven, "unchecked", status)
            update["p_correct"] = None
        else:
            verdict, source = _combined_verdict(step.index, first, proven, model, status)
        update.update(verdict=verdict, model_verdict=model, verdict_source=source)
        steps.append(step.model_copy(update=update))
    status = result.parse_status if result.parse_status != "failed" or first is None else "partial"
    return checked.model_copy(update={"steps": steps, "first_error_step": first, "parse_status": status})


def _combined_verdict(
    index: int, first: int | None, proven: int, model: str, check: str
) -> tuple[Verdict, VerdictSource | None]:
    """One step's shown verdict and its source under the checker-first rule."""
    if first is None:
        return "unchecked", None
    if first != NO_ERROR and index > first:
        return "unchecked", None
    if index == first:
        if index == proven:
            return "incorrect", "both" if model == "incorrect" else "checker"
        return "incorrect", "model"
    # Before the first error (or no error at all).
    if model == "correct":
        return "correct", "both" if check == "verified" else "model"
    if check == "verified":
        return "correct", "checker"
    # The model doubted the step (a later proven step decided the first error) or never judged it.
    return "unchecked", "model" if model == "incorrect" else None


def checker_first_error(model_first_error: int | None, checker_first_error: int) -> int | None:
    """The combined critic's first wrong step: the checker's proven one when there is one, else the model's."""
    return model_first_error if checker_first_error == NO_ERROR else checker_first_error


def combined_first_error(model_first_error: int | None, checker_first_error: int) -> int | None:
    """The earlier rule, kept for comparison: the checker's proven step unless the model named an earlier one."""
    if checker_first_error == NO_ERROR:
        return model_first_error
    if model_first_error is None or model_first_error == NO_ERROR or model_first_error > checker_first_error:
        return checker_first_error
    return model_first_error
