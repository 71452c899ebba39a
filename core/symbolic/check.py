"""The symbolic checker's verdicts on steps and solutions, and the combined critic built from them.

A step is "wrong" only when a claimed equality is definitely false under every plausible reading
(rounding, percentages, pi approximations, run-on chains); "verified" when at least one claim was
checked and none failed; otherwise "unchecked". Anything that cannot be read is never an accusation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.symbolic.claims import Claim, find_claims
from core.types import NO_ERROR, CritiqueResult, StepCheck


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


def with_checker_verdicts(result: CritiqueResult, answer: str | None = None) -> CritiqueResult:
    """The combined critic: the checker's view on every step, and a step it proves wrong judged wrong.

    The first error becomes the earlier of the model's and the checker's; the model's own verdict stays in
    `model_verdict`, and the proof is the step's `check.detail`. Steps the checker only verified keep the model's
    verdict: right arithmetic does not make a step right.
    """
    from core.voting import verdicts_for

    checked = with_checks(result, answer)
    proven = next((s.index for s in checked.steps if s.check is not None and s.check.status == "wrong"), NO_ERROR)
    first = combined_first_error(result.first_error_step, proven)
    if first == result.first_error_step:
        return checked
    verdicts = verdicts_for(first, len(checked.steps))
    steps = [
        step.model_copy(update={"verdict": verdict, "model_verdict": step.model_verdict or step.verdict})
        for step, verdict in zip(checked.steps, verdicts, strict=True)
    ]
    status = result.parse_status if result.parse_status != "failed" else "partial"
    return checked.model_copy(update={"steps": steps, "first_error_step": first, "parse_status": status})


def combined_first_error(model_first_error: int | None, checker_first_error: int) -> int | None:
    """The combined critic's first wrong step: the checker's proven one, unless the model named an earlier one."""
    if checker_first_error == NO_ERROR:
        return model_first_error
    if model_first_error is None or model_first_error == NO_ERROR or model_first_error > checker_first_error:
        return checker_first_error
    return model_first_error
